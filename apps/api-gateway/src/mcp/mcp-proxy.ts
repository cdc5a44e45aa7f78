import { DomainError } from '@athenic/contracts';
import { bridgeToken } from '@athenic/platform-crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { errors as undiciErrors, type Dispatcher, Pool } from 'undici';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/env';
import { errorResponse, sendError, sendRateLimited } from '../http/error-response';
import { AccountTurns, NoTurnError, TurnRefusal } from '../limits/account-turns';
import { RateLimitedError } from '../limits/rate-limits';
import { echo, requireUuid } from '../http/ids';
import type { Principal } from '../auth/principal';
import { ActivityRecorder } from './activity';
import { GatewayReads } from '../cache/gateway-reads';
import { type McpMessageSummary, summarizeMcpBody } from './mcp-message-summary';
import { SessionBinding } from './session-binding';

export const MCP_BODY_LIMIT_BYTES = 4 * 1024 * 1024;
const SESSION_HEADER = 'mcp-session-id';
const FORWARDED_REQUEST_HEADERS = [
  'content-type',
  'accept',
  'mcp-protocol-version',
  'last-event-id',
];
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'cache-control', 'www-authenticate', 'allow'];
const MAX_POOLS = 10_000;
/** Event streams one connection's server may have open through the gateway: the bridge's session cap (maxSessions in libs/mcp-bridge/src/limits.ts). */
const STREAMS_PER_SERVER = 64;

interface ConnectionPools {
  origin: string;
  messages: Pool;
  streams: Pool;
}

/** The MCP endpoint's path: the connection id and nothing after `/mcp` but a query. */
export const MCP_PATH = /^\/functions\/v1\/mcp-connections\/([^/?]+)\/mcp\/?(?:\?.*)?$/;

/** One MCP request as the access log sees it. */
export interface AccessRecord extends McpMessageSummary {
  account: string;
  connection: string;
  started: number;
  stream: boolean;
}

/**
 * The MCP endpoint of a connection: MCP Streamable HTTP passed through to the connection's
 * bridge, with the platform-held bridge token added. The caller's own key was checked before;
 * here the browser origin, its ownership of the connection (cached) and of the MCP session, and
 * the connection's status. Each connection's server is reached through a pool of its own, so one
 * connection's streams cannot hold the connections another's messages need; every forwarded
 * request has a deadline and every buffered answer a size limit (docs/security/limits.md).
 * Streams are forwarded as they come, with backpressure. One access-log line per request: who,
 * which connection, the JSON-RPC method and tool, status and duration, never arguments or
 * results. It is served before Express and Nest see the request (see mcp-fast-path.ts):
 * this is the platform's hot path.
 */
