import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import {
  ERROR,
  asMessage,
  errorResponse,
  isNotification,
  isRequest,
  isResponse,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from './jsonrpc';
import { type BridgeLimits, formatBytes, resolveLimits } from './limits';
import type { BudgetMember, SessionBudget } from './session-budget';
import { type SseOptions, SseStream } from './sse';
import {
  type DroppedLine,
  type ExitInfo,
  type LogStream,
  StdioChannel,
  type UpstreamProcess,
} from './upstream';

export { BridgeLimitError, DEFAULT_LIMITS, type BridgeLimits } from './limits';

export const LATEST_PROTOCOL_VERSION = '2025-06-18';
export const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** A session keeps its last events for clients that reconnect with Last-Event-ID: this many, */
const EVENT_BUFFER = 200;
/** and no more than this many characters of them (a server's events may be large). */
const EVENT_BUFFER_CHARS = 16 * 1024 * 1024;

/**
 * The bridge's options. Every limit (limits.ts: maxLineBytes, maxSessions, sessionIdleMs,
 * sseIdleMs, sseHeartbeatMs, maxSseBufferedBytes, maxBatchMessages, serverRequestTimeoutMs) has a
 * default there and may be given here as a positive integer; anything else throws a
 * BridgeLimitError.
 */
export interface BridgeOptions extends Partial<BridgeLimits> {
  /** The bearer token every client must present. */
  token: string;
  /**
   * A cap shared with other bridges (session-budget.ts): each session of this bridge also takes a
   * slot of `budget` under `key` (the connection's account), given back when the session ends;
   * an `initialize` with none left is answered 429, after the idle sessions of every bridge of
   * the key were dropped. The bridge leaves the budget when it closes or its server exits.
   */
  sessionBudget?: { budget: SessionBudget; key: string };
  onLog?: (stream: LogStream, line: string) => void;
  onExit?: (info: ExitInfo) => void;
}

/**
 * What the bridge declares upstream: every client feature a session may offer. A request from the
 * server for one of them goes to the one session that can answer it, if its client declared the
 * feature (see `McpBridge.requestFromServer`).
 */
export const BRIDGE_CLIENT_CAPABILITIES = Object.freeze({
  sampling: {},
  elicitation: {},
  roots: { listChanged: true },
});

export interface BridgeReady {
  serverInfo: { name?: string; version?: string };
  protocolVersion: string;
  tools: number;
}

interface Session {
  id: string;
  /** Client request id (typed key) to upstream id, for cancellation and duplicate detection. */
  inflight: Map<string, number>;
  /** The one open server-to-client (GET) stream. */
  stream?: SseStream;
  /** The last events sent to the session (JSON text), for Last-Event-ID. */
  events: { id: number; json: string }[];
  eventChars: number;
  nextEventId: number;
  subscriptions: Set<string>;
  lastSeen: number;
  /** What the client declared in its own initialize: which server requests it can answer. */
  capabilities: Record<string, unknown>;
  /** The protocol version the client asked for in its initialize. */
  protocolVersion: string;
  /** Requests from the server sent to this session and awaiting its answer, by the bridge's id. */
  serverRequests: Map<string, ServerRequest>;
  /** Gives back the session's slot of the shared budget, if there is one (once: when it ends). */
  release?: () => void;
}

/**
 * Sends a message on a request's POST while that POST can carry it (opening its event stream if
 * need be); false when it cannot: already answered, closed, or its client takes no event stream.
 */
type PostChannel = (message: JsonRpcMessage) => boolean;

interface Pending {
  session?: Session;
  clientId?: JsonRpcId;
  clientProgressToken?: string | number;
  deliver: (response: JsonRpcResponse) => void;
  /** What the server sends about or during this request (progress, its requests, logs). */
  notify?: PostChannel;
}

/** A request from the server passed to a session, its id rewritten to one of the bridge's. */
interface ServerRequest {
  session: Session;
  bridgeId: string;
  upstreamId: JsonRpcId;
  method: string;
  /** The POST it went out on (undefined: the session's GET stream); its cancellation follows it. */
  via?: PostChannel;
  timer: NodeJS.Timeout;
}

const keyOf = (id: JsonRpcId) => `${typeof id}:${id}`;

export class BridgeHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly rpcCode: number = ERROR.invalidRequest,
  ) {
    super(message);
  }
}

