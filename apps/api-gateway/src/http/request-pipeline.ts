import { CORRELATION_HEADER, correlationIdFrom, runWithCorrelationId } from '@athenic/logging';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DomainError } from '@athenic/contracts';
import { Logger } from '@nestjs/common';
import { Authenticator } from '../auth/authenticator';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/env';
import { RateLimits } from '../limits/rate-limits';
import { RefusalHold } from '../limits/refusal-hold';
import { errorResponse, sendError, sendRateLimited } from './error-response';
import type { Principal } from '../auth/principal';

const log = new Logger('Http');

/** The only routes served without a key. */
export const PUBLIC_PATHS = ['/health', '/docs', '/docs-json'];

export function isPublicPath(path: string): boolean {
  return PUBLIC_PATHS.some((p) => path === p || path.startsWith(`${p}/`));
}

/**
 * What runs before any route: the correlation id, then authentication (before the body is read;
 * bodies are read by JsonBodyGuard, the last guard). The MCP endpoint takes the same
 * steps on its own fast path (mcp/mcp-fast-path.ts).
 */
export function configureRequestPipeline(app: NestExpressApplication): void {
  app.use(correlation);
  app.use(
    authenticate(
      new Admission(
        app.get(Authenticator),
        app.get(RateLimits),
        app.get(RefusalHold),
        app.get<GatewayConfig>(GATEWAY_CONFIG).clientAddress,
      ),
    ),
  );
}

/**
 * Who may come in, the same for every route and the MCP endpoint: an address that failed to
 * authenticate too often waits (429, before any lookup); a key is checked (401, and one more
 * failure counted for the address); an account past its request rate waits (429). The service
 * role is not rate limited. Each of those 429s is held a moment before it is sent (RefusalHold).
 */
export class Admission {
  constructor(
    private readonly authenticator: Authenticator,
    private readonly limits: RateLimits,
    private readonly hold: RefusalHold,
    /** Who is asking, for per-address limits (TRUSTED_PROXIES, config/env.ts). */
    private readonly clientAddress: (req: IncomingMessage) => string,
  ) {}

  /** An account's request rate (a minute's budget, spread out over seconds): refused or not. */
  private async requestRate(accountId: string, res: ServerResponse): Promise<boolean> {
    const refusal = await this.limits.takeRequest(accountId);
    if (!refusal) return false;
    const { limit, wait, reopensInMs } = refusal;
    const window = limit === 'requestsPerSecond' ? 'a second' : 'a minute';
    this.hold.answer(res, reopensInMs, () =>
      sendRateLimited(
        res,
        wait,
        `This account sent more than ${this.limits.limit(limit)} requests in ${window}; retry after ${wait} s.`,
      ),
    );
    return true;
  }

  /** The 429 of an address that failed to authenticate too often, held like any refusal. */
  private tooManyFailures(res: ServerResponse, wait: number): void {
    this.hold.answer(res, wait * 1000, () =>
      sendRateLimited(
        res,
        wait,
        `Too many failed authentications from this address; retry after ${wait} s.`,
      ),
    );
  }

  /** Calls `proceed` with the caller, or answers the request itself. */
  admit(
    req: IncomingMessage,
    res: ServerResponse,
    acceptsRunTokens: boolean,
    proceed: (principal: Principal) => void,
  ): void {
    const address = this.clientAddress(req);
    const blocked = this.limits.blockedFor(address);
    if (blocked) return this.tooManyFailures(res, blocked);
    this.authenticator
      .authenticate(req.headers.authorization)
      .then(
        async (result) => {
          if (!result.ok) {
            const wait =
              result.reason === 'invalid'
                ? await this.limits.take('authFailures', address)
                : undefined;
            return wait
              ? this.tooManyFailures(res, wait)
              : authenticationFailure(res, result.reason);
          }
          const principal = result.principal;
          // A run token opens the MCP endpoints of its connections and nothing else.
          if (principal.kind === 'run' && !acceptsRunTokens)
            return authenticationFailure(res, 'run-token');
          if (principal.kind !== 'service' && (await this.requestRate(principal.accountId, res)))
            return;
          proceed(principal);
        },
        (error: unknown) => authenticationError(res, error),
      )
      // Whatever else goes wrong answers this request and nothing more.
      .catch((error: unknown) => unexpectedFailure(res, error));
  }
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

export function authenticate(admission: Admission) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (isPublicPath(req.path)) return next();
    admission.admit(req, res, false, (principal) => {
      req.principal = principal;
      next();
    });
  };
}
