import {
  type ChildProcess,
  execFile,
  spawn,
  type SpawnOptions,
  spawnSync,
} from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, promises as fsp, readdirSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

// Test hosts: a network namespace joined to the root namespace by a veth pair, with a /30 of
// 10.231.0.0/16 between them. A test may only send traffic to loopback or to such a host, so
// servers that "live on another machine" (an HTTP API, a tenant's Postgres) run inside one.
// The namespace has no route but the /30: whatever runs there can reach nothing else either.

const run = promisify(execFile);

/** The netns (and root-side veth) name prefix; every name is this and 6 random hex digits. */
const NAME_PREFIX = 'athtest-';
/** How many random name/subnet picks `createTestHost` tries before giving up. */
const ATTEMPTS = 8;
/** Readiness: this many TCP connects from the root namespace, this far apart. */
const READY_TRIES = 100;
const READY_INTERVAL_MS = 100;

export interface TestHost {
  /** The netns name (`athtest-<6 hex>`); also the name of the root-side veth end. */
  name: string;
  /** The test host's IPv4 address inside the netns, e.g. 10.231.17.2. */
  address: string;
  /** The root-namespace end of the veth, e.g. 10.231.17.1. */
  hostSideAddress: string;
  /**
   * Spawn a process inside the namespace (via `ip netns exec <ns> ...`); killed on dispose. The
   * process leads its own process group, so its children are killed with it. `uid`/`gid` are
   * applied after entering the namespace (with setpriv), since only root can enter one.
   */
  spawn(command: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** Runs `cleanup` on dispose, before the processes are killed (last registered runs first). */
  defer(cleanup: () => unknown): void;
  /** Kills the processes, deletes the veth and the namespace; safe to call more than once. */
  dispose(): Promise<void>;
}

export interface TestHostOptions {
  /** Between SIGTERM and SIGKILL for the processes still running at dispose. */
  killGraceMs?: number;
}

/**
 * Whether this machine can create test hosts (root, `ip` present, netns works); with a reason
 * when not. Probed once per process by creating and deleting a namespace with a veth pair.
 */
export function testHostsAvailable(): { ok: true } | { ok: false; reason: string } {
  return (availability ??= probe());
}

let availability: { ok: true } | { ok: false; reason: string } | undefined;

function probe(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux') {
    return { ok: false, reason: `network namespaces need Linux, not ${process.platform}` };
  }
  if (process.getuid?.() !== 0)
    return { ok: false, reason: 'creating network namespaces needs root' };
  const version = spawnSync('ip', ['-V'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) {
    return { ok: false, reason: '`ip` (iproute2) is not installed' };
  }
  // The real thing, once per process: a namespace with a veth pair in it.
  const name = `${NAME_PREFIX}${randomBytes(3).toString('hex')}`;
  const failed = (result: ReturnType<typeof spawnSync>) =>
    result.error?.message ?? String(result.stderr).trim();
  const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  if (add.status !== 0) return { ok: false, reason: `ip netns add: ${failed(add)}` };
  try {
    const veth = spawnSync(
      'ip',
      ['-n', name, 'link', 'add', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1'],
      { encoding: 'utf8' },
    );
    if (veth.status !== 0) return { ok: false, reason: `veth pairs: ${failed(veth)}` };
    return { ok: true };
  } finally {
    spawnSync('ip', ['netns', 'del', name]);
  }
}

/** `ip` with the arguments; rejects with what it said on stderr. */
async function ip(...args: string[]): Promise<string> {
  try {
    return (await run('ip', args, { encoding: 'utf8' })).stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`ip ${args.join(' ')}: ${stderr || String(error)}`);
  }
}

/** Someone else (another jest worker) already has this name or subnet: pick again. */
class Collision extends Error {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A fresh test host: `ip netns add athtest-<hex>`, a veth pair between it and the root namespace,
 * and a random /30 of 10.231.0.0/16 (.1 on the root side, .2 inside). Names and subnets already in
 * use are detected and picked again. Dispose it in `afterAll`, even when a test failed.
 */
export async function createTestHost(options: TestHostOptions = {}): Promise<TestHost> {
  const available = testHostsAvailable();
  if (!available.ok) throw new Error(`Test hosts are not available here: ${available.reason}`);
  let last: Collision | undefined;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    try {
      return await setUpHost(options);
    } catch (error) {
      if (!(error instanceof Collision)) throw error;
      last = error;
    }
  }
  throw new Error(`No free test host name and subnet in ${ATTEMPTS} tries: ${last?.message}`);
}

async function setUpHost(options: TestHostOptions): Promise<NetnsTestHost> {
  const name = `${NAME_PREFIX}${randomBytes(3).toString('hex')}`;
  const peer = `athpeer-${name.slice(NAME_PREFIX.length)}`;
  // One of the 16384 /30s of 10.231.0.0/16.
  const subnet = randomInt(16384);
  const base = `10.231.${subnet >> 6}.${(subnet & 63) * 4}`;
  const [hostSideAddress, address] = [1, 2].map(
    (n) => `10.231.${subnet >> 6}.${(subnet & 63) * 4 + n}`,
  );

  // `ip netns add` creates the name exclusively: "File exists" means another worker has it.
  await ip('netns', 'add', name).catch((error: Error) => {
    throw /exists/i.test(error.message) ? new Collision(error.message) : error;
  });
  const host = new NetnsTestHost(name, address, hostSideAddress, options.killGraceMs ?? 2000);
  try {
    await ip('link', 'add', name, 'type', 'veth', 'peer', 'name', peer, 'netns', name).catch(
      (error: Error) => {
        throw /exists/i.test(error.message) ? new Collision(error.message) : error;
      },
    );
    host.ownsVeth = true;
    // No IPv6 link-local addresses: nothing but our IPv4 traffic goes over the pair.
    await ip('link', 'set', name, 'addrgenmode', 'none');
    await ip('-n', name, 'link', 'set', peer, 'addrgenmode', 'none');
    await ip('addr', 'add', `${hostSideAddress}/30`, 'dev', name);
    await ip('link', 'set', name, 'up');
    // The kernel happily puts one address on two interfaces, so check after adding ours: any
    // other interface in this /30 belongs to another worker that picked the same one.
    const inSubnet = await ip('-o', '-4', 'addr', 'show', 'to', `${base}/30`);
    const others = inSubnet
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(/\s+/)[1])
      .filter((dev) => dev !== name);
    if (others.length) throw new Collision(`${base}/30 is also on ${others.join(', ')}`);
    await ip('-n', name, 'addr', 'add', `${address}/30`, 'dev', peer);
    await ip('-n', name, 'link', 'set', 'lo', 'up');
    await ip('-n', name, 'link', 'set', peer, 'up');
    return host;
  } catch (error) {
    await host.dispose().catch(() => undefined);
    throw error;
  }
}

