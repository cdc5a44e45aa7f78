import { ChildUpstream, McpBridge, SessionBudget } from '@athenic/mcp-bridge';
import { REPO_ROOT } from '@athenic/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { createServer, type Server } from 'node:http';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const PACKAGES = path.join(REPO_ROOT, 'mcp-packages');
const memoryEntry = path.join(
  PACKAGES,
  'modelcontextprotocol__server-memory/node_modules/@modelcontextprotocol/server-memory/dist/index.js',
);
const everythingEntry = path.join(
  PACKAGES,
  'modelcontextprotocol__server-everything/node_modules/@modelcontextprotocol/server-everything/dist/index.js',
);
const TOKEN = 'bridge-test-token-0123456789abcdef';

async function serve(bridge: McpBridge): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => bridge.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/mcp`, server };
}

async function client(url: string, token = TOKEN): Promise<Client> {
  const c = new Client({ name: 'bridge-test', version: '1.0.0' });
  await c.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return c;
}

describe('the MCP bridge: one stdio server shared by many Streamable HTTP sessions', () => {
  let workdir: string;
  let upstream: ChildUpstream;
  let bridge: McpBridge;
  let url: string;
  let server: Server;
  const logs: string[] = [];

  beforeAll(async () => {
    workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-'));
    upstream = ChildUpstream.spawn(process.execPath, [memoryEntry], {
      cwd: workdir,
      env: { PATH: process.env.PATH, MEMORY_FILE_PATH: path.join(workdir, 'memory.jsonl') },
    });
    bridge = new McpBridge(upstream, {
      token: TOKEN,
      onLog: (stream, line) => logs.push(`${stream}: ${line}`),
    });
    const ready = await bridge.start(15000);
    expect(ready.tools).toBe(9);
    ({ url, server } = await serve(bridge));
  });

  afterAll(async () => {
    await bridge?.close();
    server?.close();
    fs.rmSync(workdir, { recursive: true, force: true });
  });

  it("lets two independent clients share one server process and see each other's changes", async () => {
    const a = await client(url);
    const b = await client(url);
    await a.callTool({
      name: 'create_entities',
      arguments: {
        entities: [
          { name: 'Ada', entityType: 'person', observations: ['wrote the first program'] },
        ],
      },
    });
    const graph = await b.callTool({ name: 'read_graph', arguments: {} });
    expect(JSON.stringify(graph.content)).toContain('wrote the first program');
    expect(bridge.sessionCount).toBeGreaterThanOrEqual(2);
    await a.close();
    await b.close();
  });

  it("keeps each session's request ids apart when both use the same ids at once", async () => {
    const clients = await Promise.all([client(url), client(url), client(url)]);
    const results = await Promise.all(
      clients.flatMap((c, i) =>
        [0, 1, 2].map((j) =>
          c.callTool({ name: 'search_nodes', arguments: { query: `nothing-${i}-${j}` } }),
        ),
      ),
    );
    expect(results).toHaveLength(9);
    for (const r of results) expect(r.isError).toBeFalsy();
    await Promise.all(clients.map((c) => c.close()));
  });

  it('forwards stderr as log lines and answers pings', async () => {
    expect(
      logs.some((l) => l.startsWith('stderr: ') && l.includes('Knowledge Graph MCP Server')),
    ).toBe(true);
    expect(await bridge.ping(2000)).toBeGreaterThan(0);
  });

  it('refuses a wrong token with 401', async () => {
    await expect(client(url, 'wrong-token')).rejects.toThrow();
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: 'Bearer nope', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(401);
  });

  it('answers 404 for an unknown session and 400 for a request without one', async () => {
    const headers = {
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(
      (
        await fetch(url, {
          method: 'POST',
          headers: { ...headers, 'mcp-session-id': 'no-such-session' },
          body,
        })
      ).status,
    ).toBe(404);
    expect((await fetch(url, { method: 'POST', headers, body })).status).toBe(400);
    expect((await fetch(url, { method: 'POST', headers, body: '{not json' })).status).toBe(400);
  });

  it('ends a session on DELETE: its id is then unknown', async () => {
    const c = await client(url);
    const transport = (c as unknown as { _transport: StreamableHTTPClientTransport })._transport;
    const sessionId = transport.sessionId!;
    await transport.terminateSession();
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/json',
        'mcp-session-id': sessionId,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(res.status).toBe(404);
  });
});

describe('the MCP bridge with a server that reports progress', () => {
  it('routes progress notifications back to the asking request with its own token', async () => {
    const upstream = ChildUpstream.spawn(process.execPath, [everythingEntry, 'stdio'], {
      env: { PATH: process.env.PATH },
    });
    const bridge = new McpBridge(upstream, { token: TOKEN });
    await bridge.start(15000);
    const { url, server } = await serve(bridge);
    try {
      const [a, b] = [await client(url), await client(url)];
      const seen: { client: string; progress: number }[] = [];
      await Promise.all(
        [a, b].map((c, i) =>
          c.callTool(
            { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 3 } },
            undefined,
            {
              onprogress: (p) => seen.push({ client: `c${i}`, progress: p.progress }),
            },
          ),
        ),
      );
      expect(seen.filter((s) => s.client === 'c0').map((s) => s.progress)).toEqual([1, 2, 3]);
      expect(seen.filter((s) => s.client === 'c1').map((s) => s.progress)).toEqual([1, 2, 3]);
      await a.close();
      await b.close();
    } finally {
      await bridge.close();
      server.close();
    }
  });

  it("passes the server's sampling request to the client whose tool call made it, and refuses it for a client without sampling", async () => {
    const upstream = ChildUpstream.spawn(process.execPath, [everythingEntry, 'stdio'], {
      env: { PATH: process.env.PATH },
    });
    const bridge = new McpBridge(upstream, { token: TOKEN });
    await bridge.start(15000);
    const { url, server } = await serve(bridge);
    try {
      const sampler = new Client(
        { name: 'sampler', version: '1.0.0' },
        { capabilities: { sampling: {} } },
      );
      sampler.setRequestHandler(CreateMessageRequestSchema, (request) => {
        const content = request.params.messages[0].content as { type: string; text?: string };
        return {
          role: 'assistant',
          content: { type: 'text', text: `sampled: ${content.text}` },
          model: 'test-model',
        };
      });
      await sampler.connect(
        new StreamableHTTPClientTransport(new URL(url), {
          requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
        }),
      );
      const result = await sampler.callTool({
        name: 'trigger-sampling-request',
        arguments: { prompt: 'hello' },
      });
      expect(result.isError).toBeFalsy();
      expect(JSON.stringify(result.content)).toContain(
        'sampled: Resource trigger-sampling-request context: hello',
      );
      const plain = await client(url);
      const refused = await plain.callTool({
        name: 'trigger-sampling-request',
        arguments: { prompt: 'hello' },
      });
      expect(refused.isError).toBe(true);
      expect(JSON.stringify(refused.content)).toContain('did not declare the sampling capability');
      await sampler.close();
      await plain.close();
    } finally {
      await bridge.close();
      server.close();
    }
  });

  it('fails requests in flight and answers 503 once the server has exited', async () => {
    const upstream = ChildUpstream.spawn(process.execPath, [everythingEntry, 'stdio'], {
      env: { PATH: process.env.PATH },
    });
    const exits: unknown[] = [];
    const bridge = new McpBridge(upstream, { token: TOKEN, onExit: (info) => exits.push(info) });
    await bridge.start(15000);
    const { url, server } = await serve(bridge);
    try {
      const c = await client(url);
      const slow = c.callTool({
        name: 'trigger-long-running-operation',
        arguments: { duration: 30, steps: 2 },
      });
      await new Promise((r) => setTimeout(r, 300));
      await upstream.stop(1000);
      await expect(slow).rejects.toThrow();
      expect(exits).toEqual([{ code: null, signal: 'SIGTERM' }]);
      const res = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }),
      });
      expect(res.status).toBe(503);
    } finally {
      await bridge.close();
      server.close();
    }
  });
});

describe("the MCP bridge in an account's session budget (MCP_SESSIONS_PER_ACCOUNT), with real memory servers", () => {
  const started: { bridge: McpBridge; server: Server; workdir: string }[] = [];

  async function memoryBridge(budget: SessionBudget, account: string) {
    const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-budget-'));
    const upstream = ChildUpstream.spawn(process.execPath, [memoryEntry], {
      cwd: workdir,
      env: { PATH: process.env.PATH, MEMORY_FILE_PATH: path.join(workdir, 'memory.jsonl') },
    });
    const bridge = new McpBridge(upstream, {
      token: TOKEN,
      sessionBudget: { budget, key: account },
    });
    await bridge.start(15000);
    const { url, server } = await serve(bridge);
    started.push({ bridge, server, workdir });
    return { bridge, url };
  }

  const transportOf = (c: Client) =>
    (c as unknown as { _transport: StreamableHTTPClientTransport })._transport;

  /** An initialize by hand, to see the refusal as it is. */
  const initialize = (url: string) =>
    fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't' } },
      }),
    });

  afterAll(async () => {
    for (const { bridge, server, workdir } of started) {
      await bridge.close();
      server.close();
      fs.rmSync(workdir, { recursive: true, force: true });
    }
  });

  it("refuses the account's session past the cap across its connections, serves another account, and leaks no slot", async () => {
    const budget = new SessionBudget({ limit: 3 });
    const first = await memoryBridge(budget, 'acct-a');
    const second = await memoryBridge(budget, 'acct-a');
    const other = await memoryBridge(budget, 'acct-b');

    for (let round = 0; round < 2; round++) {
      const clients = [await client(first.url), await client(second.url), await client(first.url)];
      const refused = await initialize(second.url);
      expect(refused.status).toBe(429);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toContain(
        'this account may hold 3 at once across its connections (MCP_SESSIONS_PER_ACCOUNT)',
      );
      await expect(client(first.url)).rejects.toThrow();
      // Another account's connection is not held up.
      const theirs = await client(other.url);
      expect((await theirs.listTools()).tools.length).toBe(9);
      // The account's sessions still work; ended (DELETE), they give their slots back.
      expect((await clients[2].listTools()).tools.length).toBe(9);
      for (const c of [...clients, theirs]) {
        await transportOf(c).terminateSession();
        await c.close();
      }
      expect(budget.held('acct-a')).toBe(0);
      expect(budget.held('acct-b')).toBe(0);
    }

    // A bridge that stops gives back what its sessions held.
    const open = [await client(first.url), await client(second.url)];
    expect(budget.held('acct-a')).toBe(2);
    await second.bridge.close();
    expect(budget.held('acct-a')).toBe(1);
    open.push(await client(first.url), await client(first.url));
    expect((await initialize(first.url)).status).toBe(429);
    for (const c of open) await c.close();
  });
});
