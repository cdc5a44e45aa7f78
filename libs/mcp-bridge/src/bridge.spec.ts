import { once } from 'node:events';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { BridgeLimitError, type BridgeOptions, McpBridge } from './bridge';
import {
  ERROR,
  isNotification,
  isRequest,
  type JsonRpcMessage,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from './jsonrpc';
import { SessionBudget } from './session-budget';
import type { ExitInfo, LogStream, UpstreamProcess } from './upstream';

const KiB = 1024;
const MiB = 1024 * KiB;
const TOKEN = 'bridge-spec-token-0123456789abcdef';

/**
 * An MCP server on real pipes, driven by the test: it answers the handshake, `ping` and the tools
 * `echo` (its text back) and `huge` (a response of `bytes` bytes, written 64 KiB at a time as a
 * real server's pipe would carry it); `hang` is never answered. Writes go out one whole message
 * after another, as a real server's do.
 */
class FakeServer implements UpstreamProcess {
  readonly stdin = new PassThrough();
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly exited: Promise<ExitInfo>;
  readonly received: JsonRpcMessage[] = [];
  /** Resolves when `huge` has started writing its response. */
  hugeStarted: Promise<void>;
  private startedHuge!: () => void;
  private exit!: (info: ExitInfo) => void;
  private queue: Promise<void> = Promise.resolve();
  private rest = '';
  private waiters: {
    test: (m: JsonRpcMessage) => boolean;
    resolve: (m: JsonRpcMessage) => void;
  }[] = [];
  private nextRequestId = 1000;

  constructor() {
    this.exited = new Promise((resolve) => (this.exit = resolve));
    this.hugeStarted = new Promise((resolve) => (this.startedHuge = resolve));
    this.stdin.setEncoding('utf8');
    this.stdin.on('data', (chunk: string) => {
      const lines = (this.rest + chunk).split('\n');
      this.rest = lines.pop()!;
      for (const line of lines) this.handle(JSON.parse(line) as JsonRpcMessage);
    });
  }

  stop(): Promise<ExitInfo> {
    this.exit({ code: 0, signal: null });
    return this.exited;
  }

  send(message: JsonRpcMessage): Promise<void> {
    return this.write([`${JSON.stringify(message)}\n`]);
  }

  /** The first message received (already, or from now on) that passes the test. */
  waitFor<T extends JsonRpcMessage>(test: (m: JsonRpcMessage) => m is T): Promise<T>;
  waitFor(test: (m: JsonRpcMessage) => boolean): Promise<JsonRpcMessage>;
  waitFor(test: (m: JsonRpcMessage) => boolean): Promise<JsonRpcMessage> {
    const seen = this.received.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  /** The server's own request to its client: resolves with the answer the bridge passes back. */
  request(
    method: string,
    params: Record<string, unknown> = {},
  ): { id: number; answer: Promise<JsonRpcResponse> } {
    const id = this.nextRequestId++;
    void this.send({ jsonrpc: '2.0', id, method, params });
    return {
      id,
      answer: this.waitFor((m): m is JsonRpcResponse => !('method' in m) && m.id === id),
    };
  }

  /** The tools/call of `name` the bridge passed on (with the bridge's id for it). */
  toolCall(name: string): Promise<JsonRpcRequest> {
    return this.waitFor(
      (m): m is JsonRpcRequest =>
        isRequest(m) && m.method === 'tools/call' && m.params?.name === name,
    );
  }

  /** One line of `start`, `bytes` of filler and `end`, in 64 KiB pieces. */
  sendLong(start: string, bytes: number, end: string): Promise<void> {
    const chunk = 'x'.repeat(64 * KiB);
    const pieces = [start];
    for (let sent = 0; sent < bytes; sent += chunk.length)
      pieces.push(sent + chunk.length <= bytes ? chunk : chunk.slice(0, bytes - sent));
    pieces.push(`${end}\n`);
    return this.write(pieces, () => this.startedHuge());
  }

  private write(pieces: string[], started?: () => void): Promise<void> {
    this.queue = this.queue.then(async () => {
      started?.();
      for (const piece of pieces) {
        if (!this.stdout.write(piece)) await once(this.stdout, 'drain');
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    return this.queue;
  }

  private handle(message: JsonRpcMessage): void {
    this.received.push(message);
    for (const waiter of [...this.waiters])
      if (waiter.test(message)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    if (!isRequest(message)) return;
    const answer = (result: unknown) =>
      void this.send({ jsonrpc: '2.0', id: message.id, result } as JsonRpcResponse);
    switch (message.method) {
      case 'initialize':
        return answer({
          protocolVersion: '2025-06-18',
          capabilities: { tools: {} },
          serverInfo: { name: 'fake', version: '1.0.0' },
        });
      case 'tools/list':
        return answer({ tools: [{ name: 'echo', inputSchema: { type: 'object' } }] });
      case 'ping':
        return answer({});
      case 'tools/call':
        return this.call(message);
      default:
        return answer({});
    }
  }

  private call(request: JsonRpcRequest): void {
    const params = request.params as { name: string; arguments?: Record<string, unknown> };
    if (params.name === 'echo')
      void this.send({
        jsonrpc: '2.0',
        id: request.id,
        result: { content: [{ type: 'text', text: params.arguments?.text }] },
      } as JsonRpcResponse);
    if (params.name === 'huge')
      // As the MCP SDK writes a response: result first, then jsonrpc and id.
      void this.sendLong(
        '{"result":{"content":[{"type":"text","text":"',
        Number(params.arguments?.bytes),
        `"}]},"jsonrpc":"2.0","id":${JSON.stringify(request.id)}}`,
      );
  }
}

interface Harness {
  server: FakeServer;
  bridge: McpBridge;
  url: string;
  logs: { stream: LogStream; line: string }[];
  http: Server;
}

const harnesses: Harness[] = [];

async function start(options: Partial<BridgeOptions> = {}): Promise<Harness> {
  const server = new FakeServer();
  const logs: Harness['logs'] = [];
  const bridge = new McpBridge(server, {
    token: TOKEN,
    onLog: (stream, line) => logs.push({ stream, line }),
    ...options,
  });
  await bridge.start(10_000);
  const http = createServer((req, res) => bridge.handle(req, res));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const harness = { server, bridge, url: `http://127.0.0.1:${port}/mcp`, logs, http };
  harnesses.push(harness);
  return harness;
}

afterEach(async () => {
  for (const h of harnesses.splice(0)) {
    h.http.closeAllConnections();
    h.http.close();
    await h.bridge.close(100);
  }
});

const headers = (session?: string): Record<string, string> => ({
  authorization: `Bearer ${TOKEN}`,
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  ...(session ? { 'mcp-session-id': session } : {}),
});

async function post(url: string, body: unknown, session?: string, signal?: AbortSignal) {
  const res = await fetch(url, {
    method: 'POST',
    headers: headers(session),
    body: JSON.stringify(body),
    signal,
  });
  const text = await res.text();
  return {
    status: res.status,
    session: res.headers.get('mcp-session-id') ?? undefined,
    body: (text ? JSON.parse(text) : undefined) as JsonRpcResponse & JsonRpcResponse[],
  };
}

async function initialize(
  url: string,
  capabilities: Record<string, unknown> = {},
): Promise<string> {
  const res = await post(url, {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities, clientInfo: { name: 't' } },
  });
  expect(res.status).toBe(200);
  return res.session!;
}

const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

/** Waits for a condition the bridge reaches by itself (a timer of its own); the test's timeout bounds it. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** A GET event stream opened with node:http, left unread until the test reads it. */
function openStream(url: string, session: string, lastEventId?: number): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'GET',
      headers: {
        ...headers(session),
        accept: 'text/event-stream',
        ...(lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) }),
      },
    });
    req.on('response', resolve);
    req.on('error', reject);
    req.end();
  });
}