@Injectable()
export class McpProxy implements OnApplicationShutdown {
  private readonly log = new Logger('McpProxy');
  private readonly pools = new Map<string, ConnectionPools>();
  private readonly sessions: SessionBinding;
  private readonly turns: AccountTurns;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly reads: GatewayReads,
    private readonly activity: ActivityRecorder,
    private readonly accessLog: PinoLogger,
  ) {
    this.accessLog.setContext('McpAccess');
    this.sessions = new SessionBinding(config.internalSecret);
    this.turns = new AccountTurns(
      config.env.MCP_REQUESTS_IN_FLIGHT_PER_ACCOUNT,
      config.env.MCP_REQUESTS_QUEUED_PER_ACCOUNT,
    );
  }

  // Per-connection values derived once, not per message.
  private readonly authorizations = new Map<string, string>();
  private readonly targets = new Map<string, { origin: string; path: string }>();

  private bridgeAuthorization(id: string): string {
    let value = this.authorizations.get(id);
    if (!value) {
      value = `Bearer ${bridgeToken(this.config.internalSecret, id)}`;
      if (this.authorizations.size > 10_000) this.authorizations.clear();
      this.authorizations.set(id, value);
    }
    return value;
  }

  private target(bridgeUrl: string): { origin: string; path: string } {
    let target = this.targets.get(bridgeUrl);
    if (!target) {
      const url = new URL(bridgeUrl);
      target = { origin: url.origin, path: url.pathname };
      if (this.targets.size > 10_000) this.targets.clear();
      this.targets.set(bridgeUrl, target);
    }
    return target;
  }

  /**
   * The connection's own pools of sockets to its bridge: one for messages (POST, DELETE), one
   * for the server's event streams (GET), so streams that stay open cannot hold every socket its
   * messages need. The stream pool is as large as the bridge's session cap (one stream each).
   */
  private pool(connectionId: string, origin: string, stream: boolean): Pool {
    let entry = this.pools.get(connectionId);
    if (entry?.origin !== origin) {
      if (entry) this.closePools(entry);
      else if (this.pools.size >= MAX_POOLS) {
        const [oldest, evicted] = this.pools.entries().next().value!;
        this.pools.delete(oldest);
        this.closePools(evicted);
      }
      const options = { pipelining: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000 };
      entry = {
        origin,
        messages: new Pool(origin, {
          ...options,
          connections: this.config.env.MCP_CONNECTIONS_PER_SERVER,
        }),
        streams: new Pool(origin, { ...options, connections: STREAMS_PER_SERVER }),
      };
      this.pools.set(connectionId, entry);
    }
    return stream ? entry.streams : entry.messages;
  }

  private closePools(entry: ConnectionPools): void {
    void entry.messages.close().catch(() => undefined);
    void entry.streams.close().catch(() => undefined);
  }

  /**
   * The connection no longer runs (stopped, failed, deleted): its pool's sockets are closed once
   * what is in flight has finished, rather than kept alive for a server that is gone.
   */
  release(connectionId: string): void {
    const entry = this.pools.get(connectionId);
    if (!entry) return;
    this.pools.delete(connectionId);
    this.closePools(entry);
  }

  /**
   * A browser page from an origin not allowed is refused before anything else (the MCP
   * specification's defence against DNS rebinding). No Origin header: not a browser, allowed.
   */
  refusesOrigin(req: IncomingMessage, res: ServerResponse): boolean {
    const origin = req.headers.origin;
    if (origin === undefined || this.config.allowedOrigins.has(origin)) return false;
    sendError(
      res,
      errorResponse(
        'forbidden',
        `Origin ${echo(origin)} may not call the MCP endpoint; an operator can allow it in ALLOWED_ORIGINS.`,
      ),
    );
    return true;
  }

  /**
   * The access-log line of one request to the MCP endpoint, written when its answer ends,
   * whatever it is: a refusal before the caller is known (its origin, key or rate) is logged
   * too, with account "-". Called as the request arrives; `handle` fills in the rest.
   */
  track(connectionId: string, res: ServerResponse & { req: IncomingMessage }): AccessRecord {
    const record: AccessRecord = {
      account: '-',
      connection: echo(connectionId, 40),
      rpcMethod: '-',
      started: performance.now(),
      stream: false,
    };
    res.once('close', () => this.logAccess(res.req, res, record));
    return record;
  }

  /** Serves one request whose principal is known; errors become the API's error body. */
  handle(
    connectionId: string,
    req: IncomingMessage & { principal?: Principal },
    res: ServerResponse,
    record: AccessRecord,
  ): void {
    const principal = req.principal!;
    record.account = principal.kind === 'service' ? 'service-role' : principal.accountId;
    this.proxy(connectionId, req, res, record).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (error instanceof RateLimitedError)
        return sendRateLimited(res, error.retryAfterS, error.message);
      if (error instanceof DomainError)
        return sendError(res, errorResponse(error.code, error.message));
      this.log.error(`MCP proxy failure: ${error instanceof Error ? error.stack : String(error)}`);
      sendError(
        res,
        errorResponse('internal_error', 'Something went wrong on our side; try again.'),
      );
    });
  }

  private logAccess(req: IncomingMessage, res: ServerResponse, record: AccessRecord): void {
    this.accessLog.info(
      {
        account: record.account,
        connection: record.connection,
        method: req.method,
        rpc_method: record.rpcMethod,
        ...(record.tool ? { tool: record.tool } : {}),
        status: res.statusCode,
        ...(record.stream ? { stream: true } : {}),
        ...(res.writableFinished ? {} : { aborted: true }),
        duration_ms: Math.round((performance.now() - record.started) * 10) / 10,
      },
      'mcp request',
    );
  }

  private async proxy(
    rawId: string,
    req: IncomingMessage & { principal?: Principal },
    res: ServerResponse,
    record: AccessRecord,
  ): Promise<void> {
    const id = requireUuid(rawId, 'connection');
    if (!['POST', 'GET', 'DELETE'].includes(req.method ?? '')) {
      res.setHeader('allow', 'GET, POST, DELETE');
      return sendError(
        res,
        errorResponse(
          'validation_failed',
          `${req.method} is not an MCP Streamable HTTP method; use POST, GET or DELETE.`,
        ),
      );
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > MCP_BODY_LIMIT_BYTES) {
      return sendError(res, errorResponse('payload_too_large', 'The MCP message exceeds 4 MiB.'));
    }
    const principal = req.principal!;
    if (principal.kind === 'run' && !principal.connectionIds.includes(id)) {
      res.setHeader('www-authenticate', 'Bearer');
      return sendError(
        res,
        errorResponse('unauthorized', 'This run token does not name this connection.'),
      );
    }
    const route = await this.reads.route(id);
    if (principal.kind !== 'service' && principal.accountId !== route.account_id) {
      throw new DomainError('not_found', `No connection ${id} exists.`);
    }
    if (route.status !== 'mcpRunning' || !route.bridge_url) {
      throw new DomainError(
        'connection_not_running',
        `The connection is ${route.status}; it must be mcpRunning to take MCP requests (start it, or wait for it to finish deploying).`,
      );
    }

    const headers: Record<string, string> = {
      authorization: this.bridgeAuthorization(id),
    };
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const clientSession = req.headers[SESSION_HEADER];
    if (typeof clientSession === 'string') {
      const upstreamSession = this.sessions.unwrap(clientSession, id, principal);
      // Another caller's session, or none ever given: the MCP answer for an unknown session.
      if (!upstreamSession)
        throw new DomainError(
          'not_found',
          'No such MCP session for this caller; start a new one with initialize.',
        );
      headers[SESSION_HEADER] = upstreamSession;
    }
    const body = req.method === 'POST' ? await readBody(req, MCP_BODY_LIMIT_BYTES) : undefined;
    if (body) Object.assign(record, summarizeMcpBody(body));
    this.activity.touch(id);

    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const deadline = this.config.env.MCP_REQUEST_TIMEOUT_MS;
    // A request waits for its account's turn (notifications and answers to the server do not:
    // a server waiting for one must get it); the wait counts against its deadline.
    let remaining = deadline;
    if (record.request && principal.kind !== 'service') {
      const asked = performance.now();
      try {
        res.once('close', await this.turns.take(principal.accountId, deadline, abort.signal));
      } catch (error) {
        if (!(error instanceof NoTurnError)) throw error;
        if (error.reason === TurnRefusal.Aborted) return;
        throw error.toHttp();
      }
      remaining = Math.max(1, Math.round(deadline - (performance.now() - asked)));
    }
    const target = this.target(route.bridge_url);
    let upstream: Dispatcher.ResponseData;
    try {
      upstream = await this.pool(id, target.origin, req.method === 'GET').request({
        path: target.path,
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body,
        signal: abort.signal,
        headersTimeout: remaining,
        // A GET is the server's stream to the client: quiet for as long as the server is.
        bodyTimeout: req.method === 'GET' ? 0 : deadline,
      });
    } catch (error) {
      if (abort.signal.aborted) return;
      if (error instanceof undiciErrors.HeadersTimeoutError) throw timeout(deadline);
      this.reads.forgetRoute(id);
      throw new DomainError(
        'service_unavailable',
        "The connection's server cannot be reached right now; try again shortly.",
      );
    }
    res.statusCode = upstream.statusCode;
    for (const name of FORWARDED_RESPONSE_HEADERS) {
      const value = upstream.headers[name];
      if (value !== undefined) res.setHeader(name, value as string);
    }
    const upstreamSession = upstream.headers[SESSION_HEADER];
    if (typeof upstreamSession === 'string')
      res.setHeader(SESSION_HEADER, this.sessions.wrap(upstreamSession, id, principal));
    upstream.body.on('error', () => res.destroy());
    if (String(upstream.headers['content-type'] ?? '').startsWith('text/event-stream')) {
      // A stream: flushed event by event; pipe() pauses the server's side while the client lags.
      record.stream = true;
      res.setHeader('x-accel-buffering', 'no');
      res.flushHeaders();
      res.socket?.setNoDelay(true);
      upstream.body.pipe(res);
      return;
    }
    // A JSON answer: sent whole, headers and body in one write, up to the limit.
    const limit = this.config.env.MCP_RESPONSE_LIMIT_BYTES;
    let answer: Buffer;
    try {
      answer = await readBody(upstream.body, limit);
    } catch (error) {
      upstream.body.destroy();
      if (error instanceof undiciErrors.BodyTimeoutError) throw timeout(deadline);
      if (error instanceof DomainError)
        throw new DomainError(
          'upstream_failed',
          `The MCP server's answer exceeds ${Math.round(limit / 1024 / 1024)} MiB (MCP_RESPONSE_LIMIT_BYTES) and was not passed on.`,
        );
      throw error;
    }
    res.setHeader('content-length', answer.length);
    res.end(answer);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(
      [...this.pools.values()].flatMap((p) => [p.messages.destroy(), p.streams.destroy()]),
    );
    this.pools.clear();
  }
}

function timeout(deadlineMs: number): DomainError {
  return new DomainError(
    'upstream_timeout',
    `The MCP server did not answer within ${deadlineMs / 1000} s (MCP_REQUEST_TIMEOUT_MS).`,
  );
}

/** A whole body, refused (payload_too_large) once it exceeds `limit` bytes. */
async function readBody(stream: AsyncIterable<Buffer>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > limit)
      throw new DomainError(
        'payload_too_large',
        `The MCP message exceeds ${Math.round(limit / 1024 / 1024)} MiB.`,
      );
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
}
