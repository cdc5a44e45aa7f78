// REST read throughput and latency through the gateway under load (autocannon, N concurrent
// connections for D s per route after a warm-up), beside a bare node:http handler answering a
// small JSON, in the same run on the same machine. Reads use an account API key; the account has a
// few memory-server connections. Also the CPU each process used during each case.
//   npm run bench:rest-load [-- --connections 10 --duration 10 --warmup 2 --installs 3 --rounds 1]
// Flags (or env):
//   --connections (REST_LOAD_CONNECTIONS), --duration s (REST_LOAD_DURATION), --warmup s
//   (REST_LOAD_WARMUP), --installs (REST_LOAD_INSTALLS), --rounds (REST_LOAD_ROUNDS: rounds of
//   all cases in turn, the median round shown), --key account|service (REST_LOAD_KEY),
//   --log-level (REST_LOAD_LOG_LEVEL, default info; the harness needs info lines),
//   --gateway-workers (REST_LOAD_GATEWAY_WORKERS: the gateway's GATEWAY_WORKERS), --rate-limit
//   (REST_LOAD_RATE_LIMIT: the gateway's RATE_LIMIT_REQUESTS_PER_MINUTE, default 1e9), --cases
//   baseline,idle,health,list,get,servers (REST_LOAD_CASES), --cpu-prof dir (REST_LOAD_CPU_PROF:
//   restarts --cpu-prof-services, REST_LOAD_CPU_PROF_SERVICES, default
//   api-gateway,sandbox-service,registry-service, with --cpu-prof before the load; their
//   .cpuprofile files and windows.json, pid -> service and each measured window on the
//   profiles' clock, are written there).
import 'reflect-metadata';
import {
  ApiClient,
  createTestInfrastructure,
  freePort,
  REPO_ROOT,
  SERVICE_NAMES,
  type ServiceName,
  TestPlatform,
  waitForStatus,
} from '@athenic/testing';
import autocannon from 'autocannon';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import * as path from 'node:path';
import { fixed, summarize } from './stats';
import { waitForPort } from './support';

function option(name: string, env: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  if (at >= 0 && process.argv[at + 1] !== undefined) return process.argv[at + 1];
  return process.env[env] ?? fallback;
}

const CONNECTIONS = Number(option('connections', 'REST_LOAD_CONNECTIONS', '10'));
const DURATION_S = Number(option('duration', 'REST_LOAD_DURATION', '10'));
const WARMUP_S = Number(option('warmup', 'REST_LOAD_WARMUP', '2'));
const INSTALLS = Number(option('installs', 'REST_LOAD_INSTALLS', '3'));
/** Rounds of all cases in turn (drift in the machine's load hits them alike); the median round is shown. */
const ROUNDS = Number(option('rounds', 'REST_LOAD_ROUNDS', '1'));
const KEY_KIND = option('key', 'REST_LOAD_KEY', 'account');
const CASES = option('cases', 'REST_LOAD_CASES', 'baseline,idle,health,list,get,servers').split(
  ',',
);
const CPU_PROF_DIR = option('cpu-prof', 'REST_LOAD_CPU_PROF', '');
const CPU_PROF_SERVICES = option(
  'cpu-prof-services',
  'REST_LOAD_CPU_PROF_SERVICES',
  'api-gateway,sandbox-service,registry-service',
).split(',') as ServiceName[];
const LOG_LEVEL = option('log-level', 'REST_LOAD_LOG_LEVEL', 'info');
/** The gateway's GATEWAY_WORKERS; unset: its default (one per CPU). */
const GATEWAY_WORKERS = option('gateway-workers', 'REST_LOAD_GATEWAY_WORKERS', '');
/**
 * The gateway's per-account request limit (RATE_LIMIT_REQUESTS_PER_MINUTE, 6000 by default) would
 * answer most of the load with 429: raised so the limiter still runs but refuses nothing.
 */
const RATE_LIMIT = option('rate-limit', 'REST_LOAD_RATE_LIMIT', '1000000000');
const ACCOUNT = 'bench-rest-load';

/** The bare handler: node:http, a small JSON, nothing else (a child of its own, like a service). */
const BARE_SERVER = `
const http = require('node:http');
const body = JSON.stringify({ status: 'ok', service: 'bare', checks: { bare: { status: 'ok' } } });
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.stdin.resume();
process.stdin.on('end', () => server.close(() => process.exit(0)));
`;

interface Case {
  key: string;
  label: string;
  url: string;
  headers: Record<string, string>;
}

interface Figures {
  label: string;
  rps: number;
  total: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  wallMs: number;
  cpu: Record<string, number>;
}

// ---- CPU time per process, from /proc (clock ticks of 10 ms) ----------------------------------

const TICK_MS = 10;

function ticks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return 0;
  }
}