async function readAll(res: IncomingMessage): Promise<string> {
  let text = '';
  res.setEncoding('utf8');
  for await (const chunk of res) text += chunk as string;
  return text;
}

describe('McpBridge against a hostile server and hostile clients', () => {
  it("answers a request whose response is over the line limit with an error, and another session's request as usual", async () => {
    const { server, url, logs, bridge } = await start({ maxLineBytes: MiB });
    const [a, b] = [await initialize(url), await initialize(url)];
    const huge = post(url, call(1, 'huge', { bytes: 5 * MiB }), a);
    await server.hugeStarted;
    const normal = post(url, call(1, 'echo', { text: 'still here' }), b);
    const [hugeRes, normalRes] = await Promise.all([huge, normal]);
    expect(hugeRes.status).toBe(200);
    expect(hugeRes.body.id).toBe(1);
    expect(hugeRes.body.error?.code).toBe(ERROR.messageTooLarge);
    expect(hugeRes.body.error?.message).toContain('1 MiB line limit');
    expect(normalRes.body).toEqual({
      jsonrpc: '2.0',
      id: 1,
      result: { content: [{ type: 'text', text: 'still here' }] },
    });
    expect(logs.filter((l) => l.stream === 'system').map((l) => l.line)).toEqual([
      expect.stringContaining("Dropped the server's 5 MiB response to request"),
    ]);
    // The session that got the error goes on working too.
    expect((await post(url, call(2, 'echo', { text: 'again' }), a)).body.result).toBeDefined();
    expect(await bridge.ping(5000)).toBeGreaterThan(0);
  });

  it('logs a dropped line it cannot tie to a request, and refuses an oversized request from the server', async () => {
    const { server, url, logs } = await start({ maxLineBytes: 64 * KiB });
    await server.sendLong('{"result":{"text":"', 256 * KiB, '"}}');
    await server.sendLong(
      '{"method":"sampling/createMessage","params":{"text":"',
      256 * KiB,
      '"},"jsonrpc":"2.0","id":"s1"}',
    );
    const session = await initialize(url);
    expect((await post(url, { jsonrpc: '2.0', id: 5, method: 'ping' }, session)).body).toEqual({
      jsonrpc: '2.0',
      id: 5,
      result: {},
    });
    const system = logs.filter((l) => l.stream === 'system').map((l) => l.line);
    expect(system).toEqual([
      expect.stringContaining('no request id could be found in it'),
      expect.stringContaining('request (sampling/createMessage)'),
    ]);
    const refusal = server.received.find(
      (m): m is JsonRpcResponse => !('method' in m) && (m as JsonRpcResponse).id === 's1',
    );
    expect(refusal?.error?.code).toBe(ERROR.messageTooLarge);
  });

  it('refuses a session beyond maxSessions with 429, and takes one again once a session ends', async () => {
    const { url } = await start({ maxSessions: 2 });
    const first = await initialize(url);
    await initialize(url);
    const refused = await post(url, {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't' } },
    });
    expect(refused.status).toBe(429);
    expect(refused.body.error?.code).toBe(ERROR.limitExceeded);
    expect(refused.body.error?.message).toContain('allows 2 at once (maxSessions)');
    const deleted = await fetch(url, { method: 'DELETE', headers: headers(first) });
    expect(deleted.status).toBe(200);
    await initialize(url);
  });

  it('drops idle sessions, also those whose client went away or cancelled while the server never answered', async () => {
    const { server, url, bridge } = await start({ sessionIdleMs: 500 });
    const [plain, abandoned, cancelled] = [
      await initialize(url),
      await initialize(url),
      await initialize(url),
    ];
    // A request the server never answers, whose client gives up and goes away.
    const abort = new AbortController();
    const gone = post(url, call(1, 'hang'), abandoned, abort.signal);
    await until(() => server.received.some((m) => isRequest(m) && m.params?.name === 'hang'));
    abort.abort();
    await expect(gone).rejects.toThrow();
    // Another, that the client cancels: the bridge ends its POST with an error.
    const hung = post(url, call(7, 'hang'), cancelled);
    await until(
      () => server.received.filter((m) => isRequest(m) && m.params?.name === 'hang').length === 2,
    );
    const cancel = await post(
      url,
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7 } },
      cancelled,
    );
    expect(cancel.status).toBe(202);
    expect((await hung).body.error?.code).toBe(ERROR.requestCancelled);
    const forwarded = server.received
      .filter(isNotification)
      .find((m) => m.method === 'notifications/cancelled');
    expect(forwarded?.params?.requestId).toEqual(expect.any(Number));
    await until(() => bridge.sessionCount === 0);
    for (const session of [plain, abandoned, cancelled])
      expect((await post(url, { jsonrpc: '2.0', id: 1, method: 'ping' }, session)).status).toBe(
        404,
      );
  });

  it('allows one event stream per session: a second GET while it is open is 409', async () => {
    const { url } = await start();
    const session = await initialize(url);
    const other = await initialize(url);
    const open = await openStream(url, session);
    expect(open.statusCode).toBe(200);
    const second = await openStream(url, session);
    expect(second.statusCode).toBe(409);
    const body = JSON.parse(await readAll(second)) as JsonRpcResponse;
    expect(body.error?.code).toBe(ERROR.limitExceeded);
    // Another session has its own.
    const theirs = await openStream(url, other);
    expect(theirs.statusCode).toBe(200);
    open.destroy();
    theirs.destroy();
  });

  it('ends an event stream with nothing to send after sseIdleMs, whatever heartbeats went out', async () => {
    const { url } = await start({ sseIdleMs: 200, sseHeartbeatMs: 10 });
    const session = await initialize(url);
    const stream = await openStream(url, session);
    expect(stream.statusCode).toBe(200);
    const text = await readAll(stream);
    expect(text).toContain(': ping\n\n');
    expect(text).not.toContain('event: message');
    // The stream is over, so the session may open another.
    const next = await openStream(url, session);
    expect(next.statusCode).toBe(200);
    next.destroy();
  });

  it('refuses a batch over maxBatchMessages with 400 and -32600', async () => {
    const { url } = await start({ maxBatchMessages: 3 });
    const session = await initialize(url);
    const ping = (id: number) => ({ jsonrpc: '2.0', id, method: 'ping' });
    const refused = await post(url, [ping(1), ping(2), ping(3), ping(4)], session);
    expect(refused.status).toBe(400);
    expect(refused.body.error?.code).toBe(ERROR.invalidRequest);
    expect(refused.body.error?.message).toContain('at most 3 messages');
    const accepted = await post(url, [ping(1), ping(2), ping(3)], session);
    expect(accepted.status).toBe(200);
    expect(accepted.body.map((r) => r.id)).toEqual([1, 2, 3]);
  });

  it('closes the event stream of a client that does not read, which may then resume with Last-Event-ID', async () => {
    const { server, url, logs } = await start({ maxSseBufferedBytes: 256 * KiB });
    const session = await initialize(url);
    const stream = await openStream(url, session);
    expect(stream.statusCode).toBe(200);
    stream.pause();
    const closed = () => logs.some((l) => l.line.includes('its client was not reading'));
    const payload = 'y'.repeat(64 * KiB);
    let sent = 0;
    while (!closed()) {
      await server.send({
        jsonrpc: '2.0',
        method: 'notifications/message',
        params: { level: 'info', data: `${sent++} ${payload}` },
      });
      // The bridge would otherwise hold this many events of the stream (and no more).
      expect(sent).toBeLessThan(5000);
    }
    stream.destroy();
    const resumed = await openStream(url, session, sent - 2);
    expect(resumed.statusCode).toBe(200);
    resumed.setEncoding('utf8');
    let replay = '';
    for await (const chunk of resumed) {
      replay += chunk as string;
      if (replay.includes(`id: ${sent}\n`)) break;
    }
    expect(replay).toContain(`id: ${sent - 1}\n`);
    expect(replay).not.toContain(`id: ${sent - 2}\n`);
    resumed.destroy();
  });

  it('refuses limits that are not positive integers', () => {
    const server = new FakeServer();
    expect(() => new McpBridge(server, { token: TOKEN, maxSessions: 0 })).toThrow(BridgeLimitError);
    void server.stop();
  });
});

