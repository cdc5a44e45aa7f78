import { DomainError } from '@athenic/contracts';
import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { json } from 'body-parser';
import type { Request, Response } from 'express';

export const REST_BODY_LIMIT_BYTES = 256 * 1024;
/** How deeply a REST body may nest; deeper is refused before anything walks it recursively. */
export const REST_BODY_MAX_DEPTH = 32;

/**
 * Reads JSON bodies after authentication and authorization and before validation (pipes), so the
 * order of checks is 401, 403, then 413/400: an anonymous or unauthorised caller cannot make the
 * gateway read a body at all. It is the last global guard (app.module.ts registers it after
 * AdminOnlyGuard; Nest runs global guards in that order). A guard rather than an interceptor: any
 * interceptor makes Nest wrap every request of every route in rxjs observables and two
 * AsyncResource.bind calls (each of which builds a deprecation wrapper on Node 20), about 5% of the
 * gateway's CPU per read, which have no body at all.
 */
@Injectable()
export class JsonBodyGuard implements CanActivate {
  private readonly parse = json({ limit: REST_BODY_LIMIT_BYTES, strict: true });

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<Request>();
    // Reads have no body to parse (most traffic): nothing to do, and nothing awaited.
    if (req.method === 'GET' || req.method === 'HEAD') return true;
    return this.readBody(req, context.switchToHttp().getResponse<Response>());
  }

  private async readBody(req: Request, res: Response): Promise<boolean> {
    await new Promise<void>((resolve, reject) =>
      this.parse(req, res, (error?: unknown) => (error ? reject(bodyError(error)) : resolve())),
    );
    if (depthOf(req.body as unknown) > REST_BODY_MAX_DEPTH)
      throw new DomainError(
        'validation_failed',
        `The request body nests deeper than ${REST_BODY_MAX_DEPTH} levels.`,
      );
    return true;
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
