import type { Params } from 'nestjs-pino';
import { destination, stdSerializers } from 'pino';
import cluster from 'node:cluster';
import type { IncomingMessage } from 'node:http';
import { currentCorrelationId } from './correlation';

export interface LoggingOptions {
  service: string;
  level: string;
  /** Requests on these paths are logged only when they fail (hot paths such as the MCP endpoint). */
  quietPaths?: RegExp;
}

/**
 * Structured JSON logs with pino: one line per event, the service name and the correlation id on
 * every line, credentials and keys redacted wherever they could appear.
 */
export function loggerParams(options: LoggingOptions): Params {
  return {
    pinoHttp: {
      level: options.level,
      base: { service: options.service },
      messageKey: 'msg',
      // Workers of one service (node:cluster) share its stdout: each line in a write of its own,
      // so lines (under the pipe's 4 KiB atomic write) never interleave. A single process
      // batches lines in pino's default asynchronous writes.
      ...(cluster.isWorker ? { stream: destination({ dest: 1, sync: true }) } : {}),
      mixin: () => {
        const correlationId = currentCorrelationId();
        return correlationId ? { correlation_id: correlationId } : {};
      },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'req.headers["x-api-key"]',
          'req.headers["mcp-session-id"]',
          'res.headers["set-cookie"]',
        ],
        censor: '[redacted]',
      },
      // The correlation middleware has already chosen the id.
      genReqId: (req: IncomingMessage) => (req as IncomingMessage & { id?: string }).id ?? '',
      // pino-http serializes `req` when it makes each request's child logger, logged or not; by
      // default it first builds the standard object (every header, address, port) and hands that
      // to these. Unwrapped, they read the three fields they keep straight from the request.
      wrapSerializers: false,
      serializers: {
        req: (req: IncomingMessage & { id?: string; originalUrl?: string }) => ({
          id: req.id,
          method: req.method,
          url: stripQuery(req.originalUrl ?? req.url),
        }),
        res: (res: { statusCode?: number }) => ({ status: res.statusCode }),
        err: stdSerializers.err,
      },
      customLogLevel: (req, res, err) =>
        err || res.statusCode >= 500
          ? 'error'
          : res.statusCode >= 400
            ? 'warn'
            : options.quietPaths?.test(req.url ?? '')
              ? 'silent'
              : 'info',
      autoLogging: { ignore: (req) => req.url === '/health' },
    },
  };
}

/** Query strings may carry ids a user typed; keep the path only. */
function stripQuery(url: string | undefined): string | undefined {
  return url?.split('?')[0];
}
