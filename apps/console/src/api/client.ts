import type { Session } from './session';

/** A refusal of the API: its status, error code and message (and the details of a 400). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: string[] = [],
  ) {
    super(message);
  }
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: unknown;
  query?: Record<string, string | undefined>;
  /** Add the session's account_id (the routes that take one). */
  account?: boolean;
  signal?: AbortSignal;
}

/** The gateway's REST API with the session's key: the console's only way to the platform. */
export async function api<T>(
  session: Session,
  path: string,
  options: RequestOptions = {},
): Promise<T> {
  const url = new URL(path, window.location.origin);
  const query = { ...options.query };
  if (options.account && session.accountId) query.account_id = session.accountId;
  for (const [name, value] of Object.entries(query))
    if (value !== undefined) url.searchParams.set(name, value);
  let response: Response;
  try {
    response = await fetch(url, {
      method: options.method ?? 'GET',
      headers: {
        Authorization: `Bearer ${session.key}`,
        Accept: 'application/json',
        ...(options.body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (error) {
    throw new ApiError(0, 'unreachable', `The platform could not be reached: ${String(error)}`);
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let body: any;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok)
    throw new ApiError(
      response.status,
      typeof body?.error === 'string' ? body.error : 'http_error',
      typeof body?.message === 'string'
        ? body.message
        : `The platform answered ${response.status}.`,
      Array.isArray(body?.details) ? body.details : [],
    );
  return body as T;
}

/** What the user should read for a failure, and what to do about it. */
export function explain(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401) return `${error.message} Sign in again with a valid key.`;
    if (error.status === 0) return `${error.message} Is the platform running?`;
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}