describe('McpBridge in a session budget shared by the bridges of an account (MCP_SESSIONS_PER_ACCOUNT)', () => {
  const INITIALIZE = {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't' } },
  };
  const end = async (url: string, session: string) =>
    expect((await fetch(url, { method: 'DELETE', headers: headers(session) })).status).toBe(200);

  it("counts the sessions of all the account's bridges together: 429 naming the setting, while another account's bridge opens sessions", async () => {
    const budget = new SessionBudget({ limit: 3 });
    const a = await start({ sessionBudget: { budget, key: 'acct-a' } });
    const a2 = await start({ sessionBudget: { budget, key: 'acct-a' } });
    const b = await start({ sessionBudget: { budget, key: 'acct-b' } });
    await initialize(a.url);
    await initialize(a2.url);
    await initialize(a.url);
    for (const url of [a.url, a2.url]) {
      const refused = await post(url, INITIALIZE);
      expect(refused.status).toBe(429);
      expect(refused.session).toBeUndefined();
      expect(refused.body.error?.code).toBe(ERROR.limitExceeded);
      expect(refused.body.error?.message).toBe(
        'Too many sessions: this account may hold 3 at once across its connections (MCP_SESSIONS_PER_ACCOUNT); end one with DELETE or let an idle one expire',
      );
    }
    // A refused initialize takes nothing.
    expect(budget.held('acct-a')).toBe(3);
    expect(a.bridge.sessionCount + a2.bridge.sessionCount).toBe(3);
    for (let i = 0; i < 3; i++) await initialize(b.url);
    expect(budget.held('acct-b')).toBe(3);
  });

  it('gives each slot back exactly once however its session ends (DELETE, idle expiry, the server exiting, close): up to the cap, all ended, up to the cap again', async () => {
    const budget = new SessionBudget({ limit: 4 });
    const key = 'acct';
    const a = await start({ sessionBudget: { budget, key }, maxSessions: 2 });
    const b = await start({ sessionBudget: { budget, key }, sessionIdleMs: 300 });
    const c = await start({ sessionBudget: { budget, key } });
    const [a1] = [await initialize(a.url), await initialize(a.url)];
    await initialize(b.url);
    const c1 = await initialize(c.url);
    expect(budget.held(key)).toBe(4);
    // Refused by the connection's own cap, or by the account's: neither takes a slot.
    const perConnection = await post(a.url, INITIALIZE);
    expect(perConnection.status).toBe(429);
    expect(perConnection.body.error?.message).toContain('(maxSessions)');
    expect((await post(c.url, INITIALIZE)).body.error?.message).toContain(
      '(MCP_SESSIONS_PER_ACCOUNT)',
    );
    // Not an initialize after all (a batch holding one): refused before any slot is taken.
    expect(
      (await post(c.url, [INITIALIZE, { jsonrpc: '2.0', id: 1, method: 'ping' }])).status,
    ).toBe(400);
    expect(budget.held(key)).toBe(4);

    await end(a.url, a1); // DELETE
    expect(budget.held(key)).toBe(3);
    await until(() => b.bridge.sessionCount === 0); // idle expiry
    expect(budget.held(key)).toBe(2);
    await c.server.stop(); // the server exits
    await until(() => !c.bridge.running);
    expect(budget.held(key)).toBe(1);
    await a.bridge.close(100); // the bridge closes (stop, undeploy)
    expect(budget.held(key)).toBe(0);
    // A session ended again (a second DELETE; one whose server went) gives back nothing more.
    for (const [url, session] of [
      [a.url, a1],
      [c.url, c1],
    ])
      expect((await fetch(url, { method: 'DELETE', headers: headers(session) })).status).toBe(404);
    expect(budget.held(key)).toBe(0);

    // Up to the cap again, through the bridge left: nothing leaked.
    const again: string[] = [];
    for (let i = 0; i < 4; i++) again.push(await initialize(b.url));
    expect((await post(b.url, INITIALIZE)).status).toBe(429);
    expect(budget.held(key)).toBe(4);
    for (const session of again) await end(b.url, session);
    expect(budget.held(key)).toBe(0);
    await b.bridge.close(100);
    expect(budget.keys).toBe(0);
  });

  it("drops the account's idle sessions, in any of its bridges, before refusing a new one", async () => {
    const budget = new SessionBudget({ limit: 3 });
    const key = 'acct';
    // An idle time the sweeper (at most every minute) does not reach during the test.
    const a = await start({ sessionBudget: { budget, key }, sessionIdleMs: 120_000 });
    const b = await start({ sessionBudget: { budget, key }, sessionIdleMs: 120_000 });
    await initialize(a.url);
    await initialize(a.url);
    const streaming = await initialize(b.url);
    const stream = await openStream(b.url, streaming);
    expect(stream.statusCode).toBe(200);
    expect((await post(b.url, INITIALIZE)).status).toBe(429);
    // Two minutes later (no timer has run): a's two sessions are idle, b's has its stream open.
    const later = Date.now() + 121_000;
    jest.spyOn(Date, 'now').mockReturnValue(later);
    try {
      await initialize(b.url);
    } finally {
      jest.restoreAllMocks();
    }
    expect(a.bridge.sessionCount).toBe(0);
    expect(b.bridge.sessionCount).toBe(2);
    expect(budget.held(key)).toBe(2);
    stream.destroy();
  });
});