/** Hosts not yet disposed, and temp dirs not yet removed: for the exit hook. */
const live = { hosts: new Set<NetnsTestHost>(), dirs: new Set<string>() };

/**
 * Last resort when the process exits without the tests' `afterAll` having run (a crash,
 * `--forceExit`): kill, delete and remove synchronously what is left.
 */
function onExit(): void {
  for (const host of live.hosts) host.disposeSync();
  for (const dir of live.dirs) rmSync(dir, { recursive: true, force: true });
}

function track(kind: 'hosts', item: NetnsTestHost): void;
function track(kind: 'dirs', item: string): void;
function track(kind: 'hosts' | 'dirs', item: NetnsTestHost | string): void {
  if (!live.hosts.size && !live.dirs.size) process.on('exit', onExit);
  (live[kind] as Set<typeof item>).add(item);
}

function untrack(kind: 'hosts' | 'dirs', item: NetnsTestHost | string): void {
  (live[kind] as Set<typeof item>).delete(item);
  if (!live.hosts.size && !live.dirs.size) process.off('exit', onExit);
}

class NetnsTestHost implements TestHost {
  private readonly children = new Set<ChildProcess>();
  private readonly cleanups: (() => unknown)[] = [];
  private disposed: Promise<void> | undefined;
  /** Set once the veth was created by us (a name clash must not delete someone else's). */
  ownsVeth = false;

  constructor(
    readonly name: string,
    readonly address: string,
    readonly hostSideAddress: string,
    private readonly killGraceMs: number,
  ) {
    track('hosts', this);
  }

