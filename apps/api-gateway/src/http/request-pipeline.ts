import { CORRELATION_HEADER, correlationIdFrom, runWithCorrelationId } from '@athenic/logging';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import type { ServerResponse } from 'node:http';
import { DomainError } from '@athenic/contracts';
import { Logger } from '@nestjs/common';
import { Authenticator } from '../auth/authenticator';
import { errorResponse, sendError } from './error-response';
import './principal';

const log = new Logger('Http');

/** The only routes served without a key. */
export const PUBLIC_PATHS = ['/health', '/docs', '/docs-json'];

export function isPublicPath(path: string): boolean {
  return PUBLIC_PATHS.some((p) => path === p || path.startsWith(`${p}/`));
}

/**
 * What runs before any route: the correlation id, then authentication (before the body is read;
 * bodies are read by JsonBodyInterceptor, after the guards). The MCP endpoint takes the same
 * steps on its own fast path (mcp-fast-path.ts).
 */
export function configureRequestPipeline(app: NestExpressApplication): void {
  app.use(correlation);
  app.use(authenticate(app.get(Authenticator)));
}

/** The credential service could not be asked: say so, rather than calling the key bad. */
export function authenticationError(res: ServerResponse, error: unknown): void {
  sendError(
    res,
    error instanceof DomainError
      ? errorResponse(error.code, error.message)
      : errorResponse(
          'service_unavailable',
          'API keys cannot be checked right now; try again shortly.',
        ),
  );
}

const FAILURES = {
  missing: 'Send an API key as "Authorization: Bearer <key>".',
  invalid:
    'The API key or token is not valid, expired or was revoked; check the Authorization header.',
  'run-token':
    'A run token only opens the MCP endpoints of the connections it names; use an API key here.',
};

/** A failure nobody expected while serving a request: logged, answered with a 500, survived. */
export function unexpectedFailure(res: ServerResponse, error: unknown): void {
  log.error(
    `Unexpected failure serving a request: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
  if (res.headersSent) return void res.destroy();
  sendError(res, errorResponse('internal_error', 'Something went wrong on our side; try again.'));
}

/** The 401 of a missing or bad key. */
export function authenticationFailure(res: ServerResponse, reason: keyof typeof FAILURES): void {
  sendError(res, errorResponse('unauthorized', FAILURES[reason]), { 'WWW-Authenticate': 'Bearer' });
}

function correlation(req: Request, res: Response, next: NextFunction): void {
  const id = correlationIdFrom(req.headers[CORRELATION_HEADER]);
  req.id = id;
  res.setHeader(CORRELATION_HEADER, id);
  runWithCorrelationId(id, next);
}

export function authenticate(authenticator: Authenticator) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (isPublicPath(req.path)) return next();
    authenticator
      .authenticate(req.headers.authorization)
      .then(
        (result) => {
          // A run token opens the MCP endpoints of its connections and nothing else.
          if (result.ok && result.principal.kind !== 'run') {
            req.principal = result.principal;
            return next();
          }
          if (result.ok) return authenticationFailure(res, 'run-token');
          authenticationFailure(res, result.reason);
        },
        (error: unknown) => authenticationError(res, error),
      )
      .catch((error: unknown) => unexpectedFailure(res, error));
  };
}
