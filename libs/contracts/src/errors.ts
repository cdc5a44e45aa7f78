/**
 * Stable error codes. Services raise them, they cross the bus as `{ code, message, details }`,
 * and the gateway maps each to one HTTP status.
 */
export const ERROR_CODES = {
  validation_failed: 400,
  /** A place a connection was told to reach is one no sandbox may reach (docs/security/egress.md). */
  egress_denied: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  payload_too_large: 413,
  /** The request's headers exceed what the server reads (Node's 16 KiB by default). */
  request_header_too_large: 431,
  /** Too many requests for a limit (docs/security/limits.md); the answer says when to retry. */
  rate_limited: 429,
  invalid_transition: 409,
  operation_in_progress: 409,
  connection_not_running: 409,
  already_exists: 409,
  idempotency_conflict: 409,
  /** An account holds as much of something as it may (connections, concurrent agent runs). */
  quota_exceeded: 409,
  internal_error: 500,
  /** A connection's MCP server answered something the platform will not pass on (too large, cut off). */
  upstream_failed: 502,
  service_unavailable: 503,
  /** A forwarded request outlived its deadline. */
  upstream_timeout: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: string[];
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}

/** A failure with a code a caller can act on. Thrown by services, carried by the bus. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: string[],
  ) {
    super(message);
    this.name = 'DomainError';
  }

  toBody(): ErrorBody {
    return this.details
      ? { code: this.code, message: this.message, details: this.details }
      : { code: this.code, message: this.message };
  }
}
