// A real server behind the egress path: custom-api-server (@ivotoby/openapi-mcp-server), whose
// every tool call makes an HTTP request to its API, here a small local API on 127.0.0.2 (opened
// with EGRESS_ALLOW_PRIVATE) in a process of its own. Beside the bare server over stdio with
// direct network, same API, same run:
//   1. install -> first successful tool call through the gateway (REST install, bubblewrap
//      sandbox, egress proxy) beside bare spawn -> initialize -> first tool call, one of each in turn;
//   2. tool-call latency, sequential calls on the bare server and on the gateway's MCP endpoint,
//      in rounds with the paths alternating, after a warm-up.
// Every tool result must carry the API's request number, rising from call to call, and the API's
// request count must equal the tool calls made, so a cached or failing path cannot pass.
//   npm run bench:egress-server   (or: node scripts/build.js && node dist/bench/egress-server.js [installs] [calls])
import 'reflect-metadata';
import { findInstalledPackage } from '@athenic/mcp-packages';
import {
  ApiClient,
  connectMcpClient,
  createTestInfrastructure,
  queryDatabase,
  RawAmqpClient,
  REPO_ROOT,
  TestPlatform,
  waitForStatus,
} from '@athenic/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { type ChildProcess, spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { fixed as num, signed, summarize, timeSequential } from './stats';
import { runningAt, stopByStdin } from './support';

const INSTALLS = Number(process.argv[2] ?? 10);
const CALLS = Number(process.argv[3] ?? 500);
/** Untimed tool calls per path before the timed ones. */
const WARMUP = 50;
/** Untimed starts of each kind before the timed ones. */
const START_WARMUP = 1;
/**
 * Tool calls are timed in rounds (each round a block of calls per path, the order swapped every
 * round), so drift in the machine's load affects both paths alike.
 */
const ROUNDS = 5;
const TYPE = 'custom-api-server';
const PACKAGE = '@ivotoby/openapi-mcp-server';
const API_HOST = '127.0.0.2';

// The API, in a process of its own (as a remote API would be): GET /openapi.json is its document,
// GET /pets its one operation, answering small JSON with the request's number. Prints its port;
// answers each line on stdin with its counts; exits when its stdin closes.
const API = `
const http = require('node:http');
const counts = { spec: 0, calls: 0, connections: 0, other: 0 };
const spec = JSON.stringify({
  openapi: '3.0.0',
  info: { title: 'pets', version: '1' },
  paths: { '/pets': { get: { operationId: 'listPets', responses: { '200': { description: 'ok' } } } } },
});
const server = http.createServer((req, res) => {
  req.resume();
  const url = req.url.split('?')[0];
  if (req.method === 'GET' && url === '/openapi.json') {
    counts.spec++;
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(spec);
  }
  if (req.method === 'GET' && url === '/pets') {
    counts.calls++;
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ n: counts.calls, pets: [{ name: 'Rex' }, { name: 'Tom' }] }));
  }
  counts.other++;
  res.writeHead(404);
  res.end();
});
server.on('connection', () => counts.connections++);
server.listen(0, '${API_HOST}', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\\n');
});
let pending = '';
process.stdin.on('data', (d) => {
  pending += d.toString();
  for (let i = pending.indexOf('\\n'); i >= 0; i = pending.indexOf('\\n')) {
    pending = pending.slice(i + 1);
    process.stdout.write(JSON.stringify(counts) + '\\n');
  }
});
process.stdin.on('end', () => process.exit(0));
`;

interface ApiCounts {
  spec: number;
  calls: number;
  connections: number;
  other: number;
}

class LocalApi {
  /** `http://127.0.0.2:<port>`, once it listens. */
  url = '';
  private readonly lines: string[] = [];
  private readonly waiting: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  private gone?: Error;

