// What the egress path of a local sandbox costs: a client in a Node process with the sandbox shim
// preloaded (SANDBOX_SHIM_SOURCE) reaching a target through the platform's egress proxy
// (startEgressListener, with its guard), beside the same client in the same kind of process
// connecting to the target directly. Same run, same targets, loopback only: the targets listen on
// 127.0.0.1 in a process of their own (as a remote server would be), the proxy runs in this
// process (as in the sandbox service), each client in a child process that times itself.
//   npm run bench:egress   (or: node scripts/build.js && node dist/bench/egress.js)
import {
  type EgressEvent,
  EgressGuard,
  type EgressListener,
  parseAllowPrivate,
  SANDBOX_SHIM_SOURCE,
  startEgressListener,
} from '@athenic/egress';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { fixed as num, signed, summarize } from './stats';
import { stopByStdin } from './support';

const run = promisify(execFile);

const CONNECTS = 500;
const REQUESTS = 2000;
const BULK_BYTES = 64 * 1024 * 1024;
const WARMUP = 50;
/** Warm-up of the throughput test: transfers of this size on the tunnel before the timed one. */
const BULK_WARMUP = { count: 4, bytes: 4 * 1024 * 1024 };
/**
 * Every figure is gathered in rounds (each round one block per path, the order swapped every
 * round), so drift in the machine's load affects both paths alike.
 */
const ROUNDS = 5;
const NAME = 'api.test';

// The targets, in a process of their own: an HTTP server, a TCP echo server, and a bulk server
// that answers each line "N\n" with N bytes. Prints its ports; exits when its stdin closes.
const TARGETS = `
const http = require('node:http');
const net = require('node:net');
const web = http.createServer((req, res) => { req.resume(); res.end('ok'); });
const echo = net.createServer((s) => { s.setNoDelay(true); s.on('error', () => s.destroy()); s.pipe(s); });
const chunk = Buffer.alloc(64 * 1024, 120);
const send = async (s, n) => {
  while (n > 0 && !s.destroyed) {
    const part = n >= chunk.length ? chunk : chunk.subarray(0, n);
    n -= part.length;
    if (!s.write(part))
      await new Promise((resolve) => {
        const done = () => { s.off('drain', done); s.off('close', done); resolve(); };
        s.on('drain', done);
        s.on('close', done);
      });
  }
};
const bulk = net.createServer((s) => {
  s.setNoDelay(true);
  s.on('error', () => s.destroy());
  let line = '';
  let queue = Promise.resolve();
  s.on('data', (d) => {
    line += d.toString('latin1');
    for (let i = line.indexOf('\\n'); i >= 0; i = line.indexOf('\\n')) {
      const n = Number(line.slice(0, i));
      line = line.slice(i + 1);
      queue = queue.then(() => send(s, n));
    }
  });
});
const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
(async () => {
  const ports = { http: await listen(web), echo: await listen(echo), bulk: await listen(bulk) };
  process.stdout.write(JSON.stringify(ports) + '\\n');
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
})();
`;

// The client: one job, timed inside with process.hrtime.bigint(), its result as JSON on stdout.
const CLIENT = `
const http = require('node:http');
const net = require('node:net');
const job = JSON.parse(process.argv[1]);
const now = () => process.hrtime.bigint();
const ms = (since) => Number(now() - since) / 1e6;

// A fresh connection, usable: connected and one small message echoed back.
const connectOnce = () => new Promise((resolve, reject) => {
  const started = now();
  const s = net.connect({ host: job.host, port: job.port, noDelay: true });
  let got = 0;
  s.on('connect', () => s.write('ping\\n'));
  s.on('data', (d) => {
    got += d.length;
    if (got < 5) return;
    const took = ms(started);
    s.destroy();
    resolve(took);
  });
  s.on('error', reject);
  s.on('close', () => reject(new Error('closed before the echo')));
});

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let fresh = 0;
const get = () => new Promise((resolve, reject) => {
  const req = http.get(job.url, { agent }, (res) => {
    if (res.statusCode !== 200) reject(new Error('status ' + res.statusCode));
    res.resume();
    res.on('end', resolve);
    res.on('error', reject);
  });
  req.on('socket', () => { if (!req.reusedSocket) fresh++; });
  req.on('error', reject);
});

async function timed(count, call) {
  const samples = [];
  for (let i = 0; i < count; i++) {
    const started = now();
    await call();
    samples.push(ms(started));
  }
  return samples;
}

async function bulk() {
  const s = net.connect({ host: job.host, port: job.port, noDelay: true });
  let failed = null;
  let wake = () => {};
  let got = 0;
  s.on('error', (e) => { failed = e; wake(); });
  s.on('close', () => { failed = failed || new Error('closed during the transfer'); wake(); });
  s.on('data', (d) => { got += d.length; wake(); });
  const transfer = async (bytes) => {
    got = 0;
    s.write(bytes + '\\n');
    while (got < bytes) {
      await new Promise((resolve) => (wake = resolve));
      if (failed) throw failed;
    }
    if (got !== bytes) throw new Error('received ' + got + ' bytes, asked for ' + bytes);
  };
  for (let i = 0; i < job.warmup.count; i++) await transfer(job.warmup.bytes);
  const started = now();
  await transfer(job.bytes);
  const took = ms(started);
  s.destroy();
  return { ms: took };
}

(async () => {
  let out;
  if (job.kind === 'connect') {
    await timed(job.warmup, connectOnce);
    out = { samples: await timed(job.n, connectOnce) };
  } else if (job.kind === 'http') {
    await timed(job.warmup, get);
    out = { samples: await timed(job.n, get), fresh };
    agent.destroy();
  } else {
    out = await bulk();
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + '\\n');
  process.exit(1);
});
`;