/**
 * Serves one stdio MCP server over MCP Streamable HTTP to any number of sessions. One server
 * process, one upstream `initialize` (its result replayed to every session), one
 * `notifications/initialized`. Each session's request ids, cancellations and progress tokens are
 * rewritten on the way in and restored on the way out; resource updates go to subscribers,
 * list changes to every session. Requests from the server for client features (sampling,
 * elicitation, roots) and its log messages go to the one session the server can be working for:
 * the only one with requests in flight; when there is no such session or several, a request is
 * refused at once (never guessed: sessions may belong to different callers) and logs go to every
 * session only when no session has a request in flight. Each request from the server is answered
 * by its client, by a timeout, or by the end of its session: the server is never left waiting.
 * A request with an Origin header (a browser page) is refused: clients reach the bridge through
 * the platform's gateway, which checks origins and never passes the header on.
 */
export class McpBridge {
  private readonly channel: StdioChannel;
  private readonly limits: BridgeLimits;
  private readonly tokenDigest: Buffer;
  private readonly sessions = new Map<string, Session>();
  private readonly pending = new Map<number, Pending>();
  private readonly progressRoutes = new Map<string, number>();
  private readonly subscribers = new Map<string, Set<Session>>();
  /** Requests from the server passed to a session, by the server's own id (typed key). */
  private readonly serverRequests = new Map<string, ServerRequest>();
  private nextId = 1;
  private initializeResult: Record<string, unknown> | undefined;
  private exitInfo: ExitInfo | undefined;
  private readonly sweeper: NodeJS.Timeout;
  /** This bridge's place in a budget shared with other bridges (options.sessionBudget). */
  private readonly budget: BudgetMember | undefined;
  private closing = false;

  constructor(
    private readonly upstream: UpstreamProcess,
    private readonly options: BridgeOptions,
  ) {
    this.limits = resolveLimits(options);
    this.tokenDigest = createHash('sha256').update(options.token).digest();
    this.channel = new StdioChannel(
      upstream,
      (m) => this.fromUpstream(m),
      (stream, line) => options.onLog?.(stream, line),
      { maxLineBytes: this.limits.maxLineBytes, onDropped: (line) => this.droppedLine(line) },
    );
    void upstream.exited.then((info) => this.upstreamExited(info));
    // A session is dropped between sessionIdleMs and sessionIdleMs + 1 min after it went idle.
    this.sweeper = setInterval(
      () => this.dropIdleSessions(),
      Math.min(this.limits.sessionIdleMs, 60_000),
    );
    this.sweeper.unref();
    this.budget = options.sessionBudget?.budget.join(options.sessionBudget.key, () =>
      this.dropIdleSessions(),
    );
  }

  /** When a client last used the server through this bridge (ms since the epoch). */
  lastActivity = Date.now();