  spawn(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    if (this.disposed) throw new Error(`Test host ${this.name} is disposed`);
    const { uid, gid, ...rest } = options;
    // setpriv execs the command (as `ip netns exec` does), so the child's pid is the command's.
    const drop =
      uid === undefined && gid === undefined
        ? []
        : [
            'setpriv',
            ...(uid === undefined ? [] : [`--reuid=${uid}`]),
            ...(gid === undefined ? [] : [`--regid=${gid}`]),
            '--clear-groups',
            '--',
          ];
    const child = spawn('ip', ['netns', 'exec', this.name, ...drop, command, ...args], {
      ...rest,
      detached: true,
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  defer(cleanup: () => unknown): void {
    this.cleanups.push(cleanup);
  }

  dispose(): Promise<void> {
    return (this.disposed ??= this.tearDown());
  }

  private async tearDown(): Promise<void> {
    const errors: unknown[] = [];
    for (const cleanup of this.cleanups.splice(0).reverse()) {
      await Promise.resolve()
        .then(cleanup)
        .catch((error: unknown) => errors.push(error));
    }
    await Promise.all(
      [...this.children].map((child) => terminate(child, 'SIGTERM', this.killGraceMs)),
    );
    // Anything else still in the namespace (a daemon's own children, `ip netns exec` by hand).
    for (let round = 0; round < 50; round++) {
      const pids = await ip('netns', 'pids', this.name).catch(() => '');
      if (!pids.trim()) break;
      for (const pid of pids.split('\n').filter(Boolean)) signal(Number(pid), 'SIGKILL');
      await sleep(20);
    }
    // The veth first: deleting it is synchronous, while a deleted namespace is destroyed (and
    // its end of the pair with it) later by the kernel.
    if (this.ownsVeth && existsSync(`/sys/class/net/${this.name}`)) {
      await ip('link', 'del', this.name).catch((error: Error) => {
        if (!/cannot find device/i.test(error.message)) errors.push(error);
      });
    }
    await ip('netns', 'del', this.name).catch((error: Error) => {
      if (!/no such file/i.test(error.message)) errors.push(error);
    });
    untrack('hosts', this);
    if (errors.length) throw new AggregateError(errors, `Disposing test host ${this.name} failed`);
  }

  /** For the exit hook: the same as dispose, without waiting for anyone. */
  disposeSync(): void {
    const pids = spawnSync('ip', ['netns', 'pids', this.name], { encoding: 'utf8' }).stdout ?? '';
    for (const pid of pids.split('\n').filter(Boolean)) signal(Number(pid), 'SIGKILL');
    for (const child of this.children) if (child.pid) signal(-child.pid, 'SIGKILL');
    if (this.ownsVeth) spawnSync('ip', ['link', 'del', this.name]);
    spawnSync('ip', ['netns', 'del', this.name]);
  }
}

/** `process.kill` that ignores processes already gone. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Gone already.
  }
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves when the child has exited, or after `ms` (to `false` then). */
function exitWithin(child: ChildProcess, ms: number): Promise<boolean> {
  if (hasExited(child) || child.pid === undefined) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Sends `first` to the child's process group, then SIGKILL if still there after the grace. */
async function terminate(
  child: ChildProcess,
  first: NodeJS.Signals,
  graceMs: number,
): Promise<void> {
  if (hasExited(child) || child.pid === undefined) return;
  signal(-child.pid, first);
  if (await exitWithin(child, graceMs)) return;
  signal(-child.pid, 'SIGKILL');
  await exitWithin(child, 5000);
}

/** The last 4 KB a child wrote to stdout and stderr (or failed to start with), for errors. */
function captureOutput(child: ChildProcess): () => string {
  let tail = '';
  const keep = (chunk: Buffer | string) => void (tail = (tail + String(chunk)).slice(-4096));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (error) => keep(`${error.message}\n`));
  return () => tail.trim() || '(no output)';
}

/** Whether a TCP connect from here to address:port succeeds (then closed at once). */
function canConnect(address: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port });
    socket.setTimeout(timeoutMs);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Before starting a server: someone else answering there would pass for it being ready. */
async function ensureFree(what: string, address: string, port: number): Promise<void> {
  if (await canConnect(address, port)) {
    throw new Error(`${what}: ${address}:${port} is taken already (started twice on one host?)`);
  }
}

/**
 * Polls a TCP connect from the root namespace to address:port until `child` listens there; fails
 * with the child's output if it exits first or never does.
 */
async function waitForListening(
  what: string,
  child: ChildProcess,
  output: () => string,
  address: string,
  port: number,
): Promise<void> {
  const where = `${address}:${port}`;
  for (let attempt = 0; attempt < READY_TRIES; attempt++) {
    if (hasExited(child)) {
      const status = child.exitCode ?? child.signalCode;
      throw new Error(`${what} exited (${status}) before listening on ${where}:\n${output()}`);
    }
    if (await canConnect(address, port)) return;
    await sleep(READY_INTERVAL_MS);
  }
  const ms = READY_TRIES * READY_INTERVAL_MS;
  throw new Error(`${what} did not listen on ${where} within ${ms} ms:\n${output()}`);
}

/** A GET answered with JSON, on a connection of its own (nothing kept alive to the host). */
function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        if (res.statusCode !== 200)
          return reject(new Error(`GET ${url}: ${res.statusCode} ${body}`));
        try {
          resolve(JSON.parse(body));
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** An environment for fixture processes: nothing of the test process's (NODE_OPTIONS etc.). */
function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', ...extra };
}

/**
 * An HTTP API served by a node process inside the test host: an OpenAPI 3 document at
 * GET /openapi.json describing one operation `GET /greeting?name=` (operationId `getGreeting`)
 * that answers JSON {"greeting":"hello <name>"}; it counts every request it receives.
 */
export interface TestHttpApi {
  /** http://<address>:<port> */
  url: string;
  /** How many requests the API has received (reading the count is not one of them). */
  requests(): Promise<number>;
  stop(): Promise<void>;
}

// The API's process. `GET /__count` reads the counter and is the one request not counted.
const HTTP_API_SCRIPT = `
const http = require('node:http');
const address = process.env.TEST_API_ADDRESS;
const port = Number(process.env.TEST_API_PORT);
const base = 'http://' + address + ':' + port;
const openapi = {
  openapi: '3.0.3',
  info: { title: 'Greeting API', version: '1.0.0' },
  servers: [{ url: base }],
  paths: {
    '/greeting': {
      get: {
        operationId: 'getGreeting',
        summary: 'Greets someone by name',
        parameters: [{ name: 'name', in: 'query', required: true, schema: { type: 'string' } }],
        responses: {
          200: {
            description: 'The greeting',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { greeting: { type: 'string' } },
                  required: ['greeting'],
                },
              },
            },
          },
        },
      },
    },
  },
};
let count = 0;
const send = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
http
  .createServer((req, res) => {
    const url = new URL(req.url, base);
    if (req.method === 'GET' && url.pathname === '/__count') {
      return send(res, 200, { requests: count });
    }
    count++;
    if (req.method === 'GET' && url.pathname === '/openapi.json') return send(res, 200, openapi);
    if (req.method === 'GET' && url.pathname === '/greeting') {
      return send(res, 200, { greeting: 'hello ' + (url.searchParams.get('name') ?? '') });
    }
    send(res, 404, { error: 'no route for ' + req.method + ' ' + url.pathname });
  })
  .listen(port, address);
`;

/** Starts the greeting API inside the test host and waits until it accepts connections. */
export async function startHttpApi(host: TestHost, port = 8080): Promise<TestHttpApi> {
  await ensureFree('The HTTP API', host.address, port);
  const child = host.spawn(process.execPath, ['-e', HTTP_API_SCRIPT], {
    env: baseEnv({ TEST_API_ADDRESS: host.address, TEST_API_PORT: String(port) }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = captureOutput(child);
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= terminate(child, 'SIGTERM', 2000));
  host.defer(stop);
  try {
    await waitForListening('The HTTP API', child, output, host.address, port);
  } catch (error) {
    await stop();
    throw error;
  }
  const url = `http://${host.address}:${port}`;
  return {
    url,
    async requests() {
      return ((await getJson(`${url}/__count`)) as { requests: number }).requests;
    },
    stop,
  };
}

/**
 * A real PostgreSQL server running inside the test host (Debian's postgres binaries under
 * /usr/lib/postgresql/<ver>/bin: initdb into a temp dir as the `postgres` OS user, `postgres` with
 * -h <address> -p 5432 -k <tempdir>, trust auth for the host side's address only, fsync=off for
 * speed); a database `tenant` with a table `widgets(id int, name text)` holding two rows
 * ('alpha', 'beta').
 */
export interface TestPostgres {
  /** postgresql://postgres@<address>:5432/tenant */
  connectionString: string;
  /** Fast shutdown, then the data directory is removed. */
  stop(): Promise<void>;
}

export interface TestPostgresOptions {
  /** The directory of initdb and postgres; the newest /usr/lib/postgresql/<ver>/bin by default. */
  binDir?: string;
}

/** The newest Debian PostgreSQL installation's bin directory. */
function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions.length) throw new Error(`No PostgreSQL server binaries under ${root}/<ver>/bin`);
  return join(root, versions[0], 'bin');
}

async function osUser(name: string): Promise<{ uid: number; gid: number }> {
  const id = async (flag: string) => Number((await run('id', [flag, name])).stdout.trim());
  return { uid: await id('-u'), gid: await id('-g') };
}

/** Runs `work` with a client, retrying the connect while the server is still starting up. */
async function withClient(
  connectionString: string,
  work: (client: Client) => Promise<unknown>,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const client = new Client({ connectionString });
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      // 57P03: "the database system is starting up".
      if ((error as { code?: string }).code !== '57P03' || attempt >= 50) throw error;
      await sleep(100);
      continue;
    }
    try {
      await work(client);
      return;
    } finally {
      await client.end();
    }
  }
}