  private constructor(private readonly child: ChildProcess) {
    let buffered = '';
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
        const line = buffered.slice(0, i);
        buffered = buffered.slice(i + 1);
        const next = this.waiting.shift();
        if (next) next.resolve(line);
        else this.lines.push(line);
      }
    });
    child.once('exit', (code, signal) => {
      this.gone = new Error(`the API exited (${signal ?? code})`);
      for (const w of this.waiting.splice(0)) w.reject(this.gone);
    });
  }

  static async start(): Promise<LocalApi> {
    const child = spawn(process.execPath, ['-e', API], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const api = new LocalApi(child);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the API did not start')), 10_000);
    });
    try {
      const { port } = JSON.parse(await Promise.race([api.nextLine(), late])) as { port: number };
      api.url = `http://${API_HOST}:${port}`;
      return api;
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private nextLine(): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.gone) return Promise.reject(this.gone);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  async counts(): Promise<ApiCounts> {
    this.child.stdin!.write('\n');
    return JSON.parse(await this.nextLine()) as ApiCounts;
  }

  stop(): Promise<void> {
    return stopByStdin(this.child);
  }
}

/**
 * Calls the API's one tool and checks that the answer is the API's, fresh: not an error, and with
 * a request number above every one seen before (each call's request reached the API).
 */
class ToolCaller {
  lastSeen = 0;
  made = 0;
  toolName = '';

  async call(client: Client): Promise<void> {
    this.made++;
    const result = await client.callTool({ name: this.toolName, arguments: {} });
    const content = (result.content ?? []) as { type: string; text?: string }[];
    const text = content.map((c) => c.text ?? '').join('');
    const n = /"n":\s*(\d+)/.exec(text)?.[1];
    if (result.isError || n === undefined)
      throw new Error(`tool call failed: ${JSON.stringify(result).slice(0, 500)}`);
    if (Number(n) <= this.lastSeen)
      throw new Error(`tool call answered request ${n} again (last seen ${this.lastSeen})`);
    this.lastSeen = Number(n);
  }
}

async function bareBin(): Promise<{ entry: string; version: string }> {
  const installed = await findInstalledPackage(path.join(REPO_ROOT, 'mcp-packages'), PACKAGE);
  const script = installed?.binPaths['openapi-mcp-server'];
  if (!installed || !script) throw new Error(`${PACKAGE} is not installed under mcp-packages/`);
  return { entry: path.join(installed.packageDir, script), version: installed.version };
}

const row = (label: string, a: string, b: string) =>
  `  ${label.padEnd(62)} ${a.padStart(10)} ${b.padStart(10)}`;

function table(
  title: string,
  rows: { label: string; samples: number[]; digits?: number }[],
  difference: { label: string; of: [number, number]; digits?: number },
): string[] {
  const figures = rows.map((r) => summarize(r.samples));
  const [a, b] = difference.of.map((i) => figures[i]);
  const digits = difference.digits ?? 2;
  return [
    row(title, 'p50 ms', 'p99 ms'),
    ...rows.map((r, i) =>
      row(r.label, num(figures[i].p50, r.digits ?? 2), num(figures[i].p99, r.digits ?? 2)),
    ),
    row(difference.label, signed(b.p50 - a.p50, digits), signed(b.p99 - a.p99, digits)),
  ];
}

