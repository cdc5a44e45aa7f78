import { ERROR_CODES, type ErrorCode } from '@athenic/contracts';
import type { Response } from 'express';

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

export function sendError(
  res: Response,
  body: ErrorResponse,
  headers: Record<string, string> = {},
): void {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.status(body.statusCode).json(body);
}