/** Starts PostgreSQL inside the test host with the `tenant` database and its `widgets` table. */
export async function startPostgres(
  host: TestHost,
  options: TestPostgresOptions = {},
): Promise<TestPostgres> {
  const bin = options.binDir ?? postgresBinDir();
  const { uid, gid } = await osUser('postgres');
  await ensureFree('PostgreSQL', host.address, 5432);
  const dir = await fsp.mkdtemp(join(tmpdir(), 'athtest-pg-'));
  track('dirs', dir);
  const data = join(dir, 'data');
  let child: ChildProcess | undefined;
  let stopped: Promise<void> | undefined;
  // SIGINT is postgres's fast shutdown: open sessions are ended rather than waited for.
  const stop = () =>
    (stopped ??= (async () => {
      if (child) await terminate(child, 'SIGINT', 10_000);
      await fsp.rm(dir, { recursive: true, force: true });
      untrack('dirs', dir);
    })());
  host.defer(stop);

  try {
    await fsp.chown(dir, uid, gid);
    await run(
      join(bin, 'initdb'),
      ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'],
      { uid, gid, cwd: dir, env: baseEnv() },
    ).catch((error: { stderr?: string; message: string }) => {
      throw new Error(`initdb failed: ${error.stderr?.trim() || error.message}`);
    });
    // Only the root namespace's end of the veth may connect (and the postgres user over the
    // socket in the temp dir, for poking around by hand).
    const hba = join(data, 'pg_hba.conf');
    await fsp.writeFile(
      hba,
      `local all postgres trust\nhost all all ${host.hostSideAddress}/32 trust\n`,
    );
    await fsp.chown(hba, uid, gid);

    // Durability is of no use to a throwaway server; without it, it starts and writes fast.
    const settings = ['fsync=off', 'full_page_writes=off', 'synchronous_commit=off'];
    const listen = ['-h', host.address, '-p', '5432', '-k', dir];
    child = host.spawn(
      join(bin, 'postgres'),
      ['-D', data, ...listen, ...settings.flatMap((setting) => ['-c', setting])],
      { uid, gid, cwd: dir, env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output = captureOutput(child);
    await waitForListening('PostgreSQL', child, output, host.address, 5432);

    const server = `postgresql://postgres@${host.address}:5432`;
    await withClient(`${server}/postgres`, (client) => client.query('CREATE DATABASE tenant'));
    await withClient(`${server}/tenant`, (client) =>
      client.query(
        `CREATE TABLE widgets (id int, name text);
         INSERT INTO widgets (id, name) VALUES (1, 'alpha'), (2, 'beta')`,
      ),
    );
    return { connectionString: `${server}/tenant`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * A TCP listener on 127.0.0.1 (root namespace) that counts accepted connections and HTTP requests
 * (answers any HTTP request with 200 and a small body); for proving that something did NOT reach
 * it.
 */
export interface CountingListener {
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  /** TCP connections accepted so far, HTTP or not. */
  connections(): number;
  /** HTTP requests answered so far. */
  requests(): number;
  close(): Promise<void>;
}

export async function countingListener(): Promise<CountingListener> {
  let connections = 0;
  let requests = 0;
  const server = createServer((_req, res) => {
    requests++;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('counted\n');
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    requests: () => requests,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
}