type Job =
  | { kind: 'connect'; host: string; port: number; n: number; warmup: number }
  | { kind: 'http'; url: string; n: number; warmup: number }
  | {
      kind: 'bulk';
      host: string;
      port: number;
      bytes: number;
      warmup: { count: number; bytes: number };
    };

interface Ports {
  http: number;
  echo: number;
  bulk: number;
}

interface Path {
  label: string;
  /** The host the client asks for. */
  host: string;
  args: string[];
  env: Record<string, string>;
}

async function runClient<T>(client: Path, job: Job): Promise<T> {
  const { stdout } = await run(
    process.execPath,
    [...client.args, '-e', CLIENT, JSON.stringify(job)],
    {
      env: { PATH: process.env.PATH ?? '', ...client.env },
      timeout: 60_000,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return JSON.parse(stdout) as T;
}

async function startTargets(): Promise<{ ports: Ports; process: ChildProcess }> {
  const child = spawn(process.execPath, ['-e', TARGETS], {
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const ports = await new Promise<Ports>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the targets did not start')), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      resolve(JSON.parse(out.slice(0, out.indexOf('\n'))) as Ports);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the targets exited (${code})`));
    });
  });
  return { ports, process: child };
}

/** Runs `measure` for both paths in every round, swapping their order each round. */
async function inRounds<T>(
  paths: [Path, Path],
  measure: (p: Path) => Promise<T>,
): Promise<[T[], T[]]> {
  const results: [T[], T[]] = [[], []];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [0, 1] : [1, 0];
    for (const i of order) results[i].push(await measure(paths[i]));
  }
  return results;
}

const row = (label: string, a: string, b: string) =>
  `  ${label.padEnd(50)} ${a.padStart(11)} ${b.padStart(11)}`;

function latencyTable(
  title: string,
  labels: [string, string],
  samples: [number[], number[]],
): string[] {
  const [a, b] = samples.map(summarize);
  return [
    row(title, 'p50 ms', 'p99 ms'),
    row(`(a) ${labels[0]}`, num(a.p50), num(a.p99)),
    row(`(b) ${labels[1]}`, num(b.p50), num(b.p99)),
    row('added by the egress path (b - a)', signed(b.p50 - a.p50), signed(b.p99 - a.p99)),
  ];
}

const median = (values: number[]) => summarize(values).p50;