function pidsNamed(test: (comm: string) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (test(readFileSync(`/proc/${entry}/comm`, 'utf8').trim())) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** A process and its children: the gateway's workers (GATEWAY_WORKERS) are its children. */
function withChildren(pid: number): number[] {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return [pid, ...(children ? children.split(/\s+/).map(Number) : [])];
  } catch {
    return [pid];
  }
}

/** A process serving a connection (the platform marks them ATHENIC_CONNECTION_ID). */
function isSandbox(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').includes('ATHENIC_CONNECTION_ID=');
  } catch {
    return false;
  }
}

type Groups = Record<string, () => number[]>;
type Snapshot = Record<string, Map<number, number>>;

function snapshot(groups: Groups): Snapshot {
  const snap: Snapshot = {
    machine: new Map([[0, machineBusyTicks()]]),
    irq: new Map([[0, machineIrqTicks()]]),
  };
  for (const [name, pids] of Object.entries(groups))
    snap[name] = new Map(pids().map((pid) => [pid, ticks(pid)]));
  return snap;
}

/** Busy clock ticks of the whole machine (all cores), from /proc/stat. */
function machineBusyTicks(): number {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = values.map(Number);
  void idle;
  void iowait;
  return user + nice + system + irq + softirq + steal;
}

/** Clock ticks spent in interrupts (loopback traffic is mostly softirq, charged to no process). */
function machineIrqTicks(): number {
  const values = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1);
  return Number(values[5]) + Number(values[6]);
}

/** CPU used between two snapshots, in % of one core (a process new in `end` counts from zero). */
function cpuPercent(start: Snapshot, end: Snapshot, wallMs: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pids] of Object.entries(end)) {
    let used = 0;
    for (const [pid, t] of pids) used += t - (start[name]?.get(pid) ?? 0);
    out[name] = (used * TICK_MS * 100) / wallMs;
  }
  // What processes this bench does not know used meanwhile (other work on the machine).
  const ours = Object.entries(out).reduce(
    (sum, [name, v]) => (name === 'machine' ? sum : sum + v),
    0,
  );
  out.others = Math.max(0, out.machine - ours);
  return out;
}

// ---- Children this bench starts itself ---------------------------------------------------------

const children = new Set<ChildProcess>();

