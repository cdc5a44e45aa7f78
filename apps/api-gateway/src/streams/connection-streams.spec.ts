import type { ConnectionStatusChangedEvent } from '@athenic/contracts';
import { Logger } from '@nestjs/common';
import { createParser } from 'eventsource-parser';
import { once } from 'node:events';
import {
  type IncomingMessage,
  type Server,
  type ServerResponse,
  createServer,
  get,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ConnectionStreams,
  sseFrame,
  type StreamLimits,
  type StreamStart,
} from './connection-streams';

const LIMITS: StreamLimits = {
  perAccount: 2,
  perProcess: 3,
  bufferBytes: 4096,
  heartbeatMs: 60_000,
  replayEvents: 100,
  replayWindowMs: 60_000,
};

let seq = 0;
function status(accountId: string, to: ConnectionStatusChangedEvent['to'] = 'mcpRunning') {
  seq++;
  return {
    connection_id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    account_id: accountId,
    from: 'mcpDeploying',
    to,
    reason: `reason ${seq} ${'x'.repeat(100)}`,
    desired_state: 'running',
    at: new Date(1_700_000_000_000 + seq).toISOString(),
  } satisfies ConnectionStatusChangedEvent;
}

interface Received {
  events: { id?: string; event: string; data: any }[];
  res: IncomingMessage;
  ended: Promise<unknown>;
}

/**
 * A real HTTP server whose one route is a stream of `streams` (as the gateway's controller opens
 * it, with an empty first answer), and real clients of it.
 */