async function main(): Promise<void> {
  const began = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-egress-'));
  let targets: ChildProcess | undefined;
  let listener: EgressListener | undefined;
  try {
    const shim = path.join(dir, 'shim.cjs');
    fs.writeFileSync(shim, SANDBOX_SHIM_SOURCE);
    const started = await startTargets();
    targets = started.process;
    const ports = started.ports;

    const events: EgressEvent[] = [];
    listener = await startEgressListener({
      socketPath: path.join(dir, 'egress.sock'),
      policy: {
        patterns: [],
        targets: [ports.http, ports.echo, ports.bulk].map((port) => ({ host: NAME, port })),
      },
      guard: new EgressGuard({
        openings: parseAllowPrivate(
          [ports.http, ports.echo, ports.bulk].map((port) => `${NAME}:${port}`).join(','),
        ),
        includeHostAddresses: false,
        lookup: async (host) => (host === NAME ? ['127.0.0.1'] : []),
      }),
      onEvent: (event) => events.push(event),
    });

    const direct: Path = {
      label: 'direct to 127.0.0.1 (baseline)',
      host: '127.0.0.1',
      args: [],
      env: {},
    };
    const egress: Path = {
      label: `shim + egress proxy (${NAME} -> 127.0.0.1)`,
      host: NAME,
      args: ['--require', shim],
      env: { ATHENIC_EGRESS_SOCKET: listener.socketPath },
    };
    const paths: [Path, Path] = [direct, egress];

    const connects = await inRounds(paths, (p) =>
      runClient<{ samples: number[] }>(p, {
        kind: 'connect',
        host: p.host,
        port: ports.echo,
        n: CONNECTS / ROUNDS,
        warmup: WARMUP,
      }),
    );
    const requests = await inRounds(paths, (p) =>
      runClient<{ samples: number[]; fresh: number }>(p, {
        kind: 'http',
        url: `http://${p.host}:${ports.http}/`,
        n: REQUESTS / ROUNDS,
        warmup: WARMUP,
      }),
    );
    const transfers = await inRounds(paths, (p) =>
      runClient<{ ms: number }>(p, {
        kind: 'bulk',
        host: p.host,
        port: ports.bulk,
        bytes: BULK_BYTES,
        warmup: BULK_WARMUP,
      }),
    );

    // The figures are only what they claim when every request of (a) kept its one connection
    // and every connection of (b) went through the proxy, none refused.
    for (const results of requests)
      for (const r of results)
        if (r.fresh !== 1) throw new Error(`a kept-alive client opened ${r.fresh} connections`);
    const tunnels = (port: number) => events.filter((e) => e.allowed && e.port === port).length;
    const expected = { echo: ROUNDS * (WARMUP + CONNECTS / ROUNDS), http: ROUNDS, bulk: ROUNDS };
    if (
      events.some((e) => !e.allowed) ||
      tunnels(ports.echo) !== expected.echo ||
      tunnels(ports.http) !== expected.http ||
      tunnels(ports.bulk) !== expected.bulk
    ) {
      throw new Error(
        `the proxy saw other tunnels than expected: ${JSON.stringify({ echo: tunnels(ports.echo), http: tunnels(ports.http), bulk: tunnels(ports.bulk), refused: events.filter((e) => !e.allowed).length, expected })}`,
      );
    }

    const labels: [string, string] = [direct.label, egress.label];
    const mbps = (t: { ms: number }[]) => median(t.map((x) => BULK_BYTES / 1e6 / (x.ms / 1000)));
    const bulkMs = (t: { ms: number }[]) => median(t.map((x) => x.ms));
    const [rateA, rateB] = transfers.map(mbps);
    const [msA, msB] = transfers.map(bulkMs);
    process.stdout.write(
      [
        `egress path of a local sandbox beside a direct connection, same run, loopback only`,
        `  (${ROUNDS} rounds, paths alternating; ${WARMUP} warm-up iterations per path per round; ${os.cpus().length} CPUs, node ${process.version})`,
        '',
        ...latencyTable(
          `connect + first round trip, ${CONNECTS} fresh TCP conns`,
          labels,
          connects.map((rs) => rs.flatMap((r) => r.samples)) as [number[], number[]],
        ),
        '',
        ...latencyTable(
          `HTTP GET on one kept-alive conn, ${REQUESTS} sequential`,
          labels,
          requests.map((rs) => rs.flatMap((r) => r.samples)) as [number[], number[]],
        ),
        '',
        row(
          `one tunnel, ${BULK_BYTES / 1024 / 1024} MiB target -> client, median of ${ROUNDS}`,
          'MB/s',
          'ms',
        ),
        row(`(a) ${labels[0]}`, num(rateA, 0), num(msA, 1)),
        row(`(b) ${labels[1]}`, num(rateB, 0), num(msB, 1)),
        row(
          `added by the egress path (b - a), b/a ${num(rateB / rateA)}x`,
          signed(rateB - rateA, 0),
          signed(msB - msA, 1),
        ),
        '',
        `  (MB = 10^6 bytes; ${BULK_WARMUP.count} x ${BULK_WARMUP.bytes / 1024 / 1024} MiB warm-up on the tunnel before each timed transfer; total ${((Date.now() - began) / 1000).toFixed(1)} s)`,
        '',
      ].join('\n'),
    );
  } finally {
    await listener?.close();
    if (targets) await stopByStdin(targets);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