  get running(): boolean {
    return !this.exitInfo;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** The upstream handshake: `initialize`, `notifications/initialized`, then `tools/list` to prove it works. */
  async start(timeoutMs: number): Promise<BridgeReady> {
    const deadline = Date.now() + timeoutMs;
    const init = await this.request(
      'initialize',
      {
        protocolVersion: LATEST_PROTOCOL_VERSION,
        capabilities: BRIDGE_CLIENT_CAPABILITIES,
        clientInfo: { name: 'athenic-mcp-bridge', version: '1.0.0' },
      },
      timeoutMs,
    );
    this.channel.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const result = init as {
      protocolVersion: string;
      serverInfo?: { name?: string; version?: string };
      capabilities?: { tools?: unknown };
    };
    let tools = 0;
    if (result.capabilities?.tools) {
      const listed = (await this.request('tools/list', {}, Math.max(1, deadline - Date.now()))) as {
        tools?: unknown[];
      };
      tools = listed.tools?.length ?? 0;
    }
    this.initializeResult = init as Record<string, unknown>;
    return { serverInfo: result.serverInfo ?? {}, protocolVersion: result.protocolVersion, tools };
  }

  /** An MCP ping through the server; resolves with the round trip in milliseconds. */
  async ping(timeoutMs: number): Promise<number> {
    const started = process.hrtime.bigint();
    await this.request('ping', {}, timeoutMs);
    return Number(process.hrtime.bigint() - started) / 1e6;
  }

  /** A request of the bridge's own (not from a session). */
  private request(
    method: string,
    params: Record<string, unknown>,
    timeoutMs: number,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.exitInfo) return reject(new Error(this.exitText()));
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer to ${method} within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.pending.set(id, {
        deliver: (response) => {
          clearTimeout(timer);
          if (response.error) reject(new Error(`${method} failed: ${response.error.message}`));
          else resolve(response.result);
        },
      });
      this.channel.send({ jsonrpc: '2.0', id, method, params });
    });
  }

  async close(graceMs = 5000): Promise<ExitInfo> {
    this.closing = true;
    clearInterval(this.sweeper);
    for (const session of [...this.sessions.values()]) this.endSession(session);
    this.budget?.leave();
    return this.upstream.stop(graceMs);
  }

  // ---- HTTP side ------------------------------------------------------------------------------

  /** Handles one Streamable HTTP request (POST, GET or DELETE on the MCP endpoint). */
  handle(req: IncomingMessage, res: ServerResponse, body?: Buffer): void {
    try {
      // Only a browser sends Origin, and no browser has a reason to reach a bridge: the gateway
      // (the only client) never forwards the header, so a page that got here went around it, as
      // with DNS rebinding. Refused before anything else, the token included.
      if (req.headers.origin !== undefined) {
        res.writeHead(403, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify(
            errorResponse(
              null,
              ERROR.invalidRequest,
              "Forbidden: a request with an Origin header (a browser page) may not reach the MCP bridge; use the platform's MCP endpoint",
            ),
          ),
        );
        return;
      }
      if (!this.authorized(req.headers.authorization)) {
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
        res.end(JSON.stringify(errorResponse(null, ERROR.invalidRequest, 'Unauthorized')));
        return;
      }
      this.lastActivity = Date.now();
      switch (req.method) {
        case 'POST':
          if (body) return this.post(req, res, body);
          return void readBody(req, MAX_BODY_BYTES).then(
            (buffer) => this.safely(res, () => this.post(req, res, buffer)),
            (error: unknown) => this.fail(res, error),
          );
        case 'GET':
          return this.get(req, res);
        case 'DELETE':
          return this.delete(req, res);
        default:
          res.writeHead(405, { allow: 'GET, POST, DELETE', 'content-type': 'application/json' });
          res.end(JSON.stringify(errorResponse(null, ERROR.invalidRequest, 'Method not allowed')));
      }
    } catch (error) {
      this.fail(res, error);
    }
  }

  private safely(res: ServerResponse, work: () => void): void {
    try {
      work();
    } catch (error) {
      this.fail(res, error);
    }
  }

  private fail(res: ServerResponse, error: unknown): void {
    if (res.headersSent) return void res.end();
    const status = error instanceof BridgeHttpError ? error.status : 500;
    const code = error instanceof BridgeHttpError ? error.rpcCode : ERROR.internal;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify(
        errorResponse(null, code, error instanceof Error ? error.message : 'Internal error'),
      ),
    );
  }

  /** Whether an Authorization header carries this bridge's token (compared in constant time). */
  authorized(header: string | undefined): boolean {
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) return false;
    return timingSafeEqual(createHash('sha256').update(match[1]).digest(), this.tokenDigest);
  }

  private session(req: IncomingMessage, required: true): Session;
  private session(req: IncomingMessage, required: false): Session | undefined;
  private session(req: IncomingMessage, required: boolean): Session | undefined {
    const id = req.headers['mcp-session-id'];
    if (typeof id !== 'string' || id === '') {
      if (required)
        throw new BridgeHttpError(400, 'Bad Request: Mcp-Session-Id header is required');
      return undefined;
    }
    const session = this.sessions.get(id);
    if (!session) throw new BridgeHttpError(404, 'Session not found', ERROR.serverGone);
    session.lastSeen = Date.now();
    return session;
  }

  private post(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    if (!this.running || !this.initializeResult)
      throw new BridgeHttpError(503, this.exitText(), ERROR.serverGone);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(errorResponse(null, ERROR.parse, 'Parse error: the body is not JSON')),
      );
      return;
    }
    const batch = Array.isArray(parsed);
    const raw = batch ? (parsed as unknown[]) : [parsed];
    if (raw.length === 0) throw new BridgeHttpError(400, 'An empty batch is not a message');
    if (raw.length > this.limits.maxBatchMessages)
      throw new BridgeHttpError(
        400,
        `A batch may hold at most ${this.limits.maxBatchMessages} messages (maxBatchMessages); this one has ${raw.length}`,
      );
    const messages: JsonRpcMessage[] = [];
    for (const item of raw) {
      const message = asMessage(item);
      if (typeof message === 'string')
        throw new BridgeHttpError(400, `Invalid request: ${message}`);
      messages.push(message);
    }

    const initialize = messages.find((m) => isRequest(m) && m.method === 'initialize') as
      JsonRpcRequest | undefined;
    if (initialize) {
      if (messages.length > 1) throw new BridgeHttpError(400, 'initialize must be sent on its own');
      return this.initializeSession(initialize, res);
    }
    const session = this.session(req, true);
    const requests = messages.filter(isRequest);
    for (const message of messages) {
      if (isNotification(message)) this.notificationFromClient(session, message);
      else if (isResponse(message)) this.responseFromClient(session, message);
    }
    if (requests.length === 0) {
      res.writeHead(202);
      res.end();
      return;
    }
    // JSON or an event stream, decided by what comes first: the answers (JSON, sent once all are
    // in) or anything else the server sends meanwhile (a stream, opened then, the answers that
    // came before it sent first). A request with a progress token opens its stream at once, so
    // that its POST has a beginning however long the work takes.
    const accept = req.headers.accept;
    const canStream =
      accept === undefined || accept.includes('text/event-stream') || accept.includes('*/*');
    const responses: JsonRpcResponse[] = [];
    const upstreamIds: number[] = [];
    let stream: SseStream | undefined;
    let gone = false;
    let done = false;
    let outstanding = requests.length;
    res.on('close', () => {
      gone = true;
      // Nobody waits for these answers any more: forget them, so that the session can go idle.
      // (The server is not told: a dropped connection is not a cancellation.)
      if (outstanding > 0) for (const id of upstreamIds) this.release(id);
    });
    const openStream = () => {
      stream = new SseStream(
        res,
        { 'mcp-session-id': session.id },
        () => undefined,
        this.sseOptions(),
      );
      for (const response of responses.splice(0)) stream.send(response);
    };
    const finish = () => {
      done = true;
      if (gone) return;
      if (stream) return stream.end();
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': session.id });
      res.end(JSON.stringify(batch ? responses : responses[0]));
    };
    if (canStream && requests.some((r) => progressTokenOf(r) !== undefined)) openStream();
    const deliver = (response: JsonRpcResponse) => {
      if (stream) stream.send(response);
      else responses.push(response);
      if (--outstanding === 0) finish();
    };
    const notify: PostChannel = (message) => {
      if (gone || done || !canStream) return false;
      if (!stream) openStream();
      if (stream!.closed) return false;
      stream!.send(message);
      return true;
    };
    for (const request of requests) {
      const id = this.forwardRequest(session, request, deliver, notify);
      if (id !== undefined) upstreamIds.push(id);
    }
  }

  /** Heartbeats and backpressure for every event stream; the idle timeout only for GET streams. */
  private sseOptions(idleMs?: number): SseOptions {
    return {
      heartbeatMs: this.limits.sseHeartbeatMs,
      maxBufferedBytes: this.limits.maxSseBufferedBytes,
      idleMs,
    };
  }

  private initializeSession(request: JsonRpcRequest, res: ServerResponse): void {
    if (this.closing)
      throw new BridgeHttpError(503, 'The MCP server is stopping', ERROR.serverGone);
    if (this.sessions.size >= this.limits.maxSessions) {
      // Sessions past their idle time go first; the sweeper may not have come by yet.
      this.dropIdleSessions();
      if (this.sessions.size >= this.limits.maxSessions)
        throw new BridgeHttpError(
          429,
          `Too many sessions: this server allows ${this.limits.maxSessions} at once (maxSessions); end one with DELETE or let an idle one expire`,
          ERROR.limitExceeded,
        );
    }
    // Then the budget shared with the other bridges of the account, if any (which drops the
    // account's idle sessions, in all its bridges, before it refuses).
    let release: (() => void) | undefined;
    if (this.budget) {
      const slot = this.budget.take();
      if (!slot) throw new BridgeHttpError(429, this.budget.refusal, ERROR.limitExceeded);
      release = slot;
    }
    const params = request.params ?? {};
    const session: Session = {
      id: randomUUID(),
      inflight: new Map(),
      events: [],
      eventChars: 0,
      nextEventId: 1,
      subscriptions: new Set(),
      lastSeen: Date.now(),
      capabilities: isObject(params.capabilities) ? params.capabilities : {},
      protocolVersion:
        typeof params.protocolVersion === 'string'
          ? params.protocolVersion
          : LATEST_PROTOCOL_VERSION,
      serverRequests: new Map(),
      release,
    };
    this.sessions.set(session.id, session);
    try {
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': session.id });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: request.id, result: this.initializeResult }));
    } catch (error) {
      // Its client never learns its id: the session (and its slot) would only wait to expire.
      this.endSession(session);
      throw error;
    }
  }

  /** Sends a client's request on; returns its upstream id while an answer is awaited. */
  private forwardRequest(
    session: Session,
    request: JsonRpcRequest,
    deliver: (response: JsonRpcResponse) => void,
    notify?: PostChannel,
  ): number | undefined {
    const key = keyOf(request.id);
    if (session.inflight.has(key)) {
      deliver(
        errorResponse(
          request.id,
          ERROR.invalidRequest,
          `Request id ${String(request.id)} is already in flight in this session`,
        ),
      );
      return undefined;
    }
    const upstreamId = this.nextId++;
    const params = request.params ? { ...request.params } : undefined;
    const clientToken = progressTokenOf(request);
    if (clientToken !== undefined && params) {
      const upstreamToken = `p${upstreamId}`;
      params._meta = { ...(params._meta as Record<string, unknown>), progressToken: upstreamToken };
      this.progressRoutes.set(upstreamToken, upstreamId);
    }
    if (request.method === 'resources/subscribe' || request.method === 'resources/unsubscribe') {
      const handled = this.subscription(session, request, deliver);
      if (handled) return undefined;
    }
    session.inflight.set(key, upstreamId);
    this.pending.set(upstreamId, {
      session,
      clientId: request.id,
      clientProgressToken: clientToken,
      deliver,
      notify,
    });
    if (
      !this.channel.send({
        jsonrpc: '2.0',
        id: upstreamId,
        method: request.method,
        ...(params ? { params } : {}),
      })
    ) {
      this.settle(upstreamId, errorResponse(upstreamId, ERROR.serverGone, this.exitText()));
      return undefined;
    }
    return upstreamId;
  }

  /**
   * Subscriptions are counted per resource: the server is asked once for the first subscriber and
   * told to stop after the last one leaves. Returns true when answered locally.
   */
  private subscription(
    session: Session,
    request: JsonRpcRequest,
    deliver: (r: JsonRpcResponse) => void,
  ): boolean {
    const uri = (request.params as { uri?: unknown } | undefined)?.uri;
    if (typeof uri !== 'string') return false;
    const subscribers = this.subscribers.get(uri) ?? new Set<Session>();
    if (request.method === 'resources/subscribe') {
      session.subscriptions.add(uri);
      const first = subscribers.size === 0;
      subscribers.add(session);
      this.subscribers.set(uri, subscribers);
      if (first) return false;
    } else {
      session.subscriptions.delete(uri);
      subscribers.delete(session);
      if (subscribers.size === 0) {
        this.subscribers.delete(uri);
        return false;
      }
    }
    deliver({ jsonrpc: '2.0', id: request.id, result: {} });
    return true;
  }

  /** A client's answer to a request from the server: passed on with the server's own id. */
  private responseFromClient(session: Session, response: JsonRpcResponse): void {
    const entry =
      typeof response.id === 'string' ? session.serverRequests.get(response.id) : undefined;
    // Unknown, or no longer awaited (timed out, cancelled by the server): nobody to tell.
    if (!entry) return;
    this.forgetServerRequest(entry);
    const error = response.error as unknown;
    if (error === undefined) {
      this.channel.send({ jsonrpc: '2.0', id: entry.upstreamId, result: response.result ?? {} });
      return;
    }
    const valid =
      isObject(error) && Number.isInteger(error.code) && typeof error.message === 'string';
    this.channel.send(
      valid
        ? {
            jsonrpc: '2.0',
            id: entry.upstreamId,
            error: {
              code: error.code as number,
              message: error.message as string,
              ...('data' in error ? { data: error.data } : {}),
            },
          }
        : errorResponse(
            entry.upstreamId,
            ERROR.internal,
            'The client answered with a malformed error',
          ),
    );
  }

  private notificationFromClient(session: Session, notification: JsonRpcNotification): void {
    switch (notification.method) {
      case 'notifications/initialized':
        return; // The bridge sent the one the server needs.
      case 'notifications/cancelled': {
        const requestId = notification.params?.requestId as JsonRpcId | undefined;
        const upstreamId =
          requestId === undefined ? undefined : session.inflight.get(keyOf(requestId));
        if (upstreamId === undefined) return;
        this.channel.send({
          jsonrpc: '2.0',
          method: 'notifications/cancelled',
          params: { ...notification.params, requestId: upstreamId },
        });
        // A server that honours the cancellation never answers (the MCP SDK's do not): end the
        // request here, or it would hold its POST and keep the session from ever going idle.
        this.settle(
          upstreamId,
          errorResponse(upstreamId, ERROR.requestCancelled, 'The request was cancelled'),
        );
        return;
      }
      default:
        this.channel.send(notification);
    }
  }

  private get(req: IncomingMessage, res: ServerResponse): void {
    if (!String(req.headers.accept ?? '').includes('text/event-stream')) {
      throw new BridgeHttpError(406, 'Not Acceptable: the client must accept text/event-stream');
    }
    const session = this.session(req, true);
    // One server-to-client stream per session, as the MCP spec allows: a second one while the first
    // is open is refused (409), not swapped in, so that no client can make streams pile up. A
    // client whose stream broke reconnects once the bridge has seen it close; the bridge closes
    // streams that idle (sseIdleMs) or that their client stops reading (maxSseBufferedBytes).
    if (session.stream && !session.stream.closed)
      throw new BridgeHttpError(
        409,
        'Conflict: this session already has an open event stream (one per session)',
        ERROR.limitExceeded,
      );
    const stream = new SseStream(
      res,
      { 'mcp-session-id': session.id },
      (reason) => {
        if (session.stream === stream) session.stream = undefined;
        // The session's idle time starts when its stream ends.
        session.lastSeen = Date.now();
        if (reason === 'overflow')
          this.log(
            `Closed the event stream of session ${session.id.slice(0, 8)}…: its client was not reading (over ${formatBytes(this.limits.maxSseBufferedBytes)} waiting); it may reconnect with Last-Event-ID`,
          );
      },
      this.sseOptions(this.limits.sseIdleMs),
    );
    session.stream = stream;
    const lastEventId = Number(req.headers['last-event-id']);
    if (Number.isFinite(lastEventId)) {
      for (const event of session.events)
        if (event.id > lastEventId) stream.sendJson(event.json, String(event.id));
    }
  }

  private delete(req: IncomingMessage, res: ServerResponse): void {
    const session = this.session(req, true);
    this.endSession(session);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  }

  /** Every way a session ends comes here: DELETE, idle expiry, the server's exit, close(). */
  private endSession(session: Session): void {
    this.sessions.delete(session.id);
    session.release?.();
    session.release = undefined;
    for (const upstreamId of session.inflight.values()) {
      const pending = this.pending.get(upstreamId);
      if (pending) {
        this.pending.delete(upstreamId);
        pending.deliver(errorResponse(pending.clientId ?? null, ERROR.serverGone, 'Session ended'));
      }
    }
    session.inflight.clear();
    // The server's requests to this session will never be answered now: it is told so.
    for (const entry of [...session.serverRequests.values()]) {
      this.forgetServerRequest(entry);
      this.channel.send(
        errorResponse(
          entry.upstreamId,
          ERROR.sessionEnded,
          `The client session ended before answering ${entry.method}`,
        ),
      );
    }
    for (const uri of session.subscriptions) {
      const subscribers = this.subscribers.get(uri);
      subscribers?.delete(session);
      if (subscribers && subscribers.size === 0) {
        this.subscribers.delete(uri);
        this.channel.send({
          jsonrpc: '2.0',
          id: this.nextId++,
          method: 'resources/unsubscribe',
          params: { uri },
        });
      }
    }
    session.stream?.end();
  }

  private dropIdleSessions(): void {
    const cutoff = Date.now() - this.limits.sessionIdleMs;
    for (const session of [...this.sessions.values()]) {
      if (session.lastSeen < cutoff && !session.stream && session.inflight.size === 0)
        this.endSession(session);
    }
  }

  // ---- Upstream side --------------------------------------------------------------------------

  private fromUpstream(message: JsonRpcMessage): void {
    if (isResponse(message)) {
      if (typeof message.id === 'number') this.settle(message.id, message);
      return;
    }
    if (isRequest(message)) return this.requestFromServer(message);
    this.notificationFromServer(message);
  }

  private settle(upstreamId: number, response: JsonRpcResponse): void {
    const pending = this.release(upstreamId);
    pending?.deliver({ ...response, id: pending.clientId ?? response.id });
  }

  /** Stops waiting for an answer (what arrives later is ignored); returns who was waiting. */
  private release(upstreamId: number): Pending | undefined {
    const pending = this.pending.get(upstreamId);
    if (!pending) return undefined;
    this.pending.delete(upstreamId);
    if (pending.clientProgressToken !== undefined) this.progressRoutes.delete(`p${upstreamId}`);
    if (pending.session && pending.clientId !== undefined)
      pending.session.inflight.delete(keyOf(pending.clientId));
    return pending;
  }

  /**
   * A stdout line over maxLineBytes, dropped as it streamed. A response gets its request answered
   * with an error (messageTooLarge) so that nobody waits for it; a request from the server is
   * refused like any other; anything else is only logged.
   */
  private droppedLine(line: DroppedLine): void {
    const limit = formatBytes(this.limits.maxLineBytes);
    const size = formatBytes(line.bytes);
    if (line.method !== undefined) {
      const kind = line.id === undefined ? 'notification' : 'request';
      this.log(
        `Dropped a ${size} ${kind} (${line.method}) from the server: over the ${limit} line limit`,
      );
      if (line.id !== undefined)
        this.channel.send(
          errorResponse(
            line.id,
            ERROR.messageTooLarge,
            `The request exceeded the bridge's ${limit} line limit and was dropped`,
          ),
        );
      return;
    }
    if (typeof line.id === 'number' && this.pending.has(line.id)) {
      this.log(
        `Dropped the server's ${size} response to request ${line.id}: over the ${limit} line limit; the request was answered with an error`,
      );
      this.settle(
        line.id,
        errorResponse(
          line.id,
          ERROR.messageTooLarge,
          `The server's response exceeded the ${limit} line limit and was dropped`,
        ),
      );
      return;
    }
    this.log(
      line.id === undefined
        ? `Dropped a ${size} line from the server's stdout: over the ${limit} line limit, and no request id could be found in it`
        : `Dropped a ${size} line from the server's stdout: over the ${limit} line limit (id ${JSON.stringify(line.id)}, which no request awaits)`,
    );
  }

  private log(line: string): void {
    this.options.onLog?.('system', line);
  }

  /**
   * A request from the server for a client feature. The server serves every session at once and
   * says nothing of whom a request is for; the only session it can be working for is the one with
   * requests in flight. With exactly one, the request goes to it: on the POST of its latest
   * request in flight (an event stream), else on its GET stream. With none or several it is
   * refused at once (-32603), never guessed, except `roots/list` with none, answered with no
   * roots (servers ask for them as soon as they start). A session whose client did not declare
   * the feature gets nothing: the server gets -32601.
   */
  private requestFromServer(request: JsonRpcRequest): void {
    if (request.method === 'ping') {
      this.channel.send({ jsonrpc: '2.0', id: request.id, result: {} });
      return;
    }
    const refuse = (code: number, message: string) =>
      void this.channel.send(errorResponse(request.id, code, message));
    if (!CLIENT_METHODS.has(request.method))
      return refuse(
        ERROR.methodNotFound,
        `${request.method} is not available through the platform's MCP bridge`,
      );
    const busy = this.busySessions();
    if (busy.length === 0 && request.method === 'roots/list') {
      this.channel.send({ jsonrpc: '2.0', id: request.id, result: { roots: [] } });
      return;
    }
    if (busy.length !== 1)
      return refuse(
        ERROR.internal,
        `${request.method}: no single client session can answer (${busy.length === 0 ? 'no session has' : `${busy.length} sessions have`} requests in flight)`,
      );
    const [session] = busy;
    const missing = missingCapability(session.capabilities, request);
    if (missing)
      return refuse(
        ERROR.methodNotFound,
        `${request.method} is not available: the client did not declare ${missing}`,
      );
    const upstreamKey = keyOf(request.id);
    if (this.serverRequests.has(upstreamKey))
      return refuse(ERROR.invalidRequest, `Request id ${String(request.id)} is already in flight`);
    const via = this.latestPending(session)?.notify;
    const entry: ServerRequest = {
      session,
      bridgeId: `s${this.nextId++}`,
      upstreamId: request.id,
      method: request.method,
      via,
      timer: setTimeout(
        () => this.serverRequestTimedOut(entry),
        this.limits.serverRequestTimeoutMs,
      ),
    };
    entry.timer.unref();
    session.serverRequests.set(entry.bridgeId, entry);
    this.serverRequests.set(upstreamKey, entry);
    this.sendTo(session, { ...request, id: entry.bridgeId }, via);
  }

  private serverRequestTimedOut(entry: ServerRequest): void {
    if (this.serverRequests.get(keyOf(entry.upstreamId)) !== entry) return;
    this.forgetServerRequest(entry);
    const seconds = Math.round(this.limits.serverRequestTimeoutMs / 100) / 10;
    this.channel.send(
      errorResponse(
        entry.upstreamId,
        ERROR.requestTimeout,
        `The client did not answer ${entry.method} within ${seconds} s`,
      ),
    );
    this.sendTo(
      entry.session,
      {
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: entry.bridgeId, reason: `Not answered within ${seconds} s` },
      },
      entry.via,
    );
  }

  private forgetServerRequest(entry: ServerRequest): void {
    clearTimeout(entry.timer);
    entry.session.serverRequests.delete(entry.bridgeId);
    const key = keyOf(entry.upstreamId);
    if (this.serverRequests.get(key) === entry) this.serverRequests.delete(key);
  }

  /** The sessions with requests in flight upstream: those the server may be working for. */
  private busySessions(): Session[] {
    const busy: Session[] = [];
    for (const session of this.sessions.values()) if (session.inflight.size > 0) busy.push(session);
    return busy;
  }

  /** A session's latest request still in flight. */
  private latestPending(session: Session): Pending | undefined {
    let latest: number | undefined;
    for (const upstreamId of session.inflight.values()) latest = upstreamId;
    return latest === undefined ? undefined : this.pending.get(latest);
  }

  /** To a session: on the given POST while it can carry it, else on its GET stream (kept for Last-Event-ID). */
  private sendTo(session: Session, message: JsonRpcMessage, via?: PostChannel): void {
    if (via?.(message)) return;
    this.toSession(session, JSON.stringify(message));
  }

  private notificationFromServer(notification: JsonRpcNotification): void {
    const params = notification.params ?? {};
    if (notification.method === 'notifications/progress') {
      const upstreamId = this.progressRoutes.get(String(params.progressToken));
      const pending = upstreamId === undefined ? undefined : this.pending.get(upstreamId);
      if (!pending?.session) return;
      const restored = {
        ...notification,
        params: { ...params, progressToken: pending.clientProgressToken },
      };
      this.sendTo(pending.session, restored, pending.notify);
      return;
    }
    if (notification.method === 'notifications/cancelled') {
      // The server gave up one of its requests to a session: the session is told, with its id.
      const requestId = params.requestId;
      const entry =
        typeof requestId === 'string' || typeof requestId === 'number'
          ? this.serverRequests.get(keyOf(requestId))
          : undefined;
      if (!entry) return;
      this.forgetServerRequest(entry);
      this.sendTo(
        entry.session,
        { ...notification, params: { ...params, requestId: entry.bridgeId } },
        entry.via,
      );
      return;
    }
    if (notification.method === 'notifications/message') {
      // A log message is about what the server is doing, so for whom it is doing it: the one
      // session with requests in flight. With several it cannot be told whose it is, and it is
      // dropped rather than shown to another caller; with none it goes to every session.
      const busy = this.busySessions();
      if (busy.length > 1) return;
      if (busy.length === 1)
        return this.sendTo(busy[0], notification, this.latestPending(busy[0])?.notify);
    }
    // Serialized once, however many sessions it goes to.
    const json = JSON.stringify(notification);
    if (notification.method === 'notifications/resources/updated') {
      for (const session of this.subscribers.get(String(params.uri)) ?? [])
        this.toSession(session, json);
      return;
    }
    // list_changed, logs when no session is busy, and the rest concern every session.
    for (const session of this.sessions.values()) this.toSession(session, json);
  }

  private toSession(session: Session, json: string): void {
    const id = session.nextEventId++;
    session.events.push({ id, json });
    session.eventChars += json.length;
    while (
      session.events.length > EVENT_BUFFER ||
      (session.eventChars > EVENT_BUFFER_CHARS && session.events.length > 1)
    )
      session.eventChars -= session.events.shift()!.json.length;
    session.stream?.sendJson(json, String(id));
  }

  private upstreamExited(info: ExitInfo): void {
    this.exitInfo = info;
    const text = this.exitText();
    for (const upstreamId of [...this.pending.keys()])
      this.settle(upstreamId, errorResponse(upstreamId, ERROR.serverGone, text));
    for (const session of [...this.sessions.values()]) this.endSession(session);
    this.budget?.leave();
    this.options.onExit?.(info);
  }

  private exitText(): string {
    if (!this.exitInfo) return 'The MCP server is not ready yet';
    return this.exitInfo.signal
      ? `The MCP server was stopped (${this.exitInfo.signal})`
      : `The MCP server exited with code ${this.exitInfo.code}`;
  }
}

