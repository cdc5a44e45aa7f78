import { DomainError } from '@athenic/contracts';
import { bridgeToken } from '@athenic/platform-crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/env';
import { errorResponse, sendError } from '../http/error-response';
import { requireUuid } from '../http/ids';
import type { Principal } from '../http/principal';
import { ActivityRecorder } from './activity';
import { ConnectionRoutes } from './connection-routes';

export const MCP_BODY_LIMIT_BYTES = 4 * 1024 * 1024;
const FORWARDED_REQUEST_HEADERS = [
  'content-type',
  'accept',
  'mcp-session-id',
  'mcp-protocol-version',
  'last-event-id',
];
const FORWARDED_RESPONSE_HEADERS = [
  'content-type',
  'mcp-session-id',
  'cache-control',
  'www-authenticate',
  'allow',
];

/** The MCP endpoint's path: the connection id and nothing after `/mcp` but a query. */
export const MCP_PATH = /^\/functions\/v1\/mcp-connections\/([^/?]+)\/mcp\/?(?:\?.*)?$/;

/**
 * The MCP endpoint of a connection: MCP Streamable HTTP passed through to the connection's
 * bridge, with the platform-held bridge token added. The caller's own key was checked before;
 * here only its ownership of the connection (cached) and the connection's status. Bodies and
 * streams are forwarded as they come, unparsed; a client that goes away cancels nothing.
 * It is served before Express and Nest see the request (see http/mcp-fast-path.ts): this is
 * the platform's hot path.
 */
@Injectable()
export class McpProxy {
  private readonly log = new Logger('McpProxy');
  private readonly agent = new Agent({
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 600_000,
    connections: 256,
    pipelining: 1,
  });

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly routes: ConnectionRoutes,
    private readonly activity: ActivityRecorder,
  ) {}

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

  /** Serves one request whose principal is known; errors become the API's error body. */
  handle(
    connectionId: string,
    req: IncomingMessage & { principal?: Principal },
    res: ServerResponse,
  ): void {
    this.proxy(connectionId, req, res).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (error instanceof DomainError)
        return sendError(res, errorResponse(error.code, error.message));
      this.log.error(`MCP proxy failure: ${error instanceof Error ? error.stack : String(error)}`);
      sendError(
        res,
        errorResponse('internal_error', 'Something went wrong on our side; try again.'),
      );
    });
  }

  private async proxy(
    rawId: string,
    req: IncomingMessage & { principal?: Principal },
    res: ServerResponse,
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
    const route = await this.routes.get(id);
    if (principal.kind !== 'service' && principal.accountId !== route.account_id) {
      throw new DomainError('not_found', `No connection ${id} exists.`);
    }
    if (route.status !== 'mcpRunning' || !route.bridge_url) {
      throw new DomainError(
        'connection_not_running',
        `The connection is ${route.status}; it must be mcpRunning to take MCP requests (start it, or wait for it to finish deploying).`,
      );
    }
    this.activity.touch(id);

    const headers: Record<string, string> = {
      authorization: this.bridgeAuthorization(id),
    };
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    let upstream: Dispatcher.ResponseData;
    try {
      upstream = await this.agent.request({
        ...this.target(route.bridge_url),
        method: req.method as Dispatcher.HttpMethod,
        headers,
        // A declared length was checked above; only a chunked body needs counting on the way.
        body:
          req.method !== 'POST'
            ? undefined
            : Number.isFinite(declared)
              ? req
              : req.pipe(limit(MCP_BODY_LIMIT_BYTES)),
        signal: abort.signal,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
    } catch (error) {
      if (abort.signal.aborted) return;
      if ((error as Error).message === 'payload too large') {
        return sendError(res, errorResponse('payload_too_large', 'The MCP message exceeds 4 MiB.'));
      }
      this.routes.forget(id);
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
    upstream.body.on('error', () => res.destroy());
    if (String(upstream.headers['content-type'] ?? '').startsWith('text/event-stream')) {
      // A stream: flushed event by event.
      res.setHeader('x-accel-buffering', 'no');
      res.flushHeaders();
      res.socket?.setNoDelay(true);
      upstream.body.pipe(res);
      return;
    }
    // A JSON answer: sent whole, headers and body in one write.
    const body = Buffer.from(await upstream.body.arrayBuffer());
    res.setHeader('content-length', body.length);
    res.end(body);
  }
}

/** Passes a body through, failing once it exceeds the limit. */
function limit(bytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(seen > bytes ? new Error('payload too large') : null, chunk);
    },
  });
}
