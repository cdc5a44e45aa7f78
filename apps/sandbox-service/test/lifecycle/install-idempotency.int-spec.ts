import { DomainError, type InstallConnectionCommand } from '@athenic/contracts';
import { installConnectionId } from '@athenic/platform-crypto';
import { FakeProvider } from './fake-provider';
import { FAKE_TYPE, LifecycleHarness } from './harness';

// An install's connection id follows from its account and idempotency key (the credential values
// are sealed for it before the install runs): one key, one connection, one credential store, on
// every replica, and nobody's credentials deleted by an install that lost a race.

const outcome = async (work: Promise<{ connection: { id: string }; replayed: boolean }>) => {
  try {
    const reply = await work;
    return { id: reply.connection.id, replayed: reply.replayed };
  } catch (error) {
    return error instanceof DomainError ? `${error.code}: ${error.message}` : String(error);
  }
};

describe('installs keyed by their idempotency key (real Postgres, two replicas)', () => {
  const h = new LifecycleHarness('install-idempotency');

  beforeAll(() => h.start(), 60_000);
  afterAll(() => h.stop());
  afterEach(() => {
    h.credentials.gate = undefined;
    h.credentials.failNext = undefined;
    h.credentials.calls.length = 0;
  });

  const command = (
    account: string,
    key: string,
    more: Partial<InstallConnectionCommand> = {},
  ): InstallConnectionCommand =>
    ({
      account_id: account,
      mcp_server_id: FAKE_TYPE.id,
      title: 'keyed',
      config: {},
      sealed_credentials: { token: `sealed-for-${key}` },
      actor: 'test',
      idempotency_key: key,
      request_hash: 'hash-1',
      ...more,
    }) as InstallConnectionCommand;

  /** A way to hold every credential store until `release()`. */
  function holdStores(): () => void {
    let release!: () => void;
    h.credentials.gate = new Promise((resolve) => (release = resolve));
    return () => {
      h.credentials.gate = undefined;
      release();
    };
  }

  const records = (key: string) =>
    h.dataSource.query(
      `SELECT connection_id, response IS NULL AS pending FROM sandbox.idempotency_keys WHERE key = $1`,
      [key],
    );

  it('makes the connection installConnectionId(account, key); a retry answers it, another body is 409', async () => {
    const id = installConnectionId('acct-derived', 'key-1');
    const first = await outcome(h.parts.connections.install(command('acct-derived', 'key-1')));
    expect(first).toEqual({ id, replayed: false });
    expect(h.credentials.stored.get(id)).toEqual({ token: 'sealed-for-key-1' });
    expect(await outcome(h.parts.connections.install(command('acct-derived', 'key-1')))).toEqual({
      id,
      replayed: true,
    });
    expect(
      await outcome(
        h.parts.connections.install(command('acct-derived', 'key-1', { request_hash: 'hash-2' })),
      ),
    ).toBe(
      'idempotency_conflict: This Idempotency-Key was used with a different request; use a new key for a new install.',
    );
    // Another key, another connection; the same key for another account, another one again.
    const other = await outcome(h.parts.connections.install(command('acct-derived', 'key-2')));
    expect(other).toEqual({ id: installConnectionId('acct-derived', 'key-2'), replayed: false });
    const elsewhere = await outcome(h.parts.connections.install(command('acct-other', 'key-1')));
    expect(elsewhere).toEqual({ id: installConnectionId('acct-other', 'key-1'), replayed: false });
    expect(h.credentials.calls).toEqual([
      `store ${id}`,
      `store ${installConnectionId('acct-derived', 'key-2')}`,
      `store ${installConnectionId('acct-other', 'key-1')}`,
    ]);
  });

  it('two installs with one key at once, on two replicas: one connection, its credentials stored once', async () => {
    const b = h.assemble(new FakeProvider(), 'replica-b');
    const id = installConnectionId('acct-race', 'race-1');
    const release = holdStores();
    const first = outcome(h.parts.connections.install(command('acct-race', 'race-1')));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await records('race-1')).toEqual([{ connection_id: id, pending: true }]);
    const second = outcome(b.connections.install(command('acct-race', 'race-1')));
    await new Promise((resolve) => setTimeout(resolve, 200));
    release();
    expect(await Promise.all([first, second])).toEqual([
      { id, replayed: false },
      { id, replayed: true },
    ]);
    expect(h.credentials.calls).toEqual([`store ${id}`]);
    expect(h.credentials.stored.get(id)).toEqual({ token: 'sealed-for-race-1' });
    expect((await h.parts.store.list('acct-race')).map((row) => row.id)).toEqual([id]);
    expect(await records('race-1')).toEqual([{ connection_id: id, pending: false }]);
  });

  it('another body with the key of an install still running: 409 at once, the credentials stay the first one’s', async () => {
    const id = installConnectionId('acct-race-2', 'race-2');
    const release = holdStores();
    const first = outcome(h.parts.connections.install(command('acct-race-2', 'race-2')));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const other = await outcome(
      h.parts.connections.install(
        command('acct-race-2', 'race-2', {
          request_hash: 'hash-2',
          sealed_credentials: { token: 'someone-else' },
        }),
      ),
    );
    expect(other).toMatch(/^idempotency_conflict: /);
    release();
    expect(await first).toEqual({ id, replayed: false });
    expect(h.credentials.stored.get(id)).toEqual({ token: 'sealed-for-race-2' });
    expect(h.credentials.calls).toEqual([`store ${id}`]);
  });

  it('an install that fails lets go of its key: the one waiting on it runs itself', async () => {
    const id = installConnectionId('acct-retry', 'retry-1');
    const release = holdStores();
    h.credentials.failNext = new DomainError('validation_failed', 'refused values');
    const first = outcome(h.parts.connections.install(command('acct-retry', 'retry-1')));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = outcome(h.parts.connections.install(command('acct-retry', 'retry-1')));
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    expect(await first).toBe('validation_failed: refused values');
    expect(await second).toEqual({ id, replayed: false });
    expect(h.credentials.calls).toEqual([`store ${id}`, `store ${id}`]);
  });

  it('a key reused after its record expired, its connection still there: 409 naming it, nothing touched; after a delete the key makes the same id again', async () => {
    const id = installConnectionId('acct-expired', 'old-key');
    expect(await outcome(h.parts.connections.install(command('acct-expired', 'old-key')))).toEqual({
      id,
      replayed: false,
    });
    await h.dataSource.query(
      `UPDATE sandbox.idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'old-key'`,
    );
    h.credentials.calls.length = 0;
    expect(
      await outcome(
        h.parts.connections.install(
          command('acct-expired', 'old-key', { sealed_credentials: { token: 'new-values' } }),
        ),
      ),
    ).toBe(
      `idempotency_conflict: This Idempotency-Key made connection ${id}, which still exists (the key is remembered for 24 hours, the connection's id for as long as it exists); use a new key for a new install.`,
    );
    expect(h.credentials.calls).toEqual([]);
    expect(h.credentials.stored.get(id)).toEqual({ token: 'sealed-for-old-key' });
    expect(await records('old-key')).toEqual([]);
    // Deleted, the connection takes its record with it: the key is a new install of the same id.
    await h.parts.connections.delete({ id, account_id: 'acct-expired', actor: 't' } as never);
    expect(
      await outcome(
        h.parts.connections.install(
          command('acct-expired', 'old-key', { sealed_credentials: { token: 'new-values' } }),
        ),
      ),
    ).toEqual({ id, replayed: false });
    expect(h.credentials.stored.get(id)).toEqual({ token: 'new-values' });
    expect((await h.parts.store.list('acct-expired')).map((row) => row.id)).toEqual([id]);
  });

  it('waits for a running install only so long (operation_in_progress); takes over an abandoned one', async () => {
    const id = installConnectionId('acct-claimed', 'claimed-1');
    // A claim whose install never answers: its replica died mid-install.
    await h.parts.lifecycle.claimInstall({
      accountId: 'acct-claimed',
      key: 'claimed-1',
      requestHash: 'hash-1',
      connectionId: id,
    });
    const started = Date.now();
    expect(await outcome(h.parts.connections.install(command('acct-claimed', 'claimed-1')))).toBe(
      'operation_in_progress: An install with this Idempotency-Key is still in progress; try again in a moment.',
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(3900);
    expect(h.credentials.calls).toEqual([]);
    await h.dataSource.query(
      `UPDATE sandbox.idempotency_keys SET created_at = now() - interval '61 seconds' WHERE key = 'claimed-1'`,
    );
    expect(
      await outcome(h.parts.connections.install(command('acct-claimed', 'claimed-1'))),
    ).toEqual({ id, replayed: false });
    expect(await records('claimed-1')).toEqual([{ connection_id: id, pending: false }]);
  });

  it('a command without any key gets a random id, as before', async () => {
    const reply = await outcome(
      h.parts.connections.install(
        command('acct-keyless', 'unused', { idempotency_key: undefined }),
      ),
    );
    expect(reply).toMatchObject({ replayed: false });
    expect((reply as { id: string }).id).toMatch(/^[0-9a-f-]{36}$/);
    expect((reply as { id: string }).id.charAt(14)).toBe('4');
  });
});
