import {
  CredentialPublicKeyGet,
  CredentialSetReveal,
  CredentialSetStore,
  DomainError,
  RegistryServerList,
} from '@athenic/contracts';
import { BusClient } from '@athenic/messaging';
import {
  CONNECTION_CREDENTIALS_PURPOSE,
  generateRecipientKeyPair,
  seal,
  signFields,
  unseal,
} from '@athenic/platform-crypto';
import {
  createTestInfrastructure,
  queryDatabase,
  type TestInfrastructure,
  TestPlatform,
} from '@athenic/testing';
import { randomUUID } from 'node:crypto';

/** Plays the gateway (sealing values) and the sandbox service (revealing them) on a real bus. */
describe('credential store: sealing, validation, envelope encryption, reveal', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  /** The sandbox service's client (stores, reveals, deletes) and the gateway's (public key, catalog). */
  let bus: BusClient;
  let gateway: BusClient;
  let publicJwk: Record<string, unknown>;

  beforeAll(async () => {
    infra = await createTestInfrastructure('credentials');
    platform = await new TestPlatform(infra, {
      services: ['registry-service', 'credential-service'],
    }).start();
    bus = new BusClient({ url: infra.amqpUrl, owner: 'sandbox', requestTimeoutMs: 5000 });
    gateway = new BusClient({ url: infra.amqpUrl, owner: 'gateway', requestTimeoutMs: 5000 });
    await bus.connect();
    await gateway.connect();
    publicJwk = (await gateway.send(CredentialPublicKeyGet, {})).jwk;
  });

  afterAll(async () => {
    await bus?.onApplicationShutdown();
    await gateway?.onApplicationShutdown();
    await platform?.stop();
    await infra?.dispose();
  });

  async function sealAll(
    values: Record<string, string>,
    account: string,
    connection: string,
  ): Promise<Record<string, string>> {
    return Object.fromEntries(
      await Promise.all(
        Object.entries(values).map(
          async ([k, v]) =>
            [
              k,
              await seal(v, publicJwk, {
                account,
                connection,
                purpose: CONNECTION_CREDENTIALS_PURPOSE,
              }),
            ] as const,
        ),
      ),
    );
  }

  async function store(
    accountId: string,
    connectionId: string,
    serverId: string,
    values: Record<string, string>,
  ) {
    return bus.send(CredentialSetStore, {
      account_id: accountId,
      connection_id: connectionId,
      mcp_server_id: serverId,
      sealed_values: await sealAll(values, accountId, connectionId),
      actor: 'service-role',
    });
  }

  async function reveal(accountId: string, connectionId: string, secret = platform.internalSecret) {
    const recipient = await generateRecipientKeyPair();
    const fields = {
      account_id: accountId,
      connection_id: connectionId,
      requester: 'sandbox-service',
      recipient_jwk: recipient.publicJwk as Record<string, unknown>,
      requested_at: new Date().toISOString(),
    };
    const reply = await bus.send(CredentialSetReveal, {
      ...fields,
      proof: signFields(secret, 'credential-reveal', fields),
    });
    return JSON.parse(await unseal(reply.sealed, recipient.privateKey)).values as Record<
      string,
      string
    >;
  }

  /**
   * Values for every key of a schema: Unicode everywhere, the largest allowed in one of them. A
   * place to connect to (`x-egress-target`) is a connection string to a public host, its Unicode
   * in the password.
   */
  function valuesFor(schema: {
    properties: Record<
      string,
      { maxLength: number; contentMediaType?: string; 'x-egress-target'?: boolean }
    >;
  }): Record<string, string> {
    const values: Record<string, string> = {};
    Object.entries(schema.properties).forEach(([key, property], i) => {
      const base = property.contentMediaType
        ? JSON.stringify({ token: `ünï-${key}-🔑` })
        : property['x-egress-target']
          ? `postgresql://user:vålue-${key}-密钥-🔑@db.example.com:5432/db`
          : `vålue-${key}-密钥-🔑`;
      // The first plain field is filled up to the platform's cap: 8 KiB of UTF-8.
      values[key] =
        i === 0 && !property.contentMediaType
          ? base + 'x'.repeat(8192 - Buffer.byteLength(base))
          : base;
    });
    return values;
  }

  it('round-trips the credential shape of every shipped server type, Unicode and the largest values included', async () => {
    const { data } = await gateway.send(RegistryServerList, {});
    expect(data).toHaveLength(12);
    for (const entry of data) {
      const schema = entry.credential_schema as {
        properties: Record<string, { maxLength: number }>;
      };
      const values = valuesFor(schema as never);
      const connectionId = randomUUID();
      const stored = await store('acct-a', connectionId, entry.id, values);
      expect(stored.keys).toEqual(Object.keys(values).sort());
      expect(await reveal('acct-a', connectionId)).toEqual(values);
    }
  });

  it('stores only ciphertext: the values appear in no column', async () => {
    const canary = `canary-${randomUUID()}`;
    const connectionId = randomUUID();
    await store('acct-a', connectionId, 'github-server', { github_token: canary });
    const rows = await queryDatabase(
      infra.databaseUrl,
      `SELECT * FROM credential.credential_sets WHERE connection_id = $1`,
      [connectionId],
    );
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(canary);
    expect((rows[0].ciphertext as Buffer).includes(Buffer.from(canary))).toBe(false);
    expect(rows[0].key_version).toBe(1);
  });

  it.each([
    [
      'a missing required key',
      'slack-server',
      { slack_team_id: 'T1' },
      'provided_credential_schema.slack_bot_token is required',
    ],
    [
      'an unknown key',
      'github-server',
      { github_token: 'x', surprise: 'y' },
      'provided_credential_schema.surprise is not a credential of this server type',
    ],
    [
      'an oversized value',
      'github-server',
      { github_token: 'x'.repeat(8193) },
      'provided_credential_schema.github_token must be at most 8 KiB',
    ],
    [
      'an empty value',
      'github-server',
      { github_token: '' },
      'provided_credential_schema.github_token must not be empty',
    ],
    [
      'JSON text that is not JSON',
      'google-drive-server',
      { google_oauth_credentials: 'not json' },
      'provided_credential_schema.google_oauth_credentials must be JSON text of an object',
    ],
  ])('refuses %s, naming the key, and stores nothing', async (_what, serverId, values, message) => {
    const connectionId = randomUUID();
    const error = await store(
      'acct-a',
      connectionId,
      serverId,
      values as Record<string, string>,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe('validation_failed');
    expect((error as DomainError).details ?? [(error as DomainError).message]).toEqual(
      expect.arrayContaining([expect.stringContaining(message)]),
    );
    expect(
      await queryDatabase(
        infra.databaseUrl,
        `SELECT 1 FROM credential.credential_sets WHERE connection_id = $1`,
        [connectionId],
      ),
    ).toEqual([]);
  });

  it('refuses a plaintext value on the bus', async () => {
    const error = await bus
      .send(CredentialSetStore, {
        account_id: 'acct-a',
        connection_id: randomUUID(),
        mcp_server_id: 'github-server',
        sealed_values: { github_token: 'plain-text-token' },
        actor: 'service-role',
      })
      .catch((e: unknown) => e);
    expect((error as DomainError).code).toBe('validation_failed');
    expect((error as DomainError).message).toContain(
      "provided_credential_schema.github_token must be sealed with the credential service's public key",
    );
  });

  it('refuses a sealed value anywhere but the account, connection and purpose it was sealed for', async () => {
    const connectionId = randomUUID();
    const attempt = async (
      binding: Parameters<typeof seal>[2],
      account = 'acct-a',
      connection = connectionId,
    ) =>
      bus
        .send(CredentialSetStore, {
          account_id: account,
          connection_id: connection,
          mcp_server_id: 'github-server',
          sealed_values: { github_token: await seal('ghp_bound', publicJwk, binding) },
          actor: 'service-role',
        })
        .then(
          () => 'stored',
          (e: DomainError) => e.message,
        );
    const purpose = CONNECTION_CREDENTIALS_PURPOSE;
    expect(await attempt({ account: 'acct-b', purpose })).toBe(
      'provided_credential_schema.github_token is refused: it was sealed for another account.',
    );
    expect(await attempt({ account: 'acct-a', connection: randomUUID(), purpose })).toBe(
      "provided_credential_schema.github_token is refused: it was sealed for another connection (seal it with ath_cid: at install installConnectionId(account, Idempotency-Key) of @athenic/platform-crypto, sending that Idempotency-Key; afterwards the connection's id).",
    );
    expect(await attempt({ account: 'acct-a', purpose: 'something-else' })).toBe(
      'provided_credential_schema.github_token is refused: it was sealed for another purpose.',
    );
    expect(await attempt(undefined)).toContain('it is not bound to an account');
    // Bound to the account only (how install values were sealed before they named the
    // connection the install makes): refused, saying how to seal it.
    expect(await attempt({ account: 'acct-a', purpose })).toBe(
      "provided_credential_schema.github_token is refused: it is not bound to a connection (seal it with ath_cid: at install installConnectionId(account, Idempotency-Key) of @athenic/platform-crypto, sending that Idempotency-Key; afterwards the connection's id).",
    );
    expect(await attempt({ account: 'acct-a', connection: connectionId, purpose })).toBe('stored');
  });

  it('refuses an unknown server type with not_found', async () => {
    await expect(store('acct-a', randomUUID(), 'no-such-server', {})).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('reveals only to platform services: a bad or stale proof is forbidden', async () => {
    const connectionId = randomUUID();
    await store('acct-a', connectionId, 'github-server', { github_token: 'secret' });
    await expect(
      reveal('acct-a', connectionId, 'not-the-internal-secret-at-all-0123456789'),
    ).rejects.toMatchObject({ code: 'forbidden' });
    const recipient = await generateRecipientKeyPair();
    const fields = {
      account_id: 'acct-a',
      connection_id: connectionId,
      requester: 'sandbox-service',
      recipient_jwk: recipient.publicJwk as Record<string, unknown>,
      requested_at: new Date(Date.now() - 10 * 60_000).toISOString(),
    };
    await expect(
      bus.send(CredentialSetReveal, {
        ...fields,
        proof: signFields(platform.internalSecret, 'credential-reveal', fields),
      }),
    ).rejects.toMatchObject({
      code: 'forbidden',
      message: 'The reveal request is stale; sign a fresh one.',
    });
  });

  it("does not reveal another account's credentials", async () => {
    const connectionId = randomUUID();
    await store('acct-a', connectionId, 'github-server', { github_token: 'secret' });
    await expect(reveal('acct-b', connectionId)).rejects.toMatchObject({ code: 'not_found' });
  });

  it("fails closed when a ciphertext is copied into another connection's row", async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    await store('acct-a', a, 'github-server', { github_token: 'token-a' });
    await store('acct-a', b, 'github-server', { github_token: 'token-b' });
    await queryDatabase(
      infra.databaseUrl,
      `UPDATE credential.credential_sets AS t SET ciphertext = s.ciphertext, wrapped_key = s.wrapped_key
       FROM credential.credential_sets AS s WHERE s.connection_id = $1 AND t.connection_id = $2`,
      [a, b],
    );
    await expect(reveal('acct-a', b)).rejects.toMatchObject({ code: 'internal_error' });
    await platform
      .service('credential-service')
      .waitForLog((l) => String(l.json?.msg ?? '').includes('failed authentication'), 5000);
    expect(await reveal('acct-a', a)).toEqual({ github_token: 'token-a' });
  });

  it('fails closed on a tampered byte', async () => {
    const connectionId = randomUUID();
    await store('acct-a', connectionId, 'github-server', { github_token: 'tamper-me' });
    await queryDatabase(
      infra.databaseUrl,
      `UPDATE credential.credential_sets SET ciphertext = overlay(ciphertext placing decode(lpad(to_hex(get_byte(ciphertext, 20) # 1), 2, '0'), 'hex') from 21 for 1) WHERE connection_id = $1`,
      [connectionId],
    );
    await expect(reveal('acct-a', connectionId)).rejects.toMatchObject({ code: 'internal_error' });
  });

  it('destroys the credentials and their wrapped data key on delete, idempotently, and audits every step without values', async () => {
    const connectionId = randomUUID();
    await store('acct-a', connectionId, 'github-server', { github_token: 'shred-me' });
    await reveal('acct-a', connectionId);
    const { CredentialSetDelete } = await import('@athenic/contracts');
    expect(
      await bus.send(CredentialSetDelete, {
        account_id: 'acct-a',
        connection_id: connectionId,
        actor: 'service-role',
      }),
    ).toEqual({
      connection_id: connectionId,
      deleted: true,
    });
    expect(
      await bus.send(CredentialSetDelete, {
        account_id: 'acct-a',
        connection_id: connectionId,
        actor: 'service-role',
      }),
    ).toEqual({
      connection_id: connectionId,
      deleted: false,
    });
    await expect(reveal('acct-a', connectionId)).rejects.toMatchObject({ code: 'not_found' });
    const audit = await queryDatabase<{ action: string; actor: string; details: unknown }>(
      infra.databaseUrl,
      `SELECT action, actor, details FROM credential.audit_log WHERE subject = $1 ORDER BY id`,
      [connectionId],
    );
    expect(audit.map((a) => [a.action, a.actor])).toEqual([
      ['credential-set.stored', 'service-role'],
      ['credential-set.revealed', 'sandbox-service'],
      ['credential-set.deleted', 'service-role'],
    ]);
    expect(JSON.stringify(audit)).not.toContain('shred-me');
  });
});
