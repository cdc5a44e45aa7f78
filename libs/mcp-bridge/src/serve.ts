import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { McpBridge } from './bridge';
import { ChildUpstream } from './child-upstream';
import { MAX_LINE_BYTES_CEILING, MAX_LINE_BYTES_ENV, positiveIntegerFromEnv } from './limits';
import { BRIDGE_LINE, SANDBOX_ROOT_TOKEN } from './serve-protocol';

/**
 * The bridge as a process of its own, for sandboxes that run away from the platform's host (E2B):
 * it starts the server (`ATHENIC_SERVER_COMMAND` and `ATHENIC_SERVER_ARGS`, a JSON array) in its
 * working dir, serves it over MCP Streamable HTTP at `/mcp` and a health check at `/health`, both
 * behind the connection's bearer token, on `ATHENIC_BRIDGE_PORT` (0: any free port). It reports on
 * stdout, one line each: `ATHENIC_BRIDGE_READY {port, ready}` once the server answered initialize,
 * `ATHENIC_BRIDGE_FAILED {message}` if it never did, and `ATHENIC_BRIDGE_EXIT {code, signal}`
 * when the server ended; the server's stderr passes through to its own. The server gets the
 * environment without the bridge's own variables, `@ATHENIC_ROOT@` in its arguments and environment
 * replaced by the absolute path of the working dir's parent. SIGTERM stops the server and then the bridge.
 * `MCP_MAX_LINE_BYTES` (a positive integer, default 8 MiB) bounds a line of the server's output
 * (limits.ts, maxLineBytes); it is the bridge's own and not passed to the server.
 */
function report(kind: keyof typeof BRIDGE_LINE, body: unknown): void {
  process.stdout.write(`${BRIDGE_LINE[kind]} ${JSON.stringify(body)}\n`);
}

async function main(): Promise<void> {
  const token = process.env.ATHENIC_BRIDGE_TOKEN ?? '';
  const port = Number(process.env.ATHENIC_BRIDGE_PORT ?? '0');
  const startTimeoutMs = Number(process.env.ATHENIC_BRIDGE_START_TIMEOUT_MS ?? '60000');
  const command = process.env.ATHENIC_SERVER_COMMAND ?? '';
  let maxLineBytes: number | undefined;
  try {
    maxLineBytes = positiveIntegerFromEnv(process.env, MAX_LINE_BYTES_ENV, MAX_LINE_BYTES_CEILING);
  } catch (error) {
    report('failed', { message: error instanceof Error ? error.message : String(error) });
    process.exit(2);
  }
  const root = path.resolve(process.cwd(), '..');
  const expand = (value: string) => value.replaceAll(SANDBOX_ROOT_TOKEN, root);
  let args: string[] = [];
  try {
    args = (JSON.parse(process.env.ATHENIC_SERVER_ARGS ?? '[]') as string[]).map(expand);
  } catch {
    args = [''];
  }
  if (!token || !command || !Number.isInteger(port) || args.includes('')) {
    report('failed', {
      message: 'the bridge was started without a valid token, port or server command',
    });
    process.exit(2);
  }
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (
      value !== undefined &&
      !name.startsWith('ATHENIC_BRIDGE_') &&
      !name.startsWith('ATHENIC_SERVER_') &&
      name !== MAX_LINE_BYTES_ENV
    )
      env[name] = expand(value);
  }
  const upstream = ChildUpstream.spawn(command, args, { cwd: process.cwd(), env });
  const bridge = new McpBridge(upstream, {
    token,
    maxLineBytes,
    onLog: (stream, line) => {
      if (stream === 'stderr') process.stderr.write(`${line}\n`);
    },
    onExit: (info) => {
      report('exit', info);
      // Let the line reach the platform, then end with the server.
      setTimeout(() => process.exit(info.code ?? 1), 100).unref();
    },
  });
  const stop = () => {
    void bridge.close(5000).finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const server = createServer((req, res) => {
    const url = (req.url ?? '').split('?')[0];
    if (url === '/mcp') return bridge.handle(req, res);
    if (url === '/health' && req.method === 'GET') {
      if (!bridge.authorized(req.headers.authorization)) {
        res.writeHead(401).end();
        return;
      }
      const asked = Number(req.headers['x-timeout-ms']);
      const timeoutMs = Number.isFinite(asked) ? Math.min(10_000, Math.max(100, asked)) : 5000;
      bridge.ping(timeoutMs).then(
        (ms) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({ ok: true, pingMs: ms, idleMs: Date.now() - bridge.lastActivity }),
          );
        },
        (error: unknown) => {
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ ok: false, message: String(error) }));
        },
      );
      return;
    }
    res.writeHead(404).end();
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '0.0.0.0', () => resolve());
    });
    const ready = await bridge.start(startTimeoutMs);
    report('ready', { port: (server.address() as AddressInfo).port, ready });
  } catch (error) {
    report('failed', { message: error instanceof Error ? error.message : String(error) });
    await bridge.close(2000);
    process.exit(1);
  }
}

void main();
