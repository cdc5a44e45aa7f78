import { DomainError } from '@athenic/contracts';
import { bridgeToken } from '@athenic/platform-crypto';
import { All, Controller, Inject, Param, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Transform } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/env';
import { errorResponse, sendError } from '../http/error-response';
import { requireUuid } from '../http/ids';
import { RawBody } from '../http/json-body.interceptor';
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

/**
 * The MCP endpoint of a connection: MCP Streamable HTTP passed through to the connection's
 * bridge, with the platform-held bridge token added. The caller's own key was checked before;
 * here only its ownership of the connection (cached) and the connection's status. Bodies and
 * streams are forwarded as they come, unparsed; a client that goes away cancels nothing.
 */
@ApiTags('mcp-connections')
@ApiBearerAuth()
@Controller('functions/v1/mcp-connections')
export class McpProxyController {
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

  @All(':id/mcp')
  @RawBody()
  @ApiOperation({
    summary:
      "MCP Streamable HTTP (POST, GET, DELETE) to the connection's server; 409 when it is not running.",
  })
  async proxy(
    @Param('id') rawId: string,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const id = requireUuid(rawId, 'connection');
    if (!['POST', 'GET', 'DELETE'].includes(req.method)) {
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
    const route = await this.routes.get(id);
    const principal = req.principal!;
    if (principal.kind === 'account' && principal.accountId !== route.account_id) {
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
      authorization: `Bearer ${bridgeToken(this.config.internalSecret, id)}`,
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
        origin: new URL(route.bridge_url).origin,
        path: new URL(route.bridge_url).pathname,
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body: req.method === 'POST' ? req.pipe(limit(MCP_BODY_LIMIT_BYTES)) : undefined,
        signal: abort.signal,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
    } catch (error) {
      if (abort.signal.aborted) return;
      if ((error as Error).message === 'payload too large')
        return sendError(res, errorResponse('payload_too_large', 'The MCP message exceeds 4 MiB.'));
      this.routes.forget(id);
      throw new DomainError(
        'service_unavailable',
        "The connection's server cannot be reached right now; try again shortly.",
      );
    }
    res.status(upstream.statusCode);
    for (const name of FORWARDED_RESPONSE_HEADERS) {
      const value = upstream.headers[name];
      if (value !== undefined) res.setHeader(name, value as string);
    }
    if (String(upstream.headers['content-type'] ?? '').startsWith('text/event-stream')) {
      res.setHeader('x-accel-buffering', 'no');
      res.flushHeaders();
      res.socket?.setNoDelay(true);
    }
    upstream.body.on('error', () => res.destroy());
    upstream.body.pipe(res);
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
