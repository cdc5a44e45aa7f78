// MCP soak: does one account flooding its own connection raise another account's MCP latency?
// Loopback only, bounded in time (a hard stop at 3 x duration + 120 s: 5 minutes with the defaults).
// Two accounts, each with a memory-server connection installed through the REST API. Account B
// runs a steady closed loop of tool calls through the gateway (the SDK's Streamable HTTP client)
// in three phases: quiet (B alone), flood (meanwhile account A holds many MCP sessions, each with
// an open GET event stream, and keeps many tool calls in flight on its own connection) and after
// (A's sessions closed). B's and A's clients run in processes of their own (see --flood-host).
//   npm run bench:mcp-soak [-- --duration 60 --flood-sessions 60 --flood-streams 16]
//   node scripts/build.js && node dist/bench/mcp-soak.js [flags]
// Flags (or env):
//   --duration s        (MCP_SOAK_DURATION, default 60): each measured phase
//   --flood-sessions n  (MCP_SOAK_FLOOD_SESSIONS, default 60): A's extra MCP sessions (the bridge
//                       allows 64 per connection, A's load sessions included; past it, 429)
//   --flood-streams n   (MCP_SOAK_FLOOD_STREAMS, default 16): how many of them open
//                       a GET event stream and hold it. Each stream holds one of the 32 sockets
//                       of A's gateway pool (MCP_CONNECTIONS_PER_SERVER): from 32 streams on,
//                       A's own calls wait behind them (timeouts) and the flood loads nothing;
//                       --flood-streams 16 gives a flood that does
//   --flood-concurrency n (MCP_SOAK_FLOOD_CONCURRENCY, default 32): A's tool calls in flight
//   --tool name         (MCP_SOAK_TOOL, default read_graph)
//   --b-pause ms        (MCP_SOAK_B_PAUSE, default 20): B's pause between two calls
//   --flood-host h      (MCP_SOAK_FLOOD_HOST, default apart): where A's client runs.
//                       apart: in a process of its own under SCHED_IDLE (chrt --idle 0), so it
//                       gets only CPU time no other task wants, as a client on another machine
//                       takes none of the platform's; shared: at normal priority, competing with
//                       the platform and B for this machine's cores (on 2 cores A's client alone
//                       takes most of one). Both are worth showing; the target is about apart.
//   --rate-limit n      (MCP_SOAK_RATE_LIMIT, default 1e9): the gateway's
//                       RATE_LIMIT_REQUESTS_PER_MINUTE
//   --hold-ms n         (MCP_SOAK_HOLD_MS, default: the platform's, 1000): the gateway's
//                       RATE_LIMIT_REFUSAL_HOLD_MS; 0 answers A's refused calls at once
//   --rate-per-second n (MCP_SOAK_RATE_PER_SECOND, default: the platform's, 100): the gateway's
//                       RATE_LIMIT_REQUESTS_PER_SECOND; a high value shows the fair shares
//                       behind the rate limiter (A's whole flood reaches its bridge)
// A's and B's clients run in child processes of their own (B at normal priority).
// A opens its sessions and streams patiently (a 429 is retried after its Retry-After, for up to
// RAMP_MS), as an attacker staying under the per-second limit would; its tool calls are not.
//   --cpu-prof dir      (MCP_SOAK_CPU_PROF): the gateway and the sandbox-service run V8's
//                       sampling profiler; their .cpuprofile files (written as they stop) and
//                       windows.json (pid -> service, each phase on the profiles' clock) go there
import 'reflect-metadata';
import {
  ApiClient,
  connectionProcesses,
  createTestInfrastructure,
  type ServiceName,
  type TestInfrastructure,
  TestPlatform,
  waitForStatus,
} from '@athenic/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { type ChildProcess, type Serializable, spawn } from 'node:child_process';
import { fixed, summarize } from './stats';

function option(name: string, env: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  if (at >= 0 && process.argv[at + 1] !== undefined) return process.argv[at + 1];
  return process.env[env] ?? fallback;
}

function positive(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0)
    throw new Error(`--${name} must be a number >= 0, got ${value}`);
  return n;
}

const DURATION_S = positive('duration', option('duration', 'MCP_SOAK_DURATION', '60'));
const FLOOD_SESSIONS = Math.floor(
  positive('flood-sessions', option('flood-sessions', 'MCP_SOAK_FLOOD_SESSIONS', '60')),
);
const FLOOD_STREAMS = Math.min(
  FLOOD_SESSIONS,
  Math.floor(
    positive(
      'flood-streams',
      option('flood-streams', 'MCP_SOAK_FLOOD_STREAMS', String(Math.min(16, FLOOD_SESSIONS))),
    ),
  ),
);
const FLOOD_CONCURRENCY = Math.floor(
  positive('flood-concurrency', option('flood-concurrency', 'MCP_SOAK_FLOOD_CONCURRENCY', '32')),
);
const TOOL = option('tool', 'MCP_SOAK_TOOL', 'read_graph');
const B_PAUSE_MS = positive('b-pause', option('b-pause', 'MCP_SOAK_B_PAUSE', '20'));
/** High, so that the per-account rate limiter (6000 a minute by default) hides nothing. */
const RATE_LIMIT = option('rate-limit', 'MCP_SOAK_RATE_LIMIT', '1000000000');
const RATE_PER_SECOND = option('rate-per-second', 'MCP_SOAK_RATE_PER_SECOND', '');
const HOLD_MS = option('hold-ms', 'MCP_SOAK_HOLD_MS', '');
const CPU_PROF_DIR = option('cpu-prof', 'MCP_SOAK_CPU_PROF', '');
const FLOOD_HOST = option('flood-host', 'MCP_SOAK_FLOOD_HOST', 'apart');
if (FLOOD_HOST !== 'apart' && FLOOD_HOST !== 'shared')
  throw new Error(`--flood-host must be apart or shared, got ${FLOOD_HOST}`);