/** A POST (or GET) left open: its answer's headers, then its body as it comes. */
async function open(
  url: string,
  session: string,
  body?: unknown,
  extra: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      ...headers(session),
      ...(body === undefined ? { accept: 'text/event-stream' } : {}),
      ...extra,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Reads the messages of an event stream one at a time (heartbeats skipped). */
class EventReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private buffer = '';

  constructor(res: Response) {
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    this.reader = res.body!.getReader();
  }

  /** The next message, or undefined once the stream has ended. */
  async next(): Promise<JsonRpcMessage | undefined> {
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end >= 0) {
        const event = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const data = event
          .split('\n')
          .filter((line) => line.startsWith('data: '))
          .map((line) => line.slice(6))
          .join('\n');
        if (data) return JSON.parse(data) as JsonRpcMessage;
        continue;
      }
      const { value, done } = await this.reader.read();
      if (done) return undefined;
      this.buffer += this.decoder.decode(value, { stream: true });
    }
  }

  cancel(): Promise<void> {
    return this.reader.cancel();
  }
}

const SAMPLING = {
  messages: [{ role: 'user', content: { type: 'text', text: 'Say hi' } }],
  maxTokens: 10,
};
const SAMPLED = { role: 'assistant', content: { type: 'text', text: 'hi' }, model: 'test-model' };

