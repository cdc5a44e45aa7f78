import {
  ApiClient,
  connectMcpClient,
  createTestInfrastructure,
  SERVICE_NAMES,
  type TestInfrastructure,
  TestPlatform,
  waitForStatus,
} from '@athenic/testing';
import { connect } from 'node:net';

// Every route, REST and MCP, fed what an attacker would send: each answer is a 4xx with a
// message, and no service of the platform restarts (docs/security/limits.md).

const HOSTILE_SEGMENTS = [
  '%E0%A4%A', // malformed percent-encoding
  '%FF%FE%FD', // bytes that are not UTF-8
  '%C0%AF', // an overlong UTF-8 encoding of "/"
  'x'.repeat(6000), // an overlong id
  '..%2F..%2Fetc%2Fpasswd',
  '__proto__',
  'constructor',
  '%00',
];

const HOSTILE_BODIES: (string | Buffer)[] = [
  '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
  '{"mcp_server_id":"memory-server","account_id":"acct-h","__proto__":{"isAdmin":true}}',
  Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), // {"a":"<bad UTF-8>"}
  '{"unterminated": ',
  `${'['.repeat(5000)}${']'.repeat(5000)}`,
  'null',
];

interface RawAnswer {
  status: number;
  body: string;
}

/** One HTTP/1.1 request written byte for byte (no client library normalises it). */
function raw(port: number, head: string, body: string | Buffer = ''): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const split = text.indexOf('\r\n\r\n');
      let content = split >= 0 ? text.slice(split + 4) : '';
      if (/\r\ntransfer-encoding: chunked/i.test(text.slice(0, split))) {
        content = content.replace(/^[0-9a-f]+\r\n|\r\n[0-9a-f]+\r\n/gi, '').replace(/\r\n$/, '');
      }
      resolve({ status, body: content });
    });
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    socket.write(
      `${head}\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-length: ${bytes.length}\r\n` +
        (bytes.length ? 'content-type: application/json\r\n' : '') +
        '\r\n',
    );
    // Not end(): the request is whole, and a half-closed socket is not what clients send.
    socket.write(bytes);
  });
}

function expectClientError(answer: RawAnswer, what: string): void {
  const where = `${what} answered ${answer.status}: ${answer.body.slice(0, 300)}`;
  expect({ where, ok: answer.status >= 400 && answer.status < 500 }).toEqual({ where, ok: true });
  let message: unknown;
  try {
    const parsed = JSON.parse(answer.body) as { message?: unknown };
    message = parsed.message ?? (parsed as { error?: { message?: unknown } }).error?.message;
  } catch {
    message = undefined;
  }
  expect({ where, message: typeof message }).toEqual({ where, message: 'string' });
}

