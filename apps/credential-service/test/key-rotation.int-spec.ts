import {
  CredentialKeysRetire,
  CredentialKeysRotate,
  CredentialKeysStatus,
  CredentialPublicKeyGet,
  CredentialSetReveal,
  CredentialSetStore,
  type KeyStatusReply,
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
  eventually,
  queryDatabase,
  type TestInfrastructure,
  TestPlatform,
} from '@athenic/testing';
import { Client } from 'pg';
import { randomBytes, randomUUID } from 'node:crypto';

const SETS = 300;

describe('master keys: rotation online, resumable, retirement, and start-up checks', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  /** The gateway's client (keys, public key) and the sandbox service's (stores, reveals). */
  let bus: BusClient;
  let sandbox: BusClient;
  const v2 = `v2:${randomBytes(32).toString('base64')}`;
  const stored = new Map<string, string>();

  const credentialService = () => platform.service('credential-service');

  async function reveal(connectionId: string): Promise<string> {
    const recipient = await generateRecipientKeyPair();
    const fields = {
      account_id: 'acct-rotate',
      connection_id: connectionId,
      requester: 'sandbox-service',
      recipient_jwk: recipient.publicJwk as Record<string, unknown>,
      requested_at: new Date().toISOString(),
    };
    const reply = await sandbox.send(CredentialSetReveal, {
      ...fields,
      proof: signFields(platform.internalSecret, 'credential-reveal', fields),
    });
    return JSON.parse(await unseal(reply.sealed, recipient.privateKey)).values.github_token;
  }

  async function restartCredentialService(
    env: Record<string, string>,
    kill = false,
  ): Promise<void> {
    if (kill) await credentialService().kill();
    else await credentialService().stop();
    await credentialService().start(env);
  }

  beforeAll(async () => {
    infra = await createTestInfrastructure('rotation');
    platform = await new TestPlatform(infra, {
      services: ['registry-service', 'credential-service'],
    }).start();
    bus = new BusClient({ url: infra.amqpUrl, owner: 'gateway', requestTimeoutMs: 10000 });
    sandbox = new BusClient({ url: infra.amqpUrl, owner: 'sandbox', requestTimeoutMs: 10000 });
    await bus.connect();
    await sandbox.connect();
    const { jwk } = await bus.send(CredentialPublicKeyGet, {});
    for (let i = 0; i < SETS; i++) {
      const connectionId = randomUUID();
      const token = `token-${i}-${randomUUID()}`;
      await sandbox.send(CredentialSetStore, {
        account_id: 'acct-rotate',
        connection_id: connectionId,
        mcp_server_id: 'github-server',
        sealed_values: {
          github_token: await seal(token, jwk, {
            account: 'acct-rotate',
            connection: connectionId,
            purpose: CONNECTION_CREDENTIALS_PURPOSE,
          }),
        },
        actor: 'service-role',
      });
      stored.set(connectionId, token);
    }
  });

  afterAll(async () => {
    await bus?.onApplicationShutdown();
    await sandbox?.onApplicationShutdown();
    await platform?.stop();
    await infra?.dispose();
  });

  it('refuses to start with a master key that is not the one the data was encrypted with', async () => {
    await credentialService().stop();
    const wrong = `v1:${randomBytes(32).toString('base64')}`;
    await expect(credentialService().start({ CREDENTIAL_KEYS: wrong })).rejects.toThrow(
      'CREDENTIAL_KEYS v1 is not the key this database was encrypted with; restore the original v1',
    );
  });

  it('refuses to start without a master key that still wraps data', async () => {
    await expect(credentialService().start({ CREDENTIAL_KEYS: v2 })).rejects.toThrow(
      'Stored credentials are wrapped by master key v1, which CREDENTIAL_KEYS does not hold; add it back',
    );
  });

  it('refuses to start with a malformed CREDENTIAL_KEYS, naming it', async () => {
    await expect(credentialService().start({ CREDENTIAL_KEYS: 'v1:short' })).rejects.toThrow(
      /CREDENTIAL_KEYS .*must be a comma-separated list/,
    );
  });

  it('rotates every data key from v1 to v2 while reads go on, resuming after a crash mid-way', async () => {
    await credentialService().start({ CREDENTIAL_KEYS: `${platform.credentialKeys},${v2}` });
    const status = await bus.send(CredentialKeysStatus, {});
    expect(status.current_version).toBe(2);
    expect(status.versions.find((v) => v.version === 1)?.credential_sets).toBe(SETS + 1); // + the transport key

    // Hold one row so the rotation cannot finish, then kill the service in the middle of it.
    const blocker = new Client({ connectionString: infra.databaseUrl });
    await blocker.connect();
    await blocker.query('BEGIN');
    const [held] = (
      await blocker.query(
        `SELECT connection_id FROM credential.credential_sets ORDER BY id DESC LIMIT 1 FOR UPDATE`,
      )
    ).rows;
    // Reads go on throughout; until the deliberate crash, not one may fail.
    let reads = 0;
    let failedReads = 0;
    let reading = true;
    let crashed = false;
    const ids = [...stored.keys()];
    const reader = (async () => {
      while (reading) {
        const id = ids[reads % ids.length];
        try {
          if ((await reveal(id)) !== stored.get(id)) failedReads++;
        } catch (error) {
          if (!crashed) throw error;
        }
        reads++;
      }
    })();
    try {
      const started = await bus.send(CredentialKeysRotate, { actor: 'service-role' });
      expect(started.rotation).toMatchObject({
        status: 'running',
        target_version: 2,
        total: SETS + 1,
      });
      await eventually(async () => {
        const s = await bus.send(CredentialKeysStatus, {});
        expect(s.rotation!.done).toBe(SETS);
      });
      const readsBeforeCrash = reads;
      expect(readsBeforeCrash).toBeGreaterThan(10);
      crashed = true;
      await restartCredentialService({}, true);
      expect((await bus.send(CredentialKeysStatus, {})).rotation).toMatchObject({
        status: 'running',
        done: SETS,
      });
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    const done: KeyStatusReply = await eventually(async () => {
      const s = await bus.send(CredentialKeysStatus, {});
      expect(s.rotation!.status).toBe('completed');
      return s;
    });
    reading = false;
    await reader;
    expect(held).toBeDefined();
    expect(reads).toBeGreaterThan(10);
    expect(failedReads).toBe(0);
    expect(done.versions).toEqual([
      { version: 1, status: 'active', credential_sets: 0 },
      { version: 2, status: 'current', credential_sets: SETS + 1 },
    ]);
    const byVersion = await queryDatabase<{ key_version: number; n: string }>(
      infra.databaseUrl,
      `SELECT key_version, count(*) AS n FROM credential.credential_sets GROUP BY key_version`,
    );
    expect(byVersion).toEqual([{ key_version: 2, n: String(SETS) }]);
    for (const [id, token] of stored) expect(await reveal(id)).toBe(token);
  });

  it('is idempotent: rotating again when everything is on the current key changes nothing', async () => {
    const again = await bus.send(CredentialKeysRotate, { actor: 'service-role' });
    await eventually(async () =>
      expect((await bus.send(CredentialKeysStatus, {})).rotation).toMatchObject({
        status: 'completed',
        total: 0,
      }),
    );
    expect(again.current_version).toBe(2);
  });

  it('retires the old key once it wraps nothing, refuses to retire the current one, and records both', async () => {
    await expect(
      bus.send(CredentialKeysRetire, { version: 2, actor: 'service-role' }),
    ).rejects.toMatchObject({ code: 'invalid_transition' });
    const retired = await bus.send(CredentialKeysRetire, { version: 1, actor: 'service-role' });
    expect(retired.versions.find((v) => v.version === 1)?.status).toBe('retired');
    const audit = await queryDatabase<{ action: string }>(
      infra.databaseUrl,
      `SELECT action FROM credential.audit_log WHERE action LIKE 'keys.%' ORDER BY id`,
    );
    expect(audit.map((a) => a.action)).toEqual([
      'keys.rotation-started',
      'keys.rotation-completed',
      'keys.rotation-started',
      'keys.rotation-completed',
      'keys.retired',
    ]);
  });

  it('refuses to retire a key that still wraps data', async () => {
    // Back to v2 only wrapping... put one set back on a fresh v3 to show the refusal on v2.
    const v3 = `v3:${randomBytes(32).toString('base64')}`;
    await restartCredentialService({ CREDENTIAL_KEYS: `${platform.credentialKeys},${v2},${v3}` });
    await expect(
      bus.send(CredentialKeysRetire, { version: 2, actor: 'service-role' }),
    ).rejects.toMatchObject({
      code: 'invalid_transition',
      message: expect.stringContaining('v2 still wraps'),
    });
  });
});