/** The requests a server may send a client, other than ping (which the bridge answers itself). */
const CLIENT_METHODS = new Set(['sampling/createMessage', 'elicitation/create', 'roots/list']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The client capability a request from the server needs and the session's client did not
 * declare, as text for the error; undefined when it did. As the MCP specification has it:
 * sampling with tools needs `sampling.tools`; an elicitation in URL mode needs `elicitation.url`,
 * one in form mode `elicitation.form` or an empty `elicitation` (form only).
 */
function missingCapability(
  capabilities: Record<string, unknown>,
  request: JsonRpcRequest,
): string | undefined {
  const params = request.params ?? {};
  switch (request.method) {
    case 'sampling/createMessage': {
      const sampling = capabilities.sampling;
      if (!isObject(sampling)) return 'the sampling capability';
      if (
        (params.tools !== undefined || params.toolChoice !== undefined) &&
        !isObject(sampling.tools)
      )
        return 'sampling.tools';
      return undefined;
    }
    case 'elicitation/create': {
      const elicitation = capabilities.elicitation;
      if (!isObject(elicitation)) return 'the elicitation capability';
      if (params.mode === 'url') return isObject(elicitation.url) ? undefined : 'elicitation.url';
      const formOnly = elicitation.form === undefined && elicitation.url === undefined;
      return formOnly || isObject(elicitation.form) ? undefined : 'elicitation.form';
    }
    case 'roots/list':
      return isObject(capabilities.roots) ? undefined : 'the roots capability';
    default:
      return `a capability for ${request.method}`;
  }
}

function progressTokenOf(request: JsonRpcRequest): string | number | undefined {
  const token = (request.params?._meta as { progressToken?: unknown } | undefined)?.progressToken;
  return typeof token === 'string' || typeof token === 'number' ? token : undefined;
}

/** Reads a request body up to a limit; over it, a 413. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      return reject(
        new BridgeHttpError(413, `The request body exceeds ${limit / 1024 / 1024} MiB`),
      );
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.destroy();
        reject(new BridgeHttpError(413, `The request body exceeds ${limit / 1024 / 1024} MiB`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