describe('hostile input at every route', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let port: number;
  let accountKey: string;
  let connectionId: string;
  const pids = new Map<string, number | undefined>();
  let operations: { method: string; path: string; takesBody: boolean; query: string[] }[];

  beforeAll(async () => {
    infra = await createTestInfrastructure('hostile');
    // Hundreds of requests a second from one account are the point here, not a rate to refuse
    // (rate limits have their own test).
    platform = await new TestPlatform(infra, {
      env: { RATE_LIMIT_REQUESTS_PER_SECOND: '100000' },
    }).start();
    port = Number(new URL(platform.baseUrl).port);
    for (const name of SERVICE_NAMES) pids.set(name, platform.service(name).pid);
    const admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    accountKey = (await admin.post('/functions/v1/api-keys', { account_id: 'acct-h', name: 'h' }))
      .body.key;
    connectionId = (
      await admin.install({ mcp_server_id: 'memory-server', account_id: 'acct-h', title: 'Memory' })
    ).id;
    await waitForStatus(admin, connectionId, 'mcpRunning');
    const spec = (await admin.get('/docs-json')).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    operations = Object.entries(spec.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({
        method: method.toUpperCase(),
        path,
        takesBody: !!(operation as { requestBody?: unknown }).requestBody || path.endsWith('/mcp'),
        query: ((operation as { parameters?: { in: string; name: string }[] }).parameters ?? [])
          .filter((p) => p.in === 'query')
          .map((p) => p.name),
      })),
    );
    expect(operations.length).toBeGreaterThan(15);
  });

  afterAll(async () => {
    await platform?.stop();
    await infra?.dispose();
  });

  afterEach(() => {
    // Not one service restarted or died.
    for (const name of SERVICE_NAMES) {
      expect({ name, running: platform.service(name).running }).toEqual({ name, running: true });
      expect({ name, pid: platform.service(name).pid }).toEqual({ name, pid: pids.get(name) });
    }
  });

  it('answers hostile path parameters on every route with a 4xx and a message', async () => {
    const templated = operations.filter((o) => o.path.includes('{'));
    expect(templated.some((o) => o.path.endsWith('/mcp'))).toBe(true);
    for (const key of [accountKey, platform.serviceRoleKey]) {
      for (const { method, path } of templated) {
        for (const segment of HOSTILE_SEGMENTS) {
          const url = `${path.replace(/\{[^}]+\}/g, segment)}?account_id=acct-h`;
          const answer = await raw(
            port,
            `${method} ${url} HTTP/1.1\r\nauthorization: Bearer ${key}`,
          );
          expectClientError(answer, `${method} ${url.slice(0, 120)}`);
        }
      }
    }
  });

  it('answers hostile query values on every route with a 4xx and a message', async () => {
    const withQuery = operations.filter((o) => o.query.length > 0);
    expect(withQuery.length).toBeGreaterThan(3);
    for (const { method, path, query } of withQuery) {
      for (const name of query) {
        for (const value of ['%00', '%E0%A4%A', 'a'.repeat(3000), '%FF', '%0D%0Aset-cookie:%20x']) {
          const url = `${path.replace(/\{[^}]+\}/g, connectionId)}?${name}=${value}`;
          const answer = await raw(
            port,
            `${method} ${url} HTTP/1.1\r\nauthorization: Bearer ${platform.serviceRoleKey}`,
          );
          expectClientError(answer, `${method} ${url.slice(0, 120)}`);
        }
      }
    }
  });

  it('answers hostile bodies on every route that takes one with a 4xx and a message', async () => {
    const withBody = operations.filter(
      (o) => o.takesBody && ['POST', 'PUT', 'PATCH'].includes(o.method),
    );
    expect(withBody.length).toBeGreaterThan(5);
    for (const { method, path } of withBody) {
      const url = `${path.replace(/\{[^}]+\}/g, connectionId)}?account_id=acct-h`;
      for (const body of HOSTILE_BODIES) {
        const answer = await raw(
          port,
          `${method} ${url} HTTP/1.1\r\nauthorization: Bearer ${accountKey}\r\naccept: application/json, text/event-stream`,
          body,
        );
        // The MCP endpoint answers a JSON-RPC error; everything else the API's error body.
        expectClientError(answer, `${method} ${path} with ${String(body).slice(0, 40)}`);
      }
    }
  });

  it('answers oversized headers, a bad request line and a bad key with a 4xx and a message', async () => {
    const huge = await raw(
      port,
      `GET /functions/v1/mcp-servers HTTP/1.1\r\nauthorization: Bearer ${accountKey}\r\nx-filler: ${'a'.repeat(40_000)}`,
    );
    expect(huge.status).toBe(431);
    expectClientError(huge, 'oversized headers');
    const manyHeaders = Array.from({ length: 3000 }, (_, i) => `x-h${i}: v`).join('\r\n');
    expectClientError(await raw(port, `GET /health HTTP/1.1\r\n${manyHeaders}`), 'many headers');
    expectClientError(await raw(port, 'GET /health\x00 HTTP/1.1'), 'a NUL in the request line');
    expectClientError(
      await raw(
        port,
        `GET /functions/v1/mcp-servers HTTP/1.1\r\nauthorization: Bearer ak_${'%'.repeat(60)}`,
      ),
      'a malformed key',
    );
    expectClientError(
      await raw(
        port,
        `GET /functions/v1/mcp-connections/${connectionId}/mcp HTTP/1.1\r\nauthorization: Bearer ${'x'.repeat(9000)}`,
      ),
      'an overlong bearer token on the MCP endpoint',
    );
    expectClientError(
      await raw(
        port,
        `GET /functions/v1/mcp-connections/${connectionId}/mcp HTTP/1.1\r\nauthorization: Bearer ${accountKey}\r\nmcp-session-id: ${'%E0'.repeat(100)}`,
      ),
      'a malformed session id',
    );
  });

  it('refuses a browser origin that is not allowed on the MCP endpoint, before authentication', async () => {
    const url = `/functions/v1/mcp-connections/${connectionId}/mcp`;
    const initialize = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'x', version: '1' },
      },
    });
    const head = (origin: string, key = accountKey) =>
      `POST ${url} HTTP/1.1\r\nauthorization: Bearer ${key}\r\naccept: application/json, text/event-stream\r\norigin: ${origin}`;
    const evil = await raw(port, head('http://evil.example'), initialize);
    expect(evil.status).toBe(403);
    expect(JSON.parse(evil.body).message).toContain('ALLOWED_ORIGINS');
    // Refused before the key is even looked at.
    expect((await raw(port, head('http://evil.example', 'nonsense'), initialize)).status).toBe(403);
    // The gateway's own public origin (its console) is allowed.
    const own = await raw(port, head(`http://localhost:${port}`), initialize);
    expect(own.status).toBe(200);
  });

  it('binds an MCP session to the caller that opened it', async () => {
    const url = `${platform.baseUrl}/functions/v1/mcp-connections/${connectionId}/mcp`;
    const client = await connectMcpClient(url, platform.serviceRoleKey, 'owner');
    const sessionId = (client.transport as { sessionId?: string }).sessionId!;
    expect(sessionId).toMatch(/^[\x21-\x7e]+\.[A-Za-z0-9_-]{22}$/);
    const call = (key: string, session: string) =>
      raw(
        port,
        `POST /functions/v1/mcp-connections/${connectionId}/mcp HTTP/1.1\r\nauthorization: Bearer ${key}\r\naccept: application/json, text/event-stream\r\nmcp-protocol-version: 2025-06-18\r\nmcp-session-id: ${session}`,
        JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' }),
      );
    // The one who opened it uses it.
    const own = await call(platform.serviceRoleKey, sessionId);
    expect(own.status).toBe(200);
    expect(own.body).toContain('read_graph');
    // The same account through another key of its own is another caller: not found.
    const other = await call(accountKey, sessionId);
    expect(other.status).toBe(404);
    expect(JSON.parse(other.body).message).toContain('initialize');
    // The bridge's own id, or one with a forged tag, is not a session either.
    const bare = sessionId.slice(0, sessionId.lastIndexOf('.'));
    expect((await call(platform.serviceRoleKey, bare)).status).toBe(404);
    expect((await call(platform.serviceRoleKey, `${bare}.${'A'.repeat(22)}`)).status).toBe(404);
    await client.close();
  });

  it('writes one access-log line per MCP request, without arguments or results', async () => {
    const gateway = platform.service('api-gateway');
    const since = gateway.lines.length;
    const url = `${platform.baseUrl}/functions/v1/mcp-connections/${connectionId}/mcp`;
    const client = await connectMcpClient(url, accountKey, 'logged');
    const canary = `canary-${Date.now()}`;
    await client.callTool({ name: 'search_nodes', arguments: { query: canary } });
    await client.close();
    const access = () => gateway.lines.slice(since).filter((l) => l.json?.msg === 'mcp request');
    await gateway.waitForLog((l) => l.json?.tool === 'search_nodes', 10000, since);
    const call = access().find((l) => l.json?.tool === 'search_nodes')!.json!;
    expect(call).toMatchObject({
      account: 'acct-h',
      connection: connectionId,
      method: 'POST',
      rpc_method: 'tools/call',
      status: 200,
      duration_ms: expect.any(Number),
    });
    expect(access().map((l) => l.json!.rpc_method)).toEqual(
      expect.arrayContaining(['initialize', 'notifications/initialized', 'tools/call']),
    );
    expect(gateway.lines.slice(since).some((l) => l.raw.includes(canary))).toBe(false);
    // A request refused before its caller is known is logged too, as nobody's.
    const refused = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer not-a-key-${canary}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(refused.status).toBe(401);
    await gateway.waitForLog(
      (l) => l.json?.msg === 'mcp request' && l.json?.status === 401,
      10000,
      since,
    );
    expect(access().find((l) => l.json!.status === 401)!.json).toMatchObject({
      account: '-',
      connection: connectionId,
      method: 'POST',
      rpc_method: '-',
    });
    expect(gateway.lines.slice(since).some((l) => l.raw.includes(canary))).toBe(false);
  });

  it('sends security headers on REST and MCP answers', async () => {
    for (const path of ['/health', `/functions/v1/mcp-connections/${connectionId}/mcp`]) {
      const res = await fetch(`${platform.baseUrl}${path}`, {
        headers: { authorization: `Bearer ${accountKey}` },
      });
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });

  it('still serves normal traffic afterwards, and nothing was polluted', async () => {
    const api = new ApiClient(platform.baseUrl, accountKey);
    const health = await api.get('/health');
    expect(health.status).toBe(200);
    const list = await api.get('/functions/v1/mcp-connections?account_id=acct-h');
    expect(list.status).toBe(200);
    // Only the connection this test installed: no hostile body created one.
    expect(list.body.data.map((c: { id: string }) => c.id)).toEqual([connectionId]);
    const one = await api.get(`/functions/v1/mcp-connections/${connectionId}`);
    expect(one.body.polluted).toBeUndefined();
    expect(one.body.isAdmin).toBeUndefined();
  });
});
