import { ERROR_CODES, type ErrorCode } from '@athenic/contracts';
import type { ServerResponse } from 'node:http';

/** The one error body of the REST API. */
export interface ErrorResponse {
  statusCode: number;
  error: ErrorCode;
  message: string;
  details?: string[];
}

export function errorResponse(code: ErrorCode, message: string, details?: string[]): ErrorResponse {
  return {
    statusCode: ERROR_CODES[code],
    error: code,
    message,
    ...(details && details.length > 1 ? { details } : {}),
  };
}

/** Writes the error body with plain Node calls (so the MCP fast path can use it too). */
export function sendError(
  res: ServerResponse,
  body: ErrorResponse,
  headers: Record<string, string> = {},
): void {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  const json = JSON.stringify(body);
  res.writeHead(body.statusCode, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
  });
  res.end(json);
}

/** A limit was reached: the 429 says so and, in `Retry-After`, when to try again. */
export function sendRateLimited(res: ServerResponse, retryAfterS: number, message: string): void {
  sendError(res, errorResponse('rate_limited', message), { 'retry-after': String(retryAfterS) });
}