/** Set in a client process: which account's client it is. */
const ROLE_ENV = 'MCP_SOAK_ROLE';
const ACCOUNT_A = 'bench-soak-flooder';
const ACCOUNT_B = 'bench-soak-neighbour';
/** A's tool calls share one MCP session per this many calls in flight. */
const CALLS_PER_LOAD_SESSION = 16;
const A_CALL_TIMEOUT_MS = 10_000;
const A_CONNECT_TIMEOUT_MS = 15_000;
/** How long A keeps retrying its sessions' and streams' 429s while it opens them. */
const RAMP_MS = 30_000;
const B_CALL_TIMEOUT_MS = 30_000;
const B_WARMUP_MS = 3_000;
const SETTLE_MS = 10_000;
const SEED_ENTITIES = 20;
/** The whole run, setup and teardown included; past it everything is stopped and the run fails. */
const BUDGET_MS = (3 * DURATION_S + 120) * 1000;

// ---- Shared by the worker threads ------------------------------------------------------------

type Counts = Record<string, number>;

function bump(counts: Counts, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

/** What kind of failure an MCP call or connect ended in (the HTTP status when there was one). */
function kindOf(error: unknown): string {
  if (error instanceof StreamableHTTPError) {
    if (error.code === 429 && /sessions/i.test(error.message)) return 'http-429-session-cap';
    return `http-${error.code}`;
  }
  if (error instanceof McpError) {
    if (error.code === Number(ErrorCode.RequestTimeout)) return 'timeout';
    if (error.code === Number(ErrorCode.ConnectionClosed)) return 'closed';
    return `rpc${error.code}`;
  }
  if (error instanceof Error && error.name === 'AbortError') return 'aborted';
  if (error instanceof TypeError) return 'network';
  return 'other';
}

type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** A fetch that answers the client's GET (its event stream) 405, as a server without one would. */
function noStreamFetch(inner: FetchLike = fetch): FetchLike {
  return (url, init) =>
    (init?.method ?? 'GET').toUpperCase() === 'GET'
      ? Promise.resolve(new Response(null, { status: 405 }))
      : inner(url, init);
}

interface StreamCounts {
  requested: number;
  open: number;
  refused: Counts;
  failed: Counts;
}

/** A fetch that counts the client's GET event streams and how they were answered. */
function countingFetch(streams: StreamCounts, inner: FetchLike = fetch): FetchLike {
  return async (url, init) => {
    if ((init?.method ?? 'GET').toUpperCase() !== 'GET') return inner(url, init);
    streams.requested++;
    try {
      const res = await inner(url, init);
      if (res.ok) streams.open++;
      else bump(streams.refused, `http-${res.status}`);
      return res;
    } catch (error) {
      bump(streams.failed, kindOf(error));
      throw error;
    }
  };
}

/**
 * A fetch that, until `until()`, answers a 429 by waiting for its Retry-After and sending the
 * request again (bodies are the SDK's JSON strings, so a request can be sent twice).
 */
function patientFetch(inner: FetchLike, until: () => number): FetchLike {
  return async (url, init) => {
    for (;;) {
      const res = await inner(url, init);
      if (res.status !== 429 || Date.now() >= until()) return res;
      await res.arrayBuffer().catch(() => undefined);
      const retryAfterS = Number(res.headers.get('retry-after'));
      const waitMs = Number.isFinite(retryAfterS) && retryAfterS > 0 ? retryAfterS * 1000 : 1000;
      await sleep(waitMs + Math.random() * 250);
    }
  };
}

function transport(url: string, key: string, fetchFn?: FetchLike): StreamableHTTPClientTransport {
  return new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { authorization: `Bearer ${key}` } },
    ...(fetchFn ? { fetch: fetchFn } : {}),
    // A stream the server ends is not reopened over and over during the measurement.
    reconnectionOptions: {
      initialReconnectionDelay: 1000,
      maxReconnectionDelay: 5000,
      reconnectionDelayGrowFactor: 1.5,
      maxRetries: 1,
    },
  });
}

/**
 * Closes a client (which aborts its requests and its GET stream) and then ends its session with
 * a DELETE of its own, so the bridge frees the session at once; the DELETE's status, or why not.
 */
