export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A small REST client for tests: JSON in and out, the key as a bearer token. */
export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly key?: string,
  ) {}

  withKey(key: string | undefined): ApiClient {
    return new ApiClient(this.baseUrl, key);
  }

  async request<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(this.key ? { authorization: `Bearer ${this.key}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get<T = any>(path: string, headers?: Record<string, string>) {
    return this.request<T>('GET', path, undefined, headers);
  }

  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('POST', path, body, headers);
  }

  put<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('PUT', path, body, headers);
  }

  delete<T = any>(path: string, headers?: Record<string, string>) {
    return this.request<T>('DELETE', path, undefined, headers);
  }

  /** Installs a connection (the guide's request); fails the test unless the answer is 202. */
  async install(body: Record<string, unknown>, headers?: Record<string, string>): Promise<any> {
    const res = await this.post('/functions/v1/mcp-connections/install', body, headers);
    if (res.status !== 202)
      throw new Error(`install answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body;
  }
}

/** Polls an agent run until it ends (completed or failed); returns it (fails with its last state). */
export async function waitForRun(api: ApiClient, id: string, timeoutMs = 60000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < deadline) {
    const res = await api.get(`/functions/v1/agent-runs/${id}`);
    last = res.body;
    if (res.status === 200 && ['completed', 'failed'].includes(res.body.status)) return res.body;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Run ${id} did not end within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

/** Starts an agent run (202 expected) and waits for its end. */
export async function runAgent(
  api: ApiClient,
  body: Record<string, unknown>,
  timeoutMs = 60000,
): Promise<any> {
  const started = await api.post('/functions/v1/agent-runs', body);
  if (started.status !== 202)
    throw new Error(`agent-runs answered ${started.status}: ${JSON.stringify(started.body)}`);
  return waitForRun(api, started.body.id, timeoutMs);
}

/** Polls a connection until it reaches one of `statuses`; returns it (fails with its last state). */
export async function waitForStatus(
  api: ApiClient,
  id: string,
  statuses: string | string[],
  timeoutMs = 30000,
): Promise<any> {
  const wanted = Array.isArray(statuses) ? statuses : [statuses];
  const deadline = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < deadline) {
    const res = await api.get(`/functions/v1/mcp-connections/${id}`);
    last = res.body;
    if (res.status === 200 && wanted.includes(res.body.status)) return res.body;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(
    `Connection ${id} did not reach ${wanted.join(' or ')} within ${timeoutMs} ms; last: ${JSON.stringify(last)}`,
  );
}
