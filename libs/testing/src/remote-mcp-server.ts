import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

/**
 * A real MCP server over Streamable HTTP on loopback (the MCP SDK's McpServer and
 * StreamableHTTPServerTransport on a node http server), as a remote or on-premise server the
 * platform connects to: it answers only `path` and only requests carrying
 * `Authorization: Bearer <token>` (401 otherwise). Tools: `echo` and `add`. With `sse`, the older
 * HTTP+SSE transport instead: GET `path` opens the event stream, POST `path/messages` carries
 * the client's messages.
 */
export class RemoteMcpServer {
  private server: Server | undefined;
  private readonly sessions = new Map<string, StreamableHTTPServerTransport>();
  private readonly sseSessions = new Map<string, SSEServerTransport>();
  /** Every request: its method and whether its token was right. */
  readonly requests: { method: string; authorized: boolean }[] = [];
  port = 0;

  constructor(
    /** The one token it accepts; change it to revoke the old one. */
    public token: string,
    readonly path = '/mcp',
    readonly transport: 'streamable-http' | 'sse' = 'streamable-http',
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}${this.path}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const authorized = req.headers.authorization === `Bearer ${this.token}`;
      this.requests.push({ method: req.method ?? '', authorized });
      if (!authorized) {
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
        res.end(JSON.stringify({ error: 'invalid_token' }));
        return;
      }
      if (this.transport === 'sse') return this.sse(req, res);
      if (new URL(req.url ?? '/', 'http://x').pathname !== this.path) {
        res.writeHead(404).end();
        return;
      }
      const id = req.headers['mcp-session-id'];
      let transport = typeof id === 'string' ? this.sessions.get(id) : undefined;
      if (!transport) {
        if (req.method !== 'POST' || id !== undefined) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              jsonrpc: '2.0',
              id: null,
              error: { code: -32001, message: 'Session not found' },
            }),
          );
          return;
        }
        const created = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (sessionId) => void this.sessions.set(sessionId, created),
        });
        created.onclose = () => {
          if (created.sessionId) this.sessions.delete(created.sessionId);
        };
        transport = created;
        void this.mcpServer().connect(created);
      }
      void transport.handleRequest(req, res);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  private sse(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === this.path) {
      const transport = new SSEServerTransport(`${this.path}/messages`, res);
      this.sseSessions.set(transport.sessionId, transport);
      transport.onclose = () => this.sseSessions.delete(transport.sessionId);
      void this.mcpServer().connect(transport);
      return;
    }
    const transport = this.sseSessions.get(url.searchParams.get('sessionId') ?? '');
    if (req.method === 'POST' && url.pathname === `${this.path}/messages` && transport) {
      void transport.handlePostMessage(req, res);
      return;
    }
    res.writeHead(404).end();
  }

  private mcpServer(): McpServer {
    const server = new McpServer({ name: 'remote-test-server', version: '1.0.0' });
    server.registerTool(
      'echo',
      { description: 'Echoes its text', inputSchema: { text: z.string() } },
      ({ text }) => ({ content: [{ type: 'text', text: `remote echo: ${text}` }] }),
    );
    server.registerTool(
      'add',
      { description: 'Adds two numbers', inputSchema: { a: z.number(), b: z.number() } },
      ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }),
    );
    return server;
  }

  async stop(): Promise<void> {
    for (const transport of [...this.sessions.values(), ...this.sseSessions.values()])
      await transport.close().catch(() => undefined);
    this.server?.closeAllConnections();
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
  }
}
