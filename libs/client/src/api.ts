/** Where the platform is and the key that opens it. */
export interface PlatformOptions {
  /** The gateway's base URL, for example `http://localhost:3000`. */
  baseUrl: string;
  /** An account API key (`ak_...`), or the service role key together with an account id. */
  apiKey: string;
  /** A `fetch` of your own (tests, proxies); default the global one. */
  fetch?: typeof fetch;
  /** How long one request may take before it is abandoned, in ms (default 15000). */
  timeoutMs?: number;
}

/**
 * What the platform answered when it refused a request: its HTTP status, the error code of its
 * error body (`not_found`, `connection_not_running`, `validation_failed`, ...) and its message.
 */
export class AthenicApiError extends Error {
  override readonly name = 'AthenicApiError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** GET a JSON document from the platform, with the key; a refusal is an `AthenicApiError`. */
export async function getJson<T>(
  platform: PlatformOptions,
  path: string,
  query: Record<string, string | undefined>,
): Promise<T> {
  const url = new URL(path, withSlash(platform.baseUrl));
  for (const [name, value] of Object.entries(query))
    if (value !== undefined) url.searchParams.set(name, value);
  const fetchFn = platform.fetch ?? fetch;
  let response: Response;
  try {
    response = await fetchFn(url, {
      headers: { Authorization: `Bearer ${platform.apiKey}`, Accept: 'application/json' },
      signal: AbortSignal.timeout(platform.timeoutMs ?? 15000),
    });
  } catch (error) {
    throw new AthenicApiError(
      0,
      'unreachable',
      `The platform at ${platform.baseUrl} could not be reached: ${messageOf(error)}`,
    );
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const error = (body ?? {}) as { error?: unknown; message?: unknown };
    throw new AthenicApiError(
      response.status,
      typeof error.error === 'string' ? error.error : 'http_error',
      typeof error.message === 'string'
        ? error.message
        : `The platform answered ${response.status} ${response.statusText}.`,
    );
  }
  if (body === undefined)
    throw new AthenicApiError(
      response.status,
      'invalid_response',
      `The platform answered ${path} with something that is not JSON.`,
    );
  return body as T;
}

function withSlash(base: string): string {
  return base.endsWith('/') ? base : `${base}/`;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
