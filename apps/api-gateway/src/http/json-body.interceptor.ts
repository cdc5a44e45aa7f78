import { DomainError } from '@athenic/contracts';
import {
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { json } from 'body-parser';
import type { Request, Response } from 'express';
import type { Observable } from 'rxjs';

export const REST_BODY_LIMIT_BYTES = 256 * 1024;
/** How deeply a REST body may nest; deeper is refused before anything walks it recursively. */
export const REST_BODY_MAX_DEPTH = 32;
const RAW_BODY = 'athenic:raw-body';

/** Marks a route that reads its body itself (the MCP proxy streams it). */
export const RawBody = () => SetMetadata(RAW_BODY, true);

/**
 * Reads JSON bodies after authentication and authorization (guards) and before validation
 * (pipes), so the order of checks is 401, 403, then 413/400: an anonymous or unauthorised
 * caller cannot make the gateway read a body at all.
 */
@Injectable()
export class JsonBodyInterceptor implements NestInterceptor {
  private readonly parse = json({ limit: REST_BODY_LIMIT_BYTES, strict: true });

  constructor(private readonly reflector: Reflector) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (context.getType() !== 'http' || this.reflector.get<boolean>(RAW_BODY, context.getHandler()))
      return next.handle();
    const req = context.switchToHttp().getRequest<Request>();
    // Reads have no body to parse (most traffic): nothing to do.
    if (req.method === 'GET' || req.method === 'HEAD') return next.handle();
    const res = context.switchToHttp().getResponse<Response>();
    await new Promise<void>((resolve, reject) =>
      this.parse(req, res, (error?: unknown) => (error ? reject(bodyError(error)) : resolve())),
    );
    if (depthOf(req.body as unknown) > REST_BODY_MAX_DEPTH)
      throw new DomainError(
        'validation_failed',
        `The request body nests deeper than ${REST_BODY_MAX_DEPTH} levels.`,
      );
    return next.handle();
  }
}

function bodyError(error: unknown): DomainError {
  switch ((error as { type?: string }).type) {
    case 'entity.parse.failed':
      return new DomainError('validation_failed', 'The request body is not valid JSON.');
    case 'entity.too.large':
      return new DomainError(
        'payload_too_large',
        `The request body exceeds ${REST_BODY_LIMIT_BYTES / 1024} KiB.`,
      );
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new DomainError('validation_failed', 'The request body must be UTF-8 JSON.');
    default:
      return new DomainError('validation_failed', 'The request body could not be read.');
  }
}

/** The nesting depth of a parsed JSON value, walked without recursion (a deep one cannot blow the stack). */
export function depthOf(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (item === null || typeof item !== 'object') continue;
    if (depth + 1 > deepest) deepest = depth + 1;
    if (deepest > REST_BODY_MAX_DEPTH) return deepest;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return deepest;
}
