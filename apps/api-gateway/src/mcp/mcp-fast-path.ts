import { CORRELATION_HEADER, correlationIdFrom, runWithCorrelationId } from '@athenic/logging';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Authenticator } from '../auth/authenticator';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/env';
import { RateLimits } from '../limits/rate-limits';
import { RefusalHold } from '../limits/refusal-hold';
import { MCP_PATH, McpProxy } from './mcp-proxy';
import { decodePathSegment } from '../http/ids';
import { Admission } from '../http/request-pipeline';
import type { Principal } from '../auth/principal';
import { securityHeaders } from '../http/security';

/**
 * Serves the MCP endpoint ahead of Express and Nest: every MCP message is a request, and the
 * per-request machinery of a web framework costs more than the hop itself. The same steps run
 * in the same order as for any route: correlation id, security headers, then (after the browser
 * origin check) authentication and the proxy.
 */
export function installMcpFastPath(app: NestExpressApplication): void {
  const server: Server = app.getHttpServer();
  const admission = new Admission(
    app.get(Authenticator),
    app.get(RateLimits),
    app.get(RefusalHold),
    app.get<GatewayConfig>(GATEWAY_CONFIG).clientAddress,
  );
  const proxy = app.get(McpProxy);
  const others = server.listeners('request') as ((
    req: IncomingMessage,
    res: ServerResponse,
  ) => void)[];
  server.removeAllListeners('request');
  server.on(
    'request',
    (req: IncomingMessage & { principal?: Principal; id?: unknown }, res: ServerResponse) => {
      const match = MCP_PATH.exec(req.url ?? '');
      if (!match) {
        for (const listener of others) listener.call(server, req, res);
        return;
      }
      const id = correlationIdFrom(req.headers[CORRELATION_HEADER]);
      req.id = id;
      res.setHeader(CORRELATION_HEADER, id);
      securityHeaders(req, res, () => undefined);
      const connectionId = decodePathSegment(match[1]);
      runWithCorrelationId(id, () => {
        // Logged however it ends, refusals included (one access-log line per MCP request).
        const record = proxy.track(connectionId, res);
        if (proxy.refusesOrigin(req, res)) return;
        admission.admit(req, res, true, (principal) => {
          req.principal = principal;
          proxy.handle(connectionId, req, res, record);
        });
      });
    },
  );
}