async function main(): Promise<void> {
  const began = Date.now();
  const bin = await bareBin();
  const localApi = await LocalApi.start();
  const config = { api_base_url: localApi.url, openapi_spec_url: `${localApi.url}/openapi.json` };
  const bareEnv = { API_BASE_URL: config.api_base_url, OPENAPI_SPEC_PATH: config.openapi_spec_url };
  const tool = new ToolCaller();
  const clients = new Set<Client>();
  const connect = async (make: () => Promise<Client>): Promise<Client> => {
    const client = await make();
    clients.add(client);
    return client;
  };
  const close = async (client: Client) => {
    clients.delete(client);
    await client.close();
  };
  const spawnBare = () =>
    connect(async () => {
      const client = new Client({ name: 'bench', version: '1' });
      await client.connect(
        new StdioClientTransport({
          command: process.execPath,
          args: [bin.entry, '--transport', 'stdio'],
          env: bareEnv,
          stderr: 'ignore',
        }),
      );
      return client;
    });

  let infra: Awaited<ReturnType<typeof createTestInfrastructure>> | undefined;
  let platform: TestPlatform | undefined;
  let amqp: RawAmqpClient | undefined;
  let events: Awaited<ReturnType<RawAmqpClient['tap']>> | undefined;
  try {
    infra = await createTestInfrastructure('bench-egress-server');
    platform = await new TestPlatform(infra, {
      env: {
        LOG_LEVEL: 'info',
        EGRESS_ALLOW_PRIVATE: API_HOST,
        MAX_SANDBOXES: '50',
        MAX_SANDBOXES_PER_ACCOUNT: '50',
      },
    }).start();
    const gatewayUrl = (id: string) =>
      `${platform!.baseUrl}/functions/v1/mcp-connections/${id}/mcp`;
    const key = platform.serviceRoleKey;
    const api = new ApiClient(platform.baseUrl, key);
    amqp = await RawAmqpClient.connect(infra.amqpUrl);
    events = await amqp.tap('bus', 'sandbox.connection.status-changed');
    const tap = events;
    const install = async (title: string): Promise<string> => {
      const { id } = await api.install({
        mcp_server_id: TYPE,
        account_id: 'bench-egress-server',
        title,
        config,
      });
      return id as string;
    };
    const remove = async (id: string) => {
      const res = await api.delete(`/functions/v1/mcp-connections/${id}`);
      if (res.status !== 204) throw new Error(`delete answered ${res.status}`);
    };

    // The tool's name, from the bare server (the same document gives the same tools).
    {
      const client = await spawnBare();
      const { tools } = await client.listTools();
      if (tools.length !== 1) throw new Error(`expected one tool, got ${tools.length}`);
      tool.toolName = tools[0].name;
      await close(client);
    }

    // 1. start -> first successful tool call, one bare start and one install in turn.
    const bare = { init: [] as number[], total: [] as number[] };
    const installed = { running: [] as number[], total: [] as number[] };
    const bareStart = async (timed: boolean) => {
      const started = performance.now();
      const client = await spawnBare();
      const initialized = performance.now();
      try {
        await tool.call(client);
        if (!timed) return;
        bare.init.push(initialized - started);
        bare.total.push(performance.now() - started);
      } finally {
        await close(client);
      }
    };
    const platformStart = async (timed: boolean) => {
      const started = performance.now();
      const id = await install(`start ${installed.total.length}`);
      try {
        const running = await runningAt(tap, id, () => performance.now());
        const client = await connect(() => connectMcpClient(gatewayUrl(id), key));
        try {
          if (!timed) {
            const names = (await client.listTools()).tools.map((t) => t.name);
            if (!names.includes(tool.toolName))
              throw new Error(`the gateway lists ${names.join(', ')}, not ${tool.toolName}`);
          }
          await tool.call(client);
          if (!timed) return;
          installed.running.push(running - started);
          installed.total.push(performance.now() - started);
        } finally {
          await close(client);
        }
      } finally {
        await remove(id);
      }
    };
    for (let i = 0; i < START_WARMUP; i++) {
      await bareStart(false);
      await platformStart(false);
    }
    for (let i = 0; i < INSTALLS; i++) {
      const order = i % 2 === 0 ? [bareStart, platformStart] : [platformStart, bareStart];
      for (const start of order) await start(true);
    }

    // 2. tool-call latency on a running bare server and a running connection.
    const id = await install('latency');
    await waitForStatus(api, id, 'mcpRunning');
    const [{ isolation }] = await queryDatabase<{ isolation: string }>(
      infra.databaseUrl,
      'SELECT isolation FROM sandbox.connections WHERE id = $1',
      [id],
    );
    const paths = [
      { client: await spawnBare(), samples: [] as number[], made: 0, reached: 0 },
      {
        client: await connect(() => connectMcpClient(gatewayUrl(id), key)),
        samples: [] as number[],
        made: 0,
        reached: 0,
      },
    ];
    for (const p of paths) await timeSequential(WARMUP, () => tool.call(p.client));
    const perRound = Math.ceil(CALLS / ROUNDS);
    for (let round = 0; round < ROUNDS; round++) {
      for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) {
        const p = paths[i];
        const before = (await localApi.counts()).calls;
        p.samples.push(...(await timeSequential(perRound, () => tool.call(p.client))));
        p.made += perRound;
        p.reached += (await localApi.counts()).calls - before;
      }
    }
    for (const p of paths) await close(p.client);
    await remove(id);

    // Every tool call of the run reached the API, once.
    const counts = await localApi.counts();
    for (const p of paths)
      if (p.reached !== p.made)
        throw new Error(`the API saw ${p.reached} requests for ${p.made} timed tool calls`);
    if (counts.calls !== tool.made || counts.other !== 0)
      throw new Error(
        `the API saw ${counts.calls} operation requests (${counts.other} others) for ${tool.made} tool calls`,
      );

    const [a, b] = paths;
    process.stdout.write(
      [
        `${TYPE} (${PACKAGE} ${bin.version}) against a local API on ${API_HOST} (GET /pets, small JSON), same run`,
        `  (a) bare server over stdio, direct network (baseline); (b) through the platform: gateway MCP endpoint,`,
        `  bridge, ${isolation} sandbox, egress proxy (EGRESS_ALLOW_PRIVATE=${API_HOST}); ${os.cpus().length} CPUs, node ${process.version}`,
        '',
        ...table(
          `start -> first successful tool call, ${INSTALLS} each, in turn`,
          [
            { label: '(a) bare: spawn -> initialize', samples: bare.init, digits: 0 },
            {
              label: '(a) bare: spawn -> initialize -> first tool call (baseline)',
              samples: bare.total,
              digits: 0,
            },
            {
              label: '(b) REST install -> mcpRunning event',
              samples: installed.running,
              digits: 0,
            },
            {
              label: '(b) REST install -> first successful tool call via the gateway',
              samples: installed.total,
              digits: 0,
            },
          ],
          { label: 'added by the platform (b - a, to the first tool call)', of: [1, 3], digits: 0 },
        ),
        `  (${START_WARMUP} untimed start of each kind first; with ${INSTALLS} samples p99 is the slowest)`,
        '',
        ...table(
          `tool call, ${a.samples.length} sequential calls each`,
          [
            { label: '(a) SDK client -> bare server over stdio (baseline)', samples: a.samples },
            {
              label: '(b) SDK client -> gateway -> bridge -> sandbox -> egress proxy',
              samples: b.samples,
            },
          ],
          { label: 'added by the platform (b - a)', of: [0, 1] },
        ),
        `  (${ROUNDS} rounds of ${perRound}, paths alternating, after ${WARMUP} warm-up calls per path)`,
        '',
        `API requests for the timed calls: (a) ${a.reached} of ${a.made}, (b) ${b.reached} of ${b.made}; whole run: ${counts.calls} for ${tool.made} tool calls,`,
        `  each answer a new request number; ${counts.spec} document fetches, ${counts.connections} TCP connections accepted; total ${((Date.now() - began) / 1000).toFixed(1)} s`,
        '',
      ].join('\n'),
    );
  } finally {
    await Promise.allSettled([...clients].map((c) => c.close()));
    await events?.close().catch(() => undefined);
    await amqp?.close().catch(() => undefined);
    await platform?.stop();
    await infra?.dispose();
    await localApi.stop();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
