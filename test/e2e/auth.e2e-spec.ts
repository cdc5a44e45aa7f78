import {
  ApiClient,
  createTestInfrastructure,
  eventually,
  type TestInfrastructure,
  TestPlatform,
} from '@athenic/testing';

describe('API keys and tenant isolation at the gateway', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let admin: ApiClient;
  let keyA: { id: string; key: string; created_at: string };

  beforeAll(async () => {
    infra = await createTestInfrastructure('auth');
    platform = await new TestPlatform(infra).start();
    admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    const created = await admin.post('/functions/v1/api-keys', {
      account_id: 'acct-a',
      name: 'first',
    });
    keyA = created.body;
  });

  afterAll(async () => {
    await platform?.stop();
    await infra?.dispose();
  });

  it('creates an account key shown once: high entropy, stored only as a hash', async () => {
    expect(keyA).toEqual({
      id: expect.any(String),
      account_id: 'acct-a',
      name: 'first',
      key: expect.stringMatching(/^ak_[A-Za-z0-9_-]{43}$/),
      created_at: expect.any(String),
    });
    const list = await admin.get('/functions/v1/api-keys?account_id=acct-a');
    expect(list.status).toBe(200);
    expect(list.body.data).toEqual([
      {
        id: keyA.id,
        account_id: 'acct-a',
        name: 'first',
        key_prefix: keyA.key.slice(0, 10),
        created_at: keyA.created_at,
        revoked_at: null,
      },
    ]);
    expect(JSON.stringify(list.body)).not.toContain(keyA.key);
  });

  it('lets an account key read the catalog and the public key', async () => {
    const asA = admin.withKey(keyA.key);
    expect((await asA.get('/functions/v1/mcp-servers')).status).toBe(200);
    const publicKey = await asA.get('/functions/v1/credentials/public-key');
    expect(publicKey.status).toBe(200);
    expect(publicKey.body).toEqual({
      kid: expect.any(String),
      jwk: expect.objectContaining({ kty: 'EC', crv: 'P-256', kid: publicKey.body.kid }),
    });
    expect(publicKey.body.jwk.d).toBeUndefined();
  });

  it.each([
    ['POST', '/functions/v1/api-keys', { account_id: 'acct-a', name: 'x' }],
    ['GET', '/functions/v1/api-keys?account_id=acct-a', undefined],
    ['DELETE', '/functions/v1/api-keys/00000000-0000-4000-8000-000000000000', undefined],
    ['GET', '/functions/v1/admin/credential-keys', undefined],
    ['POST', '/functions/v1/admin/credential-keys/rotate', undefined],
  ])('refuses an account key on the admin route %s %s with 403', async (method, path, body) => {
    const res = await admin.withKey(keyA.key).request(method, path, body);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      statusCode: 403,
      error: 'forbidden',
      message: 'This route needs the service role key.',
    });
  });

  it('checks 403 before the body: an account key with a malformed body on an admin route gets 403', async () => {
    const res = await admin.withKey(keyA.key).post('/functions/v1/api-keys', '{"broken": ');
    expect(res.status).toBe(403);
  });

  it('needs account_id with the service role key where a route takes one', async () => {
    const res = await admin.get('/functions/v1/api-keys');
    expect(res.status).toBe(400);
    expect(res.body.message).toBe('account_id is required with the service role key.');
  });

  it('answers 404 for a malformed or unknown key id', async () => {
    expect((await admin.delete('/functions/v1/api-keys/not-a-uuid')).status).toBe(404);
    expect(
      (await admin.delete('/functions/v1/api-keys/00000000-0000-4000-8000-000000000000')).status,
    ).toBe(404);
  });

  it('revokes a key: it stops working within 5 s, and revoking again is fine', async () => {
    const created = (
      await admin.post('/functions/v1/api-keys', { account_id: 'acct-b', name: 'short-lived' })
    ).body;
    const asB = admin.withKey(created.key);
    expect((await asB.get('/functions/v1/mcp-servers')).status).toBe(200);
    const revokedAt = Date.now();
    expect((await admin.delete(`/functions/v1/api-keys/${created.id}`)).status).toBe(204);
    await eventually(
      async () => expect((await asB.get('/functions/v1/mcp-servers')).status).toBe(401),
      { timeoutMs: 5000 },
    );
    expect(Date.now() - revokedAt).toBeLessThan(5000);
    expect((await admin.delete(`/functions/v1/api-keys/${created.id}`)).status).toBe(204);
    const list = await admin.get('/functions/v1/api-keys?account_id=acct-b');
    expect(list.body.data[0].revoked_at).toEqual(expect.any(String));
  });

  it('refuses a made-up account key and a malformed bearer with 401', async () => {
    expect(
      (await admin.withKey('ak_' + 'x'.repeat(43)).get('/functions/v1/mcp-servers')).status,
    ).toBe(401);
    const res = await admin
      .withKey(undefined)
      .get('/functions/v1/mcp-servers', { authorization: 'Basic abc' });
    expect(res.status).toBe(401);
  });

  it('reports master key status to the service role, with the transport key counted', async () => {
    const res = await admin.get('/functions/v1/admin/credential-keys');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      current_version: 1,
      versions: [{ version: 1, status: 'current', credential_sets: 1 }],
      rotation: null,
    });
    const rotate = await admin.post('/functions/v1/admin/credential-keys/rotate');
    expect(rotate.status).toBe(202);
    expect(rotate.body.rotation).toMatchObject({ target_version: 1, total: 0 });
    expect((await admin.post('/functions/v1/admin/credential-keys/1/retire')).status).toBe(409);
    expect((await admin.post('/functions/v1/admin/credential-keys/banana/retire')).status).toBe(
      404,
    );
  });
});