describe('ConnectionStreams on real sockets', () => {
  let streams: ConnectionStreams;
  let server: Server;
  let port: number;
  /** The server side of each stream, as it was attached. */
  const served: ServerResponse[] = [];
  let starts: StreamStart[];
  let holding: ((first: string) => void) | undefined;

  // The service's debug lines (a stream opened) are not this test's output.
  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(async () => {
    streams = new ConnectionStreams(LIMITS);
    starts = [];
    served.length = 0;
    server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      const account = url.searchParams.get('account')!;
      let start: StreamStart;
      try {
        start = streams.admit(account, req.headers['last-event-id'] as string | undefined);
      } catch (error) {
        res.writeHead(429).end(String((error as Error).message));
        return;
      }
      starts.push(start);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('retry: 3000\n\n');
      served.push(res);
      const client = streams.attach(account, res);
      // `?hold`: the first answer comes when the test says (as a snapshot read would).
      if (url.searchParams.has('hold'))
        holding = (first) => client.release([sseFrame('snapshot', { first }, undefined)]);
      else client.release(start.kind === 'replay' ? start.frames : []);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  afterEach(async () => {
    streams.beforeApplicationShutdown();
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  async function open(
    account: string,
    options: { lastEventId?: string; read?: boolean; hold?: boolean } = {},
  ): Promise<Received> {
    const request = get({
      host: '127.0.0.1',
      port,
      path: `/?account=${account}${options.hold ? '&hold' : ''}`,
      headers: options.lastEventId ? { 'last-event-id': options.lastEventId } : {},
    });
    const [res] = (await once(request, 'response')) as [IncomingMessage];
    const events: Received['events'] = [];
    const parser = createParser({
      onEvent: (m) =>
        events.push({ id: m.id, event: m.event ?? 'message', data: JSON.parse(m.data) }),
    });
    const ended = once(res, 'close');
    if (options.read === false) res.pause();
    else res.on('data', (chunk: Buffer) => parser.feed(chunk.toString('utf8')));
    return { events, res, ended };
  }

  /** Waits until the server has written and the client has parsed `count` events. */
  async function until(received: Received, count: number): Promise<void> {
    while (received.events.length < count) await once(received.res, 'data');
  }

  it("writes an account's events to its streams only, each with an id", async () => {
    const a = await open('acct-a');
    const b = await open('acct-b');
    const first = status('acct-a');
    streams.statusChanged(first);
    streams.statusChanged(status('acct-b'));
    streams.deleted({ connection_id: first.connection_id, account_id: 'acct-a', at: first.at });
    await until(a, 2);
    await until(b, 1);
    expect(a.events.map((e) => e.event)).toEqual(['status', 'deleted']);
    expect(a.events[0].data).toEqual({
      connection_id: first.connection_id,
      at: first.at,
      from: 'mcpDeploying',
      to: 'mcpRunning',
      reason: first.reason,
    });
    expect(a.events.every((e) => /^\d+-[0-9a-f]{16}$/.test(e.id ?? ''))).toBe(true);
    expect(b.events.map((e) => e.data.connection_id)).not.toContain(first.connection_id);
  });

  it('holds live events while the first answer is prepared, and sends them after it', async () => {
    const a = await open('acct-a', { hold: true });
    const live = status('acct-a');
    streams.statusChanged(live);
    holding!('current state');
    await until(a, 2);
    expect(a.events.map((e) => e.event)).toEqual(['snapshot', 'status']);
    expect(a.events[1].data.connection_id).toBe(live.connection_id);
  });

  it('sends a heartbeat (no id) to every open stream', async () => {
    streams.beforeApplicationShutdown();
    streams = new ConnectionStreams({ ...LIMITS, heartbeatMs: 20 });
    const a = await open('acct-a');
    await until(a, 2);
    expect(a.events.slice(0, 2).map((e) => [e.event, e.id])).toEqual([
      ['heartbeat', undefined],
      ['heartbeat', undefined],
    ]);
  });

  it('sends an event delivered twice by the bus once', async () => {
    const a = await open('acct-a');
    const event = status('acct-a');
    streams.statusChanged(event);
    streams.statusChanged(event);
    const second = status('acct-a');
    streams.statusChanged(second);
    await until(a, 2);
    expect(a.events.map((e) => e.data.connection_id)).toEqual([
      event.connection_id,
      second.connection_id,
    ]);
  });

  it('replays what a client missed after its Last-Event-ID, and nothing else', async () => {
    const a = await open('acct-a');
    streams.statusChanged(status('acct-a'));
    await until(a, 1);
    const lastSeen = a.events[0].id!;
    a.res.destroy();
    await a.ended;
    const missed = [status('acct-a', 'mcpStopped'), status('acct-a', 'mcpError')];
    for (const event of missed) streams.statusChanged(event);
    streams.statusChanged(status('acct-b'));
    const again = await open('acct-a', { lastEventId: lastSeen });
    await until(again, 2);
    expect(starts.at(-1)?.kind).toBe('replay');
    expect(again.events.map((e) => e.data.connection_id)).toEqual(
      missed.map((e) => e.connection_id),
    );
  });

  it('says a Last-Event-ID it does not hold (too old, or not an id at all) calls for the current state', () => {
    expect(streams.admit('acct-a', '1-0000000000000000')).toEqual({
      kind: 'snapshot',
      resumeId: undefined,
      reason: 'outside_replay_window',
    });
    expect(streams.admit('acct-a', 'x'.repeat(5000))).toMatchObject({
      reason: 'outside_replay_window',
    });
    streams.statusChanged(status('acct-b'));
    expect(streams.admit('acct-a', undefined)).toEqual({
      kind: 'snapshot',
      resumeId: expect.stringMatching(/^\d+-[0-9a-f]{16}$/),
      reason: 'initial',
    });
  });

  it('refuses streams past the per-account and per-process caps with rate_limited', async () => {
    await open('acct-a');
    await open('acct-a');
    expect(() => streams.admit('acct-a', undefined)).toThrow(
      expect.objectContaining({ code: 'rate_limited' }),
    );
    await open('acct-b');
    expect(() => streams.admit('acct-c', undefined)).toThrow(
      expect.objectContaining({
        code: 'rate_limited',
        message: expect.stringContaining('process'),
      }),
    );
    expect(streams.count()).toBe(3);
  });

  it('forgets a client that disconnects (its slot is free again)', async () => {
    const a = await open('acct-a');
    expect(streams.count('acct-a')).toBe(1);
    const serverSide = served[0];
    a.res.destroy();
    await once(serverSide, 'close');
    expect(streams.count()).toBe(0);
    // Nothing is written to it afterwards, and nothing fails.
    streams.statusChanged(status('acct-a'));
  });

  it('drops a client that does not read once its unread bytes pass the bound', async () => {
    const slow = await open('acct-a', { read: false });
    const fast = await open('acct-a');
    const serverSide = served[0];
    const closed = once(serverSide, 'close');
    // Far more than the socket buffers hold, a few at a time: the fast client reads each batch,
    // the slow one's response buffer grows until it passes the bound.
    let sent = 0;
    while (streams.count('acct-a') === 2 && sent < 200_000) {
      for (let i = 0; i < 5; i++) streams.statusChanged(status('acct-a'));
      sent += 5;
      await until(fast, sent);
    }
    expect(streams.count('acct-a')).toBe(1);
    expect(sent).toBeLessThan(200_000);
    // Its socket goes too (it does not read its last event either), and the fast one kept up.
    await closed;
    expect(serverSide.writableLength).toBeLessThanOrEqual(LIMITS.bufferBytes + 1024);
    expect(fast.events.every((e) => e.event === 'status')).toBe(true);
    void slow;
  });

  it('ends every stream on shutdown with a last event, and refuses new ones', async () => {
    const a = await open('acct-a');
    streams.beforeApplicationShutdown();
    await a.ended;
    expect(a.events.map((e) => e.event)).toEqual(['closed']);
    expect(a.events[0].data.reason).toBe('shutdown');
    expect(streams.count()).toBe(0);
    expect(() => streams.admit('acct-a', undefined)).toThrow(
      expect.objectContaining({ code: 'service_unavailable' }),
    );
  });
});
