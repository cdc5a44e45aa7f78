import { CORRELATION_HEADER, correlationIdFrom, runWithCorrelationId } from '@athenic/logging';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { json } from 'body-parser';
import type { NextFunction, Request, Response } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { GatewayConfig } from '../config/env';
import { errorResponse, sendError } from './error-response';
import './principal';

/** The only routes served without a key. */
export const PUBLIC_PATHS = ['/health', '/docs', '/docs-json'];
export const REST_BODY_LIMIT = '256kb';

export function isPublicPath(path: string): boolean {
  return PUBLIC_PATHS.some((p) => path === p || path.startsWith(`${p}/`));
}

/**
 * What runs before any route, in this order: the correlation id, authentication (before the
 * body is read, so an anonymous caller cannot make us parse anything), then body parsing with
 * its size limit, with its failures turned into the API's error body.
 */
export function configureRequestPipeline(app: NestExpressApplication, config: GatewayConfig): void {
  app.use(correlation);
  app.use(authenticate(config.serviceRoleKey));
  app.use(json({ limit: REST_BODY_LIMIT, strict: true }));
  app.use(bodyErrors);
}

function correlation(req: Request, res: Response, next: NextFunction): void {
  const id = correlationIdFrom(req.headers[CORRELATION_HEADER]);
  req.id = id;
  res.setHeader(CORRELATION_HEADER, id);
  runWithCorrelationId(id, next);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export function authenticate(serviceRoleKey: string) {
  const serviceDigest = digest(serviceRoleKey);
  return (req: Request, res: Response, next: NextFunction): void => {
    if (isPublicPath(req.path)) return next();
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (match && timingSafeEqual(digest(match[1]), serviceDigest)) {
      req.principal = { kind: 'service' };
      return next();
    }
    sendError(
      res,
      errorResponse(
        'unauthorized',
        match
          ? 'The API key is not valid; check the Authorization header.'
          : 'Send an API key as "Authorization: Bearer <key>".',
      ),
      { 'WWW-Authenticate': 'Bearer' },
    );
  };
}

function bodyErrors(error: unknown, _req: Request, res: Response, next: NextFunction): void {
  const type = (error as { type?: string } | undefined)?.type;
  if (type === 'entity.parse.failed') {
    return sendError(
      res,
      errorResponse('validation_failed', 'The request body is not valid JSON.'),
    );
  }
  if (type === 'entity.too.large') {
    return sendError(
      res,
      errorResponse(
        'payload_too_large',
        `The request body exceeds ${REST_BODY_LIMIT.replace('kb', ' KiB')}.`,
      ),
    );
  }
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return sendError(
      res,
      errorResponse('validation_failed', 'The request body must be UTF-8 JSON.'),
    );
  }
  next(error);
}