async function endSession(
  client: Client,
  t: StreamableHTTPClientTransport,
  url: string,
  key: string,
): Promise<string> {
  const sessionId = t.sessionId;
  await client.close().catch(() => undefined);
  if (!sessionId) return 'no-session';
  try {
    // A DELETE the per-second limit refuses is sent again (for up to 10 s).
    const until = Date.now() + 10_000;
    const res = await patientFetch(fetch, () => until)(url, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${key}`, 'mcp-session-id': sessionId },
      signal: AbortSignal.timeout(15_000),
    });
    await res.arrayBuffer();
    return `http-${res.status}`;
  } catch (error) {
    return kindOf(error);
  }
}

/** A progress line on stderr (the figures go to stdout). */
function progress(message: string): void {
  process.stderr.write(`[mcp-soak ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How a client process talks to the bench: its IPC channel. */
interface Port {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (message: any) => void): void;
  once(event: 'message', listener: (message: any) => void): void;
}

const parentPort: Port = {
  postMessage: (message) => process.send?.(message),
  on: (event, listener) => process.on(event, listener),
  once: (event, listener) => process.once(event, listener),
};

interface BData {
  role: 'b';
  url: string;
  key: string;
}

interface AData {
  role: 'a';
  url: string;
  key: string;
}

interface LoopResult {
  samples: number[];
  errors: Counts;
  ms: number;
}

/** Account B: one session (with its GET stream, as the SDK opens it), one call at a time. */
async function neighbourWorker(data: BData): Promise<void> {
  const port = parentPort;
  const t = transport(data.url, data.key);
  const client = new Client({ name: 'soak-b', version: '1' });
  await client.connect(t);
  const call = () =>
    client.callTool({ name: TOOL, arguments: {} }, undefined, { timeout: B_CALL_TIMEOUT_MS });
  const warmEnd = Date.now() + B_WARMUP_MS;
  while (Date.now() < warmEnd) {
    await call();
    if (B_PAUSE_MS > 0) await sleep(B_PAUSE_MS);
  }
  port.on('message', (command: { type: 'measure'; ms: number } | { type: 'stop' }) => {
    void (async () => {
      if (command.type === 'stop') {
        await endSession(client, t, data.url, data.key);
        port.postMessage({ type: 'stopped' });
        return;
      }
      const result: LoopResult = { samples: [], errors: {}, ms: 0 };
      const started = performance.now();
      const end = Date.now() + command.ms;
      while (Date.now() < end) {
        const t0 = performance.now();
        try {
          const answer = await call();
          if (answer.isError) bump(result.errors, 'tool-error');
          else result.samples.push(performance.now() - t0);
        } catch (error) {
          bump(result.errors, kindOf(error));
        }
        if (B_PAUSE_MS > 0) await sleep(B_PAUSE_MS);
      }
      result.ms = performance.now() - started;
      port.postMessage({ type: 'result', result });
    })();
  });
  port.postMessage({ type: 'ready' });
}

interface FloodReport {
  sessions: { requested: number; opened: number; refused: Counts };
  streams: StreamCounts & { wanted: number; pending: number };
  loadSessions: number;
  rampMs: number;
}

interface FloodResult {
  calls: number;
  callsPerS: number;
  p50: number;
  p99: number;
  errors: Counts;
  deletes: Counts;
}

/** Account A: many sessions holding GET streams, and many tool calls in flight. */
async function flooderWorker(data: AData): Promise<void> {
  const port = parentPort;
  const done: { at: number; ms: number }[] = [];
  const failures: { at: number; kind: string }[] = [];
  const sessions: { client: Client; t: StreamableHTTPClientTransport }[] = [];
  const streams: StreamCounts = { requested: 0, open: 0, refused: {}, failed: {} };
  let stopping = false;
  let loops: Promise<void>[] = [];

  const open = async (fetchFn: FetchLike) => {
    const t = transport(data.url, data.key, fetchFn);
    const client = new Client({ name: 'soak-a', version: '1' });
    client.onerror = () => undefined; // a GET that fails is counted by the fetch
    await client.connect(t, { timeout: A_CONNECT_TIMEOUT_MS });
    const session = { client, t };
    sessions.push(session);
    return session;
  };

  const loop = async (client: Client) => {
    while (!stopping) {
      const t0 = performance.now();
      try {
        const answer = await client.callTool({ name: TOOL, arguments: {} }, undefined, {
          timeout: A_CALL_TIMEOUT_MS,
        });
        if (answer.isError) failures.push({ at: Date.now(), kind: 'tool-error' });
        else done.push({ at: Date.now(), ms: performance.now() - t0 });
      } catch (error) {
        if (stopping) return;
        failures.push({ at: Date.now(), kind: kindOf(error) });
        await sleep(10); // an attacker would not wait; the bench's own CPU would spin
      }
    }
  };

  const start = async (): Promise<FloodReport> => {
    const started = Date.now();
    const rampEnd = started + RAMP_MS;
    let patientUntil = rampEnd;
    const patient = patientFetch(fetch, () => patientUntil);
    // Every flood session at once, as a flooding client would, retrying what the per-second
    // limit refuses (the loads' calls are not started yet, so they take none of that budget).
    const refused: Counts = {};
    const outcomes = await Promise.allSettled(
      Array.from({ length: FLOOD_SESSIONS }, (_, i) =>
        open(i < FLOOD_STREAMS ? countingFetch(streams, patient) : noStreamFetch(patient)),
      ),
    );
    for (const outcome of outcomes)
      if (outcome.status === 'rejected') bump(refused, kindOf(outcome.reason));
    const opened = outcomes.filter((o) => o.status === 'fulfilled').length;
    // A session's GET goes out after its initialize; give them a moment to be answered.
    const answered = () =>
      streams.open +
      Object.values(streams.refused).reduce((a, b) => a + b, 0) +
      Object.values(streams.failed).reduce((a, b) => a + b, 0);
    const wanted = Math.min(FLOOD_STREAMS, opened);
    const deadline = Math.max(rampEnd, Date.now() + 5_000);
    while (answered() < wanted && Date.now() < deadline) await sleep(50);
    // Then the load sessions (without GET streams: the flood's streams are counted apart), and
    // from here on a 429 is an error, not a pause: the calls hammer the gateway.
    const loadCount = Math.ceil(FLOOD_CONCURRENCY / CALLS_PER_LOAD_SESSION);
    const load = await Promise.all(
      Array.from({ length: loadCount }, () => open(noStreamFetch(patient))),
    );
    patientUntil = 0;
    loops = Array.from({ length: FLOOD_CONCURRENCY }, (_, i) => loop(load[i % loadCount].client));
    return {
      sessions: { requested: FLOOD_SESSIONS, opened, refused },
      streams: { ...streams, wanted, pending: Math.max(0, streams.requested - answered()) },
      loadSessions: loadCount,
      rampMs: Date.now() - started,
    };
  };

  const stop = async (window: { from: number; to: number }): Promise<FloodResult> => {
    stopping = true;
    const deletes: Counts = {};
    const ends = await Promise.all(
      sessions.map((s) => endSession(s.client, s.t, data.url, data.key)),
    );
    for (const end of ends) bump(deletes, end);
    await Promise.all(loops);
    const inWindow = <T extends { at: number }>(list: T[]) =>
      list.filter((x) => x.at >= window.from && x.at <= window.to);
    const calls = inWindow(done);
    const errors: Counts = {};
    for (const f of inWindow(failures)) bump(errors, f.kind);
    const latency = summarize(calls.length > 0 ? calls.map((c) => c.ms) : [Number.NaN]);
    return {
      calls: calls.length,
      callsPerS: calls.length / ((window.to - window.from) / 1000),
      p50: latency.p50,
      p99: latency.p99,
      errors,
      deletes,
    };
  };
  port.on(
    'message',
    (command: { type: 'start' } | { type: 'stop'; window: { from: number; to: number } }) => {
      void (async () => {
        try {
          if (command.type === 'start')
            port.postMessage({ type: 'flooding', report: await start() });
          else port.postMessage({ type: 'stopped', result: await stop(command.window) });
        } catch (error) {
          port.postMessage({
            type: 'failed',
            error: error instanceof Error ? (error.stack ?? error.message) : String(error),
          });
        }
      })();
    },
  );
  port.postMessage({ type: 'ready' });
}

// ---- The main thread: platform, phases, figures ----------------------------------------------

/** A client process running this file, and a way to ask it something and wait for its answer. */
class Peer {
  readonly child: ChildProcess;
  private waiting: { type: string; resolve: (m: any) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;

  /**
   * Started before the platform, so that its code is loaded while dist/ is certainly there; it
   * waits for `init` (the connection's URL and key). The flags reach it in its argv. `idle`
   * runs it under SCHED_IDLE (every thread of it, the garbage collector's included).
   */
  constructor(
    readonly role: 'a' | 'b',
    idle: boolean,
  ) {
    const node = [process.execPath, __filename, ...process.argv.slice(2)];
    const [command, ...args] = idle ? ['chrt', '--idle', '0', ...node] : node;
    this.child = spawn(command, args, {
      env: { ...process.env, [ROLE_ENV]: role },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m: { type: string; error?: string }) => {
      if (m.type === 'failed') return this.fail(new Error(`${role} client: ${m.error}`));
      const at = this.waiting.findIndex((w) => w.type === m.type);
      if (at >= 0) this.waiting.splice(at, 1)[0].resolve(m);
    });
    this.child.on('error', (error) => this.fail(error));
    this.child.on('exit', (code, signal) =>
      this.fail(new Error(`${role} client exited (${code ?? signal})`)),
    );
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const w of this.waiting.splice(0)) w.reject(error);
  }

  next<T>(type: string, send?: unknown, timeoutMs = 120_000): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no "${type}" from the ${this.role} client within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiting.push({
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      if (send !== undefined) this.child.send(send as Serializable);
    });
  }

  async terminate(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}

/** Resident memory of a process in MiB, from /proc/<pid>/status (NaN when it is gone). */
function rssMiB(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

// CPU time per process, from /proc (clock ticks of 10 ms), as bench/rest-load.ts counts it.
const TICK_MS = 10;

function ticks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function machineBusyTicks(): number {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = values.map(Number);
  return user + nice + system + irq + softirq + steal;
}

function pidsNamed(comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/**
 * Nanoseconds a thread has waited on a run queue, ready but not running (the second field of
 * /proc/<pid>/task/<tid>/schedstat): what a saturated CPU adds to an event loop's latency.
 */
function runQueueWaitNs(pid: number, tid = pid): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]);
  } catch {
    return 0;
  }
}

/** Microseconds in which some runnable task waited for a CPU (/proc/pressure/cpu, "some"). */
function cpuPressureUs(): number {
  try {
    const some = readFileSync('/proc/pressure/cpu', 'utf8').split('\n')[0];
    return Number(/total=(\d+)/.exec(some)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

type Groups = Record<string, () => number[]>;
/** Threads whose run-queue wait is shown: [pid, tid] pairs (an event loop is its process's first thread). */
type Threads = Record<string, () => [number, number][]>;
type CpuSnapshot = {
  at: number;
  machine: number;
  pressureUs: number;
  groups: Record<string, Map<number, number>>;
  waits: Record<string, Map<string, number>>;
};

function cpuSnapshot(groups: Groups, threads: Threads): CpuSnapshot {
  const snap: CpuSnapshot = {
    at: performance.now(),
    machine: machineBusyTicks(),
    pressureUs: cpuPressureUs(),
    groups: {},
    waits: {},
  };
  for (const [name, pids] of Object.entries(groups))
    snap.groups[name] = new Map(pids().map((pid) => [pid, ticks(pid)]));
  for (const [name, list] of Object.entries(threads))
    snap.waits[name] = new Map(
      list().map(([pid, tid]) => [`${pid}/${tid}`, runQueueWaitNs(pid, tid)]),
    );
  return snap;
}

/** Run-queue wait of each thread group between two snapshots, in ms per second of wall time. */
function waitBetween(start: CpuSnapshot, end: CpuSnapshot): Record<string, number> {
  const wallS = (end.at - start.at) / 1000;
  const out: Record<string, number> = {};
  for (const [name, tasks] of Object.entries(end.waits)) {
    let ns = 0;
    for (const [task, v] of tasks) ns += v - (start.waits[name]?.get(task) ?? v);
    out[name] = ns / 1e6 / wallS;
  }
  out['cpu pressure %'] = (end.pressureUs - start.pressureUs) / 1e4 / wallS;
  return out;
}

/** % of one core each group used between two snapshots; `others`: the rest of the machine. */
function cpuBetween(start: CpuSnapshot, end: CpuSnapshot): Record<string, number> {
  const wallMs = end.at - start.at;
  const out: Record<string, number> = {};
  let ours = 0;
  for (const [name, pids] of Object.entries(end.groups)) {
    let used = 0;
    for (const [pid, t] of pids) used += t - (start.groups[name]?.get(pid) ?? 0);
    out[name] = (used * TICK_MS * 100) / wallMs;
    ours += out[name];
  }
  out.machine = ((end.machine - start.machine) * TICK_MS * 100) / wallMs;
  out.others = Math.max(0, out.machine - ours);
  return out;
}

/** Durations the gateway logged (access log) for an account's tool calls within a window. */
function gatewayDurations(platform: TestPlatform, account: string, from: number, to: number) {
  const durations: number[] = [];
  for (const line of platform.service('api-gateway').lines) {
    const j = line.json;
    if (!j || j.msg !== 'mcp request' || j.account !== account || j.rpc_method !== 'tools/call')
      continue;
    const time = typeof j.time === 'number' ? j.time : Date.parse(String(j.time));
    if (time >= from && time <= to) durations.push(Number(j.duration_ms));
  }
  return durations;
}

/**
 * --cpu-prof is not allowed in NODE_OPTIONS: a preload (written into the profile folder) starts
 * V8's sampling profiler through the inspector and writes the profile as the service exits.
 */
function profilerPreload(): string {
  const dir = path.resolve(CPU_PROF_DIR);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'profile-preload.js');
  writeFileSync(
    file,
    `'use strict';
const { Session } = require('node:inspector');
const fs = require('node:fs');
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 1000 });
session.post('Profiler.start');
process.on('exit', () => {
  session.post('Profiler.stop', (error, result) => {
    if (!error) fs.writeFileSync(${JSON.stringify(dir)} + '/CPU.' + process.pid + '.cpuprofile', JSON.stringify(result.profile));
  });
});
`,
  );
  return file;
}

interface PhaseFigures {
  label: string;
  b: LoopResult;
  bGateway: number[];
  a?: FloodResult;
  rss: { gateway: number; sandbox: number; rssWhen: string };
  cpu: Record<string, number>;
  waits: Record<string, number>;
}

function counts(c: Counts | undefined): string {
  const entries = Object.entries(c ?? {}).filter(([, n]) => n > 0);
  return entries.length === 0 ? '-' : entries.map(([k, n]) => `${k}:${n}`).join(' ');
}

function report(phases: PhaseFigures[], flood: FloodReport | undefined): string[] {
  const pct = (xs: number[]) => summarize(xs.length > 0 ? xs : [Number.NaN]);
  const lines = [
    `  ${'phase'.padEnd(16)} ${'B calls'.padStart(8)} ${'B p50 ms'.padStart(9)} ${'B p99 ms'.padStart(9)} ${'B err'.padStart(6)} ${'A calls/s'.padStart(10)} ${'gw RSS MiB'.padStart(11)} ${'sbx RSS MiB'.padStart(12)}  A errors by kind`,
  ];
  for (const p of phases) {
    const b = pct(p.b.samples);
    const bErrors = Object.values(p.b.errors).reduce((x, y) => x + y, 0);
    lines.push(
      `  ${p.label.padEnd(16)} ${String(p.b.samples.length).padStart(8)} ${fixed(b.p50).padStart(9)} ${fixed(b.p99).padStart(9)} ${String(bErrors).padStart(6)} ${(p.a ? fixed(p.a.callsPerS, 1) : '-').padStart(10)} ${fixed(p.rss.gateway, 1).padStart(11)} ${fixed(p.rss.sandbox, 1).padStart(12)}  ${p.a ? counts(p.a.errors) : '-'}`,
    );
  }
  lines.push(
    `  (RSS: ${phases.map((p) => `${p.label}: ${p.rss.rssWhen}`).join('; ')})`,
    '',
    '  B tool calls as the gateway logged them (access log duration_ms: gateway, bridge, server; not the client side):',
  );
  for (const p of phases) {
    const g = pct(p.bGateway);
    lines.push(
      `  ${p.label.padEnd(16)} n ${String(p.bGateway.length).padStart(6)}   p50 ${fixed(g.p50).padStart(7)} ms   p99 ${fixed(g.p99).padStart(7)} ms${Object.keys(p.b.errors).length ? `   B errors ${counts(p.b.errors)}` : ''}`,
    );
  }
  const floodPhase = phases.find((p) => p.a);
  if (flood && floodPhase?.a) {
    const a = floodPhase.a;
    lines.push(
      '',
      `  A's flood: ${flood.sessions.opened}/${flood.sessions.requested} sessions opened (refused: ${counts(flood.sessions.refused)}), plus ${flood.loadSessions} load session(s) carrying ${FLOOD_CONCURRENCY} calls in flight; opened in ${fixed(flood.rampMs / 1000, 1)} s`,
      `  A's GET streams: ${flood.streams.open} open of ${flood.streams.wanted} wanted (${flood.streams.requested} sent; refused: ${counts(flood.streams.refused)}; failed: ${counts(flood.streams.failed)}; still unanswered: ${flood.streams.pending})`,
      `  A's calls during the flood window: ${a.calls} (${fixed(a.callsPerS, 1)}/s), p50 ${fixed(a.p50)} ms, p99 ${fixed(a.p99)} ms, errors: ${counts(a.errors)}; session ends: ${counts(a.deletes)}`,
    );
  }
  const groups = Object.keys(phases[0].cpu);
  lines.push(
    '',
    `  CPU, % of one core (${cpus().length} cores = ${cpus().length * 100}%; others: processes this bench did not start):`,
    `  ${'phase'.padEnd(16)} ${groups.map((g) => g.padStart(9)).join(' ')}`,
  );
  for (const p of phases)
    lines.push(
      `  ${p.label.padEnd(16)} ${groups.map((g) => fixed(p.cpu[g] ?? 0, 0).padStart(9)).join(' ')}`,
    );
  const threads = Object.keys(phases[0].waits);
  lines.push(
    '',
    '  Run-queue wait of the event loops, ms per second (ready to run, no CPU free; /proc/<pid>/task/<tid>/schedstat),',
    '  and cpu pressure % (share of time some task waited for a CPU, /proc/pressure/cpu):',
    `  ${'phase'.padEnd(16)} ${threads.map((g) => g.padStart(9)).join(' ')}`,
  );
  for (const p of phases)
    lines.push(
      `  ${p.label.padEnd(16)} ${threads.map((g) => fixed(p.waits[g] ?? 0, 1).padStart(9)).join(' ')}`,
    );
  return lines;
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  const infra: TestInfrastructure = await createTestInfrastructure('bench-mcp-soak');
  const profiled = CPU_PROF_DIR ? { NODE_OPTIONS: `--require ${profilerPreload()}` } : undefined;
  const platform = new TestPlatform(infra, {
    env: {
      LOG_LEVEL: 'info',
      RATE_LIMIT_REQUESTS_PER_MINUTE: RATE_LIMIT,
      ...(RATE_PER_SECOND ? { RATE_LIMIT_REQUESTS_PER_SECOND: RATE_PER_SECOND } : {}),
      ...(HOLD_MS ? { RATE_LIMIT_REFUSAL_HOLD_MS: HOLD_MS } : {}),
    },
    serviceEnv: profiled ? { 'api-gateway': profiled, 'sandbox-service': profiled } : {},
  });
  const peers: Peer[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      await Promise.all(peers.map((p) => p.terminate().catch(() => undefined)));
      await platform.stop().catch(() => undefined);
      await infra.dispose().catch(() => undefined);
    })());
  const onSignal = () => {
    process.stderr.write('interrupted: stopping everything this bench started\n');
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const watchdog = setTimeout(() => {
    process.stderr.write(
      `time budget of ${BUDGET_MS / 1000} s exceeded: stopping everything this bench started\n`,
    );
    void stopAll().finally(() => process.exit(1));
  }, BUDGET_MS);
  watchdog.unref();

  try {
    const neighbour = new Peer('b', false);
    const flooder = new Peer('a', FLOOD_HOST === 'apart');
    peers.push(neighbour, flooder);
    await Promise.all([neighbour.next('loaded'), flooder.next('loaded')]);
    progress('starting the platform');
    await platform.start();
    progress('platform healthy; installing a memory-server connection per account');
    const admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    const setUp = async (account: string) => {
      const created = await admin.post('/functions/v1/api-keys', {
        account_id: account,
        name: 'mcp-soak bench',
      });
      if (created.status !== 201)
        throw new Error(`api-keys answered ${created.status}: ${JSON.stringify(created.body)}`);
      const key: string = created.body.key;
      const api = new ApiClient(platform.baseUrl, key);
      const { id } = await api.install({
        mcp_server_id: 'memory-server',
        title: `soak ${account}`,
      });
      await waitForStatus(api, id, 'mcpRunning', 60_000);
      const url = `${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`;
      // The same small graph in both servers, so that every read_graph does the same work.
      const t = transport(url, key, noStreamFetch());
      const client = new Client({ name: 'soak-seed', version: '1' });
      await client.connect(t);
      await client.callTool({
        name: 'create_entities',
        arguments: {
          entities: Array.from({ length: SEED_ENTITIES }, (_, i) => ({
            name: `entity-${i}`,
            entityType: 'bench',
            observations: [`observation ${i} of the soak bench`],
          })),
        },
      });
      await endSession(client, t, url, key);
      return { id, key, url };
    };
    const [a, b] = await Promise.all([setUp(ACCOUNT_A), setUp(ACCOUNT_B)]);
    progress('both connections mcpRunning and seeded');

    const pidOf = (name: ServiceName) => platform.service(name).pid;
    const connectionPids = (id: string) => () => connectionProcesses(id).map((p) => p.pid);
    const groups: Groups = {
      gateway: () => [pidOf('api-gateway')!],
      sandbox: () => [pidOf('sandbox-service')!],
      'A server': connectionPids(a.id),
      'B server': connectionPids(b.id),
      'B client': () => [neighbour.pid],
      'A client': () => [flooder.pid],
      bench: () => [process.pid],
      'other svcs': () =>
        (['registry-service', 'credential-service', 'agent-runner'] as const)
          .map((name) => pidOf(name))
          .filter((pid): pid is number => pid !== undefined),
      rabbitmq: () => pidsNamed('beam.smp'),
      postgres: () => pidsNamed('postgres'),
    };
    const rss = (when: string) => ({
      gateway: rssMiB(pidOf('api-gateway')),
      sandbox: rssMiB(pidOf('sandbox-service')),
      rssWhen: when,
    });

    await neighbour.next('ready', {
      type: 'init',
      data: { role: 'b', url: b.url, key: b.key },
    });
    await flooder.next('ready', {
      type: 'init',
      data: { role: 'a', url: a.url, key: a.key },
    });
    const mainThread = (pid: number | undefined): [number, number][] => (pid ? [[pid, pid]] : []);
    const mainThreads = (id: string) => () =>
      connectionProcesses(id).map((p): [number, number] => [p.pid, p.pid]);
    // The event loops on B's path (and A's), whose run-queue wait is shown per phase.
    const threads: Threads = {
      'B client': () => mainThread(neighbour.pid),
      gateway: () => mainThread(pidOf('api-gateway')),
      sandbox: () => mainThread(pidOf('sandbox-service')),
      'B server': mainThreads(b.id),
      'A server': mainThreads(a.id),
      'A client': () => mainThread(flooder.pid),
    };

    const windows: { phase: string; startUs: number; endUs: number }[] = [];
    const clockUs = () => Number(process.hrtime.bigint() / 1000n);
    const measureB = async (phase: string) => {
      const startUs = clockUs();
      const from = Date.now();
      const cpuStart = cpuSnapshot(groups, threads);
      const { result } = await neighbour.next<{ result: LoopResult }>(
        'result',
        { type: 'measure', ms: DURATION_S * 1000 },
        DURATION_S * 1000 + 60_000,
      );
      const cpuEnd = cpuSnapshot(groups, threads);
      const to = Date.now();
      windows.push({ phase, startUs, endUs: clockUs() });
      return {
        result,
        cpu: cpuBetween(cpuStart, cpuEnd),
        waits: waitBetween(cpuStart, cpuEnd),
        from,
        to,
        bGateway: gatewayDurations(platform, ACCOUNT_B, from, to),
      };
    };
    const phases: PhaseFigures[] = [];

    progress(`phase 1 (quiet): B alone for ${DURATION_S} s`);
    const before = rss('before phase 1');
    const quiet = await measureB('quiet');
    phases.push({
      label: '1 quiet',
      b: quiet.result,
      bGateway: quiet.bGateway,
      rss: before,
      cpu: quiet.cpu,
      waits: quiet.waits,
    });

    progress("phase 2 (flood): opening A's sessions and starting its calls");
    const { report: flood } = await flooder.next<{ report: FloodReport }>(
      'flooding',
      { type: 'start' },
      A_CONNECT_TIMEOUT_MS + 60_000,
    );
    progress(
      `A flooding (${flood.sessions.opened} sessions, ${flood.streams.open} streams open); B for ${DURATION_S} s`,
    );
    const during = await measureB('flood');
    progress("closing A's sessions");
    const atEnd = rss('end of phase 2');
    const { result: aResult } = await flooder.next<{ result: FloodResult }>(
      'stopped',
      { type: 'stop', window: { from: during.from, to: during.to } },
      60_000,
    );
    phases.push({
      label: '2 flood',
      b: during.result,
      bGateway: during.bGateway,
      a: aResult,
      rss: atEnd,
      cpu: during.cpu,
      waits: during.waits,
    });

    progress(`phase 3 (after): B for ${DURATION_S} s, then ${SETTLE_MS / 1000} s quiet`);
    const after = await measureB('after');
    await sleep(SETTLE_MS);
    phases.push({
      label: '3 after',
      b: after.result,
      bGateway: after.bGateway,
      rss: rss(`${SETTLE_MS / 1000} s after phase 3`),
      cpu: after.cpu,
      waits: after.waits,
    });
    await neighbour.next('stopped', { type: 'stop' }, 30_000);
    if (CPU_PROF_DIR)
      writeFileSync(
        path.join(path.resolve(CPU_PROF_DIR), 'windows.json'),
        JSON.stringify(
          {
            pids: {
              [String(pidOf('api-gateway'))]: 'api-gateway',
              [String(pidOf('sandbox-service'))]: 'sandbox-service',
            },
            windows,
          },
          null,
          2,
        ),
      );

    const p99 = (p: PhaseFigures) => summarize(p.b.samples.length ? p.b.samples : [NaN]).p99;
    const ratio = p99(phases[1]) / p99(phases[0]);
    process.stdout.write(
      [
        `MCP soak (memory-server ${TOOL}), loopback, ${cpus().length} cores, ${DURATION_S} s per phase, B pausing ${B_PAUSE_MS} ms between calls;`,
        `flood: ${FLOOD_SESSIONS} sessions of account A (${FLOOD_STREAMS} holding a GET stream) + ${FLOOD_CONCURRENCY} tool calls in flight on A's own connection.`,
        FLOOD_HOST === 'apart'
          ? "A's client under SCHED_IDLE (--flood-host apart): as if on another machine, it takes only CPU time nothing else wants."
          : "A's client at normal priority (--flood-host shared): it competes with the platform and B for this machine's cores.",
        Number(RATE_LIMIT) >= 1e6
          ? `RATE_LIMIT_REQUESTS_PER_MINUTE=${RATE_LIMIT} for the platform (default 6000): the per-minute limit refuses nothing here.`
          : `RATE_LIMIT_REQUESTS_PER_MINUTE=${RATE_LIMIT} for the platform: the per-account rate limiter is in force (a fixed 60 s window).`,
        RATE_PER_SECOND
          ? `RATE_LIMIT_REQUESTS_PER_SECOND=${RATE_PER_SECOND} for the platform (default 100 per account).`
          : 'RATE_LIMIT_REQUESTS_PER_SECOND is the default (100 per account): a flood is spread out over seconds, its excess answered 429.',
        HOLD_MS
          ? `RATE_LIMIT_REFUSAL_HOLD_MS=${HOLD_MS} for the platform (default 1000)${HOLD_MS === '0' ? ': refused calls are answered at once' : ''}.`
          : 'RATE_LIMIT_REFUSAL_HOLD_MS is the default (1000): the 429 of a refused call is held until a random moment between its window opening again and 1 s.',
        ...report(phases, flood),
        '',
        `  B p99 flood / B p99 quiet = ${fixed(ratio)}x (target <= 2x: ${ratio <= 2 ? 'met' : 'MISSED'}); after / quiet = ${fixed(p99(phases[2]) / p99(phases[0]))}x`,
        ...(CPU_PROF_DIR
          ? [`  PROFILED (--cpu-prof): profiles and windows.json in ${path.resolve(CPU_PROF_DIR)}`]
          : []),
        `  total ${fixed((Date.now() - startedAt) / 1000, 0)} s`,
        '',
      ].join('\n'),
    );
  } finally {
    clearTimeout(watchdog);
    await stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

const role = process.env[ROLE_ENV];
if (role === undefined) {
  main().catch((error) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
} else {
  // A client process ends with the bench: when its channel closes, whatever the reason.
  process.on('disconnect', () => process.exit(0));
  const port = parentPort;
  port.once('message', (init: { type: 'init'; data: AData | BData }) => {
    const { data } = init;
    (data.role === 'a' ? flooderWorker(data) : neighbourWorker(data)).catch((error: unknown) => {
      port.postMessage({
        type: 'failed',
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    });
  });
  port.postMessage({ type: 'loaded', role });
}