function spawnChild(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function waitForLine(child: ChildProcess, test: RegExp, timeoutMs = 30000): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let tail: string[] = [];
    const timer = setTimeout(
      () => done(new Error(`no "${test}" within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      tail = [...tail, ...lines].slice(-20);
      if (lines.some((l) => test.test(l))) done();
    };
    const onExit = (code: number | null) =>
      done(new Error(`exited (${code}) before it was ready:\n${tail.join('\n')}`));
    const done = (error?: Error) => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      // Keep draining: a full pipe would block the child's log writes.
      child.stdout!.resume();
      if (error) reject(error);
      else resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.resume();
    child.once('exit', onExit);
  });
}

/** SIGTERM (a service writes its CPU profile as it exits), SIGKILL after the grace period. */
async function stopChild(child: ChildProcess, graceMs = 12000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

// ---- Load --------------------------------------------------------------------------------------

/** One autocannon run; the latency of every 2xx answer is kept (autocannon's histogram is in whole ms). */
function load(
  c: Case,
  seconds: number,
): Promise<{ result: autocannon.Result; latencies: number[] }> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    const instance = autocannon(
      { url: c.url, connections: CONNECTIONS, duration: seconds, headers: c.headers, timeout: 10 },
      (error: unknown, result: autocannon.Result) =>
        error
          ? reject(error instanceof Error ? error : new Error(String(error)))
          : resolve({ result, latencies }),
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
}

/** The figures of the idle case: no requests, only the platform's own background work. */
const IDLE_RESULT = {
  requests: { average: 0, total: 0 },
  errors: 0,
  timeouts: 0,
  non2xx: 0,
} as unknown as autocannon.Result;

async function measure(
  c: Case,
  groups: Groups,
  windows: { case: string; startUs: number; endUs: number }[],
): Promise<Figures> {
  const idle = c.key === 'idle';
  if (WARMUP_S > 0 && !idle) await load(c, WARMUP_S);
  const before = snapshot(groups);
  const startedNs = process.hrtime.bigint();
  const { result, latencies } = idle
    ? await new Promise<{ result: autocannon.Result; latencies: number[] }>((resolve) =>
        setTimeout(() => resolve({ result: IDLE_RESULT, latencies: [0] }), DURATION_S * 1000),
      )
    : await load(c, DURATION_S);
  const endedNs = process.hrtime.bigint();
  const after = snapshot(groups);
  const latency = summarize(latencies.length > 0 ? latencies : [Number.NaN]);
  windows.push({
    case: c.key,
    startUs: Number(startedNs / 1000n),
    endUs: Number(endedNs / 1000n),
  });
  return {
    label: c.label,
    rps: result.requests.average,
    total: result.requests.total,
    p50: latency.p50,
    p99: latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    wallMs: Number(endedNs - startedNs) / 1e6,
    cpu: cpuPercent(before, after, Number(endedNs - startedNs) / 1e6),
  };
}

function table(figures: Figures[], groups: string[]): string[] {
  const base = figures.find((f) => f.label.includes('baseline'));
  const lines = [
    `  ${'case'.padEnd(52)} ${'rps'.padStart(8)} ${'vs bare'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'errors'.padStart(7)} ${'non-2xx'.padStart(8)}`,
  ];
  for (const f of figures) {
    if (f.total === 0) continue; // the idle case: CPU only
    const ratio = base && f !== base ? `${fixed((100 * f.rps) / base.rps, 1)}%` : '';
    lines.push(
      `  ${f.label.padEnd(52)} ${fixed(f.rps, 0).padStart(8)} ${ratio.padStart(8)} ${fixed(f.p50).padStart(7)} ${fixed(f.p99).padStart(7)} ${String(f.errors).padStart(7)} ${String(f.non2xx).padStart(8)}`,
    );
  }
  lines.push(
    '',
    `  CPU during each case, % of one core (${cpus().length} cores = ${cpus().length * 100}%; irq: interrupts, mostly loopback softirq; others: processes not started by this bench):`,
  );
  groups = [...groups, 'irq', 'others', 'machine'];
  lines.push(`  ${'case'.padEnd(52)} ${groups.map((g) => g.padStart(10)).join(' ')}`);
  for (const f of figures)
    lines.push(
      `  ${f.label.padEnd(52)} ${groups.map((g) => fixed(f.cpu[g] ?? 0, 0).padStart(10)).join(' ')}`,
    );
  lines.push(
    '',
    `  CPU ms per request (the same figures over the requests served; robust to other load):`,
  );
  const own = groups.filter((g) => !['others', 'machine', 'bare', 'irq'].includes(g));
  lines.push(`  ${'case'.padEnd(52)} ${[...own, 'platform'].map((g) => g.padStart(10)).join(' ')}`);
  for (const f of figures) {
    if (f === base || f.total === 0) continue;
    // % of a core over the window / requests per second = ms of CPU per request, divided by 100.
    const perRequest = (g: string) =>
      ((f.cpu[g] ?? 0) / 100 / (f.total / (f.wallMs / 1000))) * 1000;
    const platform = own
      .filter((g) => g !== 'bench+load')
      .reduce((sum, g) => sum + perRequest(g), 0);
    lines.push(
      `  ${f.label.padEnd(52)} ${[...own.map(perRequest), platform].map((v) => fixed(v, 2).padStart(10)).join(' ')}`,
    );
  }
  return lines;
}

async function main(): Promise<void> {
  const infra = await createTestInfrastructure('bench-rest-load');
  const platform = new TestPlatform(infra, {
    env: {
      LOG_LEVEL,
      RATE_LIMIT_REQUESTS_PER_MINUTE: RATE_LIMIT,
      RATE_LIMIT_REQUESTS_PER_SECOND: RATE_LIMIT,
      ...(GATEWAY_WORKERS ? { GATEWAY_WORKERS } : {}),
    },
  });
  const profiled = new Map<ServiceName, ChildProcess>();
  let bare: ChildProcess | undefined;
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      if (bare) await stopChild(bare);
      await Promise.all([...profiled.values()].map((child) => stopChild(child)));
      await Promise.all([...children].map((child) => stopChild(child)));
      await platform.stop();
      await infra.dispose();
    })());
  const onSignal = () => {
    process.stderr.write('interrupted: stopping everything this bench started\n');
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    await platform.start();
    const admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    const created = await admin.post('/functions/v1/api-keys', {
      account_id: ACCOUNT,
      name: 'rest-load bench',
    });
    if (created.status !== 201)
      throw new Error(`api-keys answered ${created.status}: ${JSON.stringify(created.body)}`);
    const accountKey: string = created.body.key;
    const key = KEY_KIND === 'service' ? platform.serviceRoleKey : accountKey;
    const api = new ApiClient(platform.baseUrl, accountKey);
    const ids: string[] = [];
    for (let i = 0; i < INSTALLS; i++) {
      const { id } = await api.install({ mcp_server_id: 'memory-server', title: `load ${i}` });
      ids.push(id);
    }
    for (const id of ids) await waitForStatus(api, id, 'mcpRunning', 60000);

    if (CPU_PROF_DIR) {
      const dir = path.resolve(CPU_PROF_DIR);
      mkdirSync(dir, { recursive: true });
      for (const name of CPU_PROF_SERVICES) {
        await platform.service(name).stop();
        const entry = path.join(REPO_ROOT, 'dist', 'apps', name, 'src', 'main.js');
        const child = spawnChild(
          ['--cpu-prof', '--cpu-prof-dir', dir, '--enable-source-maps', entry],
          platform.env,
        );
        profiled.set(name, child);
        await waitForLine(child, / ready[ :]/);
      }
      await platform.waitHealthy();
    }

    const pidOf = (name: ServiceName) => () => {
      const pid = profiled.get(name)?.pid ?? platform.service(name).pid;
      return pid ? [pid] : [];
    };
    const groups: Groups = {
      gateway: () => pidOf('api-gateway')().flatMap(withChildren),
      sandbox: pidOf('sandbox-service'),
      registry: pidOf('registry-service'),
      credential: pidOf('credential-service'),
      agent: pidOf('agent-runner'),
      sandboxes: () => pidsNamed((c) => c === 'bwrap' || c === 'node').filter(isSandbox),
      rabbitmq: () => pidsNamed((c) => c === 'beam.smp'),
      postgres: () => pidsNamed((c) => c === 'postgres'),
      'bench+load': () => [process.pid],
      bare: () => (bare?.pid ? [bare.pid] : []),
    };

    const barePort = await freePort();
    const auth = { authorization: `Bearer ${key}` };
    const gw = platform.baseUrl;
    const all: Case[] = [
      {
        key: 'baseline',
        label: 'bare node:http JSON handler (baseline)',
        url: `http://127.0.0.1:${barePort}/`,
        headers: {},
      },
      { key: 'idle', label: 'idle platform, no requests (background CPU)', url: '', headers: {} },
      { key: 'health', label: 'GET /health (no key)', url: `${gw}/health`, headers: {} },
      {
        key: 'list',
        label: `GET /mcp-connections?account_id= (${ids.length} rows)`,
        url: `${gw}/functions/v1/mcp-connections?account_id=${ACCOUNT}`,
        headers: auth,
      },
      {
        key: 'get',
        label: 'GET /mcp-connections/:id?account_id=',
        url: `${gw}/functions/v1/mcp-connections/${ids[0]}?account_id=${ACCOUNT}`,
        headers: auth,
      },
      {
        key: 'servers',
        label: 'GET /mcp-servers (catalog)',
        url: `${gw}/functions/v1/mcp-servers`,
        headers: auth,
      },
    ];
    const cases = all.filter((c) => CASES.includes(c.key));
    if (cases.some((c) => c.key === 'baseline')) {
      bare = spawnChild(['-e', BARE_SERVER], {
        PATH: process.env.PATH ?? '',
        PORT: String(barePort),
      });
      await waitForPort(barePort);
    }

    // Every route answers as expected before it is loaded.
    for (const c of cases.filter((c) => c.url)) {
      const res = await fetch(c.url, { headers: c.headers });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${c.label}: ${res.status} before the load`);
    }

    const windows: { case: string; startUs: number; endUs: number }[] = [];
    const rounds: Figures[][] = cases.map(() => []);
    for (let round = 0; round < ROUNDS; round++)
      for (const [i, c] of cases.entries()) rounds[i].push(await measure(c, groups, windows));
    const figures = rounds.map(
      (r) => [...r].sort((a, b) => a.rps - b.rps)[Math.floor(r.length / 2)],
    );

    if (CPU_PROF_DIR) {
      const pids: Record<string, string> = {};
      for (const [name, child] of profiled) pids[String(child.pid)] = name;
      writeFileSync(
        path.join(path.resolve(CPU_PROF_DIR), 'windows.json'),
        JSON.stringify({ pids, windows }, null, 2),
      );
    }

    process.stdout.write(
      [
        `REST reads under load: autocannon, ${CONNECTIONS} connections, ${DURATION_S} s per case after ${WARMUP_S} s warm-up${ROUNDS > 1 ? `, median of ${ROUNDS} rounds` : ''},`,
        `${KEY_KIND === 'service' ? 'service role key' : 'account key'}, ${ids.length} memory-server connections, LOG_LEVEL=${LOG_LEVEL}, GATEWAY_WORKERS=${GATEWAY_WORKERS || 'default'}, ${SERVICE_NAMES.length} services, loopback${CPU_PROF_DIR ? ', PROFILED (--cpu-prof)' : ''}:`,
        ...table(figures, Object.keys(groups)),
        ...(CPU_PROF_DIR ? [`  profiles and windows.json in ${path.resolve(CPU_PROF_DIR)}`] : []),
        '',
      ].join('\n'),
    );
    for (const id of ids) await api.delete(`/functions/v1/mcp-connections/${id}`);
  } finally {
    await stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