describe("McpBridge passes the server's requests and logs to the one client they can be for", () => {
  it('sends a request from the server on the POST of the one session with a request in flight, and its answer back', async () => {
    const { server, url } = await start();
    const asker = await initialize(url, { sampling: {} });
    const other = await initialize(url, { sampling: {} });
    const pending = open(url, asker, call(1, 'hang'));
    const held = await server.toolCall('hang');
    const { id, answer } = server.request('sampling/createMessage', SAMPLING);
    // The POST became an event stream when the server's request came before its answer.
    const events = new EventReader(await pending);
    const asked = (await events.next()) as JsonRpcRequest;
    expect(asked).toEqual({
      jsonrpc: '2.0',
      id: expect.any(String),
      method: 'sampling/createMessage',
      params: SAMPLING,
    });
    // Another session cannot answer it (the bridge's ids are per session), nor can an unknown id.
    expect((await post(url, { jsonrpc: '2.0', id: asked.id, result: {} }, other)).status).toBe(202);
    expect((await post(url, { jsonrpc: '2.0', id: 'nope', result: {} }, asker)).status).toBe(202);
    const reply = await post(url, { jsonrpc: '2.0', id: asked.id, result: SAMPLED }, asker);
    expect(reply.status).toBe(202);
    expect(await answer).toEqual({ jsonrpc: '2.0', id, result: SAMPLED });
    // The tool's answer ends the same stream.
    await server.send({ jsonrpc: '2.0', id: held.id, result: { content: [] } });
    expect(await events.next()).toEqual({ jsonrpc: '2.0', id: 1, result: { content: [] } });
    expect(await events.next()).toBeUndefined();
    // Nothing else reached the server as an answer to its request.
    expect(server.received.filter((m) => !('method' in m) && m.id === id)).toHaveLength(1);
  });

  it('refuses a request from the server at once when no session or several have requests in flight', async () => {
    const { server, url } = await start();
    const [a, b] = [await initialize(url, { roots: {} }), await initialize(url, { roots: {} })];
    expect((await server.request('sampling/createMessage', SAMPLING).answer).error).toEqual({
      code: ERROR.internal,
      message: expect.stringContaining('no single client session can answer'),
    });
    // Servers ask for roots as they start, before anyone is there: no roots.
    expect((await server.request('roots/list').answer).result).toEqual({ roots: [] });
    const calls = [open(url, a, call(1, 'hang')), open(url, b, call(1, 'hang'))];
    await until(
      () => server.received.filter((m) => isRequest(m) && m.params?.name === 'hang').length === 2,
    );
    for (const method of ['roots/list', 'elicitation/create'])
      expect((await server.request(method).answer).error).toEqual({
        code: ERROR.internal,
        message: expect.stringContaining('2 sessions have requests in flight'),
      });
    // Neither session was asked: their requests' answers come as JSON, nothing before them.
    for (const held of server.received.filter(
      (m): m is JsonRpcRequest => isRequest(m) && m.params?.name === 'hang',
    ))
      await server.send({ jsonrpc: '2.0', id: held.id, result: { content: [] } });
    for (const res of await Promise.all(calls)) {
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await res.json()).toEqual({ jsonrpc: '2.0', id: 1, result: { content: [] } });
    }
  });

  it('answers -32601 for a feature the client did not declare, and -32000 for what its session left unanswered', async () => {
    const { server, url } = await start();
    const session = await initialize(url, { elicitation: {} });
    const pending = open(url, session, call(1, 'hang'));
    await server.toolCall('hang');
    const refused = async (method: string, params: Record<string, unknown> = {}) =>
      (await server.request(method, params).answer).error;
    expect(await refused('sampling/createMessage', SAMPLING)).toEqual({
      code: ERROR.methodNotFound,
      message: expect.stringContaining('did not declare the sampling capability'),
    });
    expect(await refused('elicitation/create', { mode: 'url', url: 'https://x.test' })).toEqual({
      code: ERROR.methodNotFound,
      message: expect.stringContaining('elicitation.url'),
    });
    expect((await refused('roots/list'))?.code).toBe(ERROR.methodNotFound);
    expect((await refused('tasks/get'))?.code).toBe(ERROR.methodNotFound);
    const form = { message: 'Your name?', requestedSchema: { type: 'object', properties: {} } };
    const { answer } = server.request('elicitation/create', form);
    const events = new EventReader(await pending);
    expect(await events.next()).toMatchObject({ method: 'elicitation/create', params: form });
    const deleted = await fetch(url, { method: 'DELETE', headers: headers(session) });
    expect(deleted.status).toBe(200);
    expect((await answer).error).toEqual({
      code: ERROR.sessionEnded,
      message: 'The client session ended before answering elicitation/create',
    });
    // The session's own request ended with it.
    expect(await events.next()).toMatchObject({ id: 1, error: { code: ERROR.serverGone } });
  });

  it("passes the server's cancellation of its request to the session, and drops a late answer", async () => {
    const { server, url, bridge } = await start();
    const session = await initialize(url, { sampling: {} });
    const pending = open(url, session, call(1, 'hang'));
    await server.toolCall('hang');
    const { id } = server.request('sampling/createMessage', SAMPLING);
    const events = new EventReader(await pending);
    const asked = (await events.next()) as JsonRpcRequest;
    await server.send({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: id, reason: 'no longer needed' },
    });
    expect(await events.next()).toEqual({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: asked.id, reason: 'no longer needed' },
    });
    expect(
      (await post(url, { jsonrpc: '2.0', id: asked.id, result: SAMPLED }, session)).status,
    ).toBe(202);
    // The bridge writes to the server in order: by the time a later ping is answered, a forwarded
    // late answer would have been received.
    await bridge.ping(5000);
    expect(server.received.filter((m) => !('method' in m) && m.id === id)).toEqual([]);
  });

  it('answers the server with an error when the client does not answer in time, and tells the client', async () => {
    const { server, url } = await start({ serverRequestTimeoutMs: 50 });
    const session = await initialize(url, { roots: { listChanged: true } });
    const pending = open(url, session, call(1, 'hang'));
    await server.toolCall('hang');
    const { answer } = server.request('roots/list');
    expect((await answer).error).toEqual({
      code: ERROR.requestTimeout,
      message: 'The client did not answer roots/list within 0.1 s',
    });
    const events = new EventReader(await pending);
    const asked = (await events.next()) as JsonRpcRequest;
    expect(asked.method).toBe('roots/list');
    expect(await events.next()).toEqual({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: asked.id, reason: 'Not answered within 0.1 s' },
    });
  });

  it("sends the server's log messages to the one session with a request in flight, never to another", async () => {
    const { server, url } = await start();
    const [a, b] = [await initialize(url), await initialize(url)];
    const [streamA, streamB] = [
      new EventReader(await open(url, a)),
      new EventReader(await open(url, b)),
    ];
    const log = (data: string) => ({
      jsonrpc: '2.0' as const,
      method: 'notifications/message',
      params: { level: 'info', data },
    });
    const listChanged = { jsonrpc: '2.0' as const, method: 'notifications/tools/list_changed' };
    const pending = open(url, a, call(1, 'hang'));
    const held = await server.toolCall('hang');
    await server.send(log("a's work"));
    // Then something for everyone: it is the first thing b sees, so the log never reached b.
    await server.send(listChanged);
    const postA = new EventReader(await pending);
    expect(await postA.next()).toEqual(log("a's work"));
    expect(await streamB.next()).toEqual(listChanged);
    expect(await streamA.next()).toEqual(listChanged);
    // With two sessions busy, whose a log is cannot be told: nobody gets it.
    const pendingB = open(url, b, call(2, 'hang'));
    await until(
      () => server.received.filter((m) => isRequest(m) && m.params?.name === 'hang').length === 2,
    );
    await server.send(log('whose?'));
    await server.send({ jsonrpc: '2.0', id: held.id, result: { content: [] } });
    expect(await postA.next()).toEqual({ jsonrpc: '2.0', id: 1, result: { content: [] } });
    expect(await postA.next()).toBeUndefined();
    const heldB = server.received.filter(
      (m): m is JsonRpcRequest => isRequest(m) && m.params?.name === 'hang',
    )[1];
    await server.send({ jsonrpc: '2.0', id: heldB.id, result: { content: [] } });
    const resB = await pendingB;
    expect(resB.headers.get('content-type')).toBe('application/json');
    expect(await resB.json()).toEqual({ jsonrpc: '2.0', id: 2, result: { content: [] } });
    // With nobody busy, a log concerns every session.
    await server.send(log('for all'));
    expect(await streamA.next()).toEqual(log('for all'));
    expect(await streamB.next()).toEqual(log('for all'));
    await streamA.cancel();
    await streamB.cancel();
  });

  it('refuses any request with an Origin header (403), before looking at its token', async () => {
    const { url } = await start();
    const session = await initialize(url);
    const origin = { origin: 'http://evil.example.com' };
    const refused = await open(url, session, { jsonrpc: '2.0', id: 1, method: 'ping' }, origin);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as JsonRpcResponse).error?.message).toContain('Origin');
    expect((await open(url, session, undefined, origin)).status).toBe(403);
    const anonymous = await fetch(url, { method: 'DELETE', headers: origin });
    expect(anonymous.status).toBe(403);
    // The same request without the header goes through.
    const ok = await open(url, session, { jsonrpc: '2.0', id: 1, method: 'ping' });
    expect(await ok.json()).toEqual({ jsonrpc: '2.0', id: 1, result: {} });
  });
});
