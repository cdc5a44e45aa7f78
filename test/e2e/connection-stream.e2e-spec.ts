import {
  ApiClient,
  createTestInfrastructure,
  eventually,
  EventStreamReader,
  type StreamEvent,
  type TestInfrastructure,
  TestPlatform,
} from '@athenic/testing';

const ACCOUNT = 'acct-stream';
const OTHER = 'acct-stream-other';
const CAPPED = 'acct-stream-capped';
const PER_ACCOUNT = 6;

/** The status events of one connection, as the events route shows them. */
function history(reader: EventStreamReader, connectionId: string) {
  return reader
    .of('status')
    .filter((e) => e.data.connection_id === connectionId)
    .map(({ data: { at, from, to, reason } }) => ({ at, from, to, reason }));
}

function statuses(reader: EventStreamReader, connectionId: string): string[] {
  return history(reader, connectionId).map((e) => e.to);
}

/** The events after the one with `id` that carry an id of their own. */
function after(events: StreamEvent[], id: string): StreamEvent[] {
  const at = events.findIndex((e) => e.id === id);
  if (at < 0) throw new Error(`no event ${id}`);
  return events.slice(at + 1).filter((e) => e.id);
}

// The live event stream of an account's connections, on the real platform: the gateway runs as
// two worker processes, each fed from the bus by its own queue.
describe('the connection event stream (server-sent events)', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let admin: ApiClient;
  let keyA: string;
  let keyB: string;
  let streamUrl: string;
  const readers: EventStreamReader[] = [];

  async function open(key: string, query = '', lastEventId?: string): Promise<EventStreamReader> {
    const reader = await EventStreamReader.open(`${streamUrl}${query}`, key, { lastEventId });
    readers.push(reader);
    return reader;
  }

  beforeAll(async () => {
    infra = await createTestInfrastructure('conn-stream');
    platform = await new TestPlatform(infra, {
      env: { GATEWAY_WORKERS: '2', STREAM_MAX_PER_ACCOUNT: String(PER_ACCOUNT) },
    }).start();
    admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    streamUrl = `${platform.baseUrl}/functions/v1/mcp-connections/stream`;
    const key = async (account: string) =>
      (await admin.post('/functions/v1/api-keys', { account_id: account, name: 'stream' })).body
        .key as string;
    keyA = await key(ACCOUNT);
    keyB = await key(OTHER);
    // The platform is healthy once one worker answers; wait until both consume the bus (each
    // logs its bus server's start) and answer requests (requests in parallel go to both).
    await eventually(
      () =>
        expect(
          platform
            .service('api-gateway')
            .lines.filter((l) => l.raw.includes('Nest microservice successfully started')),
        ).toHaveLength(2),
      { timeoutMs: 30_000 },
    );
    await eventually(
      async () => {
        const answers = await Promise.all(
          [0, 1, 2, 3].map(() => admin.withKey(keyA).get('/functions/v1/mcp-connections')),
        );
        expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
      },
      { timeoutMs: 30_000 },
    );
  }, 120_000);

  afterAll(async () => {
    await Promise.all(readers.map((r) => r.close()));
    await platform?.stop();
    await infra?.dispose();
  });

  it('streams install, running and stop to every stream of the account, on every worker, and to no other account', async () => {
    // Streams on separate connections: the primary hands connections to the workers in turn.
    const watchers = await Promise.all([0, 1, 2, 3].map(() => open(keyA)));
    const byService = await open(platform.serviceRoleKey, `?account_id=${ACCOUNT}`);
    const other = await open(keyB);
    for (const reader of [...watchers, byService, other]) {
      expect({ status: reader.status, error: reader.error }).toEqual({
        status: 200,
        error: undefined,
      });
      await eventually(() =>
        expect(reader.events[0]).toMatchObject({
          event: 'snapshot',
          data: { reason: 'initial', connections: [] },
        }),
      );
    }
    // Both workers serve some of this account's streams (each logs its pid when one opens).
    const opened = new RegExp(`Event stream opened for account ${ACCOUNT} in process (\\d+)`);
    const pids = new Set(
      platform
        .service('api-gateway')
        .lines.map((l) => opened.exec(l.raw)?.[1])
        .filter(Boolean),
    );
    expect(pids.size).toBe(2);

    const api = admin.withKey(keyA);
    const { id } = await api.install({ mcp_server_id: 'memory-server', title: 'Memory' });
    // Pushed to every stream of the account, whichever worker serves it: no one polls.
    for (const reader of [...watchers, byService])
      await eventually(() => expect(statuses(reader, id)).toContain('mcpRunning'), {
        timeoutMs: 60_000,
      });
    expect(statuses(watchers[0], id)).toEqual(expect.arrayContaining(['mcpDeploying']));

    // One client goes away while running; the connection is stopped meanwhile.
    const away = watchers[1];
    await away.close();
    const lastSeen = away.lastEventId()!;
    expect(away.events.find((e) => e.id === lastSeen)?.data.to).toBe('mcpRunning');
    expect((await api.post(`/functions/v1/mcp-connections/${id}/stop`)).status).toBe(202);
    await eventually(() => expect(statuses(watchers[0], id)).toContain('mcpStopped'), {
      timeoutMs: 30_000,
    });

    // The events carry exactly what the events route holds, in the same order.
    const route = await api.get(`/functions/v1/mcp-connections/${id}/events`);
    expect(history(watchers[0], id)).toEqual(route.body.data);
    for (const reader of [...watchers.slice(2), byService])
      await eventually(() => expect(history(reader, id)).toEqual(route.body.data));

    // Back with Last-Event-ID (on whichever worker): what it missed, and only that.
    const missed = after(watchers[0].events, lastSeen);
    expect(missed.map((e) => e.data.to)).toContain('mcpStopped');
    const resumed = await open(keyA, '', lastSeen);
    await eventually(() =>
      expect(resumed.events.map((e) => e.id)).toEqual(missed.map((e) => e.id)),
    );
    expect(resumed.of('snapshot')).toEqual([]);

    // An id the gateway does not hold: told so, with the current state.
    const lost = await open(keyA, '', '1-0123456789abcdef');
    await eventually(() =>
      expect(lost.events[0]).toMatchObject({
        event: 'snapshot',
        data: {
          reason: 'outside_replay_window',
          connections: [{ id, status: 'mcpStopped', account_id: ACCOUNT }],
        },
      }),
    );

    // The other account saw nothing of it, and may not ask for it.
    expect(JSON.stringify(other.events)).not.toContain(id);
    expect(other.of('status')).toEqual([]);
    const foreign = await open(keyB, `?account_id=${ACCOUNT}`);
    expect(foreign.status).toBe(403);
    expect(foreign.error).toMatchObject({ error: 'forbidden', message: expect.any(String) });
  });

  it('answers bad queries with a 400 and a missing key with a 401, as JSON', async () => {
    const noAccount = await open(platform.serviceRoleKey);
    expect(noAccount.status).toBe(400);
    expect(noAccount.error).toMatchObject({ error: 'validation_failed' });
    for (const query of ['?account_id=%00', `?account_id=${'a'.repeat(300)}`, '?account_id[]=x']) {
      const bad = await open(platform.serviceRoleKey, query);
      expect({ query, status: bad.status, error: bad.error?.error }).toEqual({
        query,
        status: 400,
        error: 'validation_failed',
      });
    }
    const anonymous = await fetch(streamUrl);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: string }).error).toBe('unauthorized');
  });

  it('refuses streams past the per-account limit with a 429, and frees the slot of a closed one', async () => {
    // Two workers hold at most PER_ACCOUNT each: one more than both is refused somewhere.
    const opened: EventStreamReader[] = [];
    let refused: EventStreamReader | undefined;
    for (let i = 0; i < 2 * PER_ACCOUNT + 1 && !refused; i++) {
      const reader = await open(platform.serviceRoleKey, `?account_id=${CAPPED}`);
      if (reader.status === 200) opened.push(reader);
      else refused = reader;
    }
    expect(refused?.status).toBe(429);
    expect(refused?.error).toMatchObject({ error: 'rate_limited', message: expect.any(String) });
    await Promise.all(opened.map((r) => r.close()));
    // Every slot is free again once the gateway has seen the clients go.
    await eventually(async () => {
      const again = await Promise.all(
        Array.from({ length: PER_ACCOUNT }, () =>
          open(platform.serviceRoleKey, `?account_id=${CAPPED}`),
        ),
      );
      await Promise.all(again.map((r) => r.close()));
      expect(again.map((r) => r.status)).toEqual(Array(PER_ACCOUNT).fill(200));
    });
  });
  // Last: it stops the gateway.
  it('ends every open stream with a last `closed` event when the gateway stops, which exits cleanly', async () => {
    // The earlier tests' streams are closed first: four more of account A could otherwise land on
    // a worker already holding STREAM_MAX_PER_ACCOUNT of them.
    await Promise.all(readers.splice(0).map((r) => r.close()));
    const open4 = await eventually(
      async () => {
        const opened = await Promise.all([0, 1, 2, 3].map(() => open(keyA)));
        if (opened.some((r) => r.status !== 200)) {
          await Promise.all(opened.map((r) => r.close()));
          throw new Error(`refused: ${JSON.stringify(opened.map((r) => r.error ?? r.status))}`);
        }
        return opened;
      },
      { timeoutMs: 30000 },
    );
    for (const reader of open4)
      // Generous: on a busy two-core host the first answer can take a while.
      await eventually(() => expect(reader.of('snapshot')).toHaveLength(1), { timeoutMs: 30000 });
    // Exit code 0: every worker closed within its deadline (an overrun exits 1).
    expect(await platform.service('api-gateway').stop()).toBe(0);
    for (const reader of open4) {
      await eventually(() => expect(reader.ended).toBe(true));
      expect(reader.events.at(-1)).toMatchObject({ event: 'closed', data: { reason: 'shutdown' } });
    }
  });
});
