import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, promises as fsp } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { gunzipSync } from 'node:zlib';

export type FakeSandboxState = 'running' | 'paused';

/** What a test can see of one fake sandbox. */
export interface FakeSandboxView {
  readonly id: string;
  readonly templateId: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly state: FakeSandboxState;
  readonly startedAt: Date;
  readonly endAt: Date;
  /** Names (not values) of the env vars the sandbox was created with. */
  readonly envVarKeys: readonly string[];
  readonly allowInternetAccess: boolean | undefined;
  /** The `network` object sent at create (or by a later network update), as sent. */
  readonly network: Readonly<Record<string, unknown>> | undefined;
  /** True when outbound traffic was denied: `allowInternetAccess: false` or a deny-all rule. */
  readonly egressDenied: boolean;
  /** Whether the sandbox pauses (instead of being killed) when its timeout passes. */
  readonly autoPause: boolean;
  /** Host pids of the commands still running in the sandbox. */
  readonly pids: readonly number[];
  /** The host directory that is the sandbox's `/`. */
  readonly rootDir: string;
}

/** One request the fake answered, for assertions such as "the timeout was extended". */
export interface FakeE2bRequest {
  readonly plane: 'api' | 'envd';
  readonly method: string;
  readonly path: string;
  readonly sandboxId: string | undefined;
  /** The parsed JSON body of a control-plane request. */
  readonly body: unknown;
  readonly status: number;
}

export interface FakeE2bOptions {
  apiKey?: string;
  /** How long killed commands get between SIGTERM and SIGKILL. */
  killGraceMs?: number;
  envdVersion?: string;
}

interface ProcessConfig {
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd?: string;
}

interface Proc {
  pid: number;
  child: ChildProcess;
  config: ProcessConfig;
  tag?: string;
  listeners: Set<(event: Record<string, unknown>) => void>;
  closed: Promise<void>;
}

interface Box {
  id: string;
  templateId: string;
  metadata: Record<string, string>;
  envVars: Record<string, string>;
  startedAt: Date;
  endAt: number;
  state: FakeSandboxState;
  allowInternetAccess: boolean | undefined;
  network: Record<string, unknown> | undefined;
  autoPause: boolean;
  accessToken: string;
  root: string;
  procs: Map<number, Proc>;
  /** Process groups that may still have members, including ones whose leader exited. */
  groups: Set<number>;
  /** Open process event streams, cut when the sandbox goes away. */
  streams: Set<ServerResponse>;
  timer?: NodeJS.Timeout;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

type Json = Record<string, unknown>;

const DEFAULT_TIMEOUT_S = 300;
const ENVD_PORT = '49983';
const RPC_STATUS: Record<string, number> = {
  invalid_argument: 400,
  unauthenticated: 401,
  not_found: 404,
  unimplemented: 404,
  already_exists: 409,
  failed_precondition: 400,
};

/**
 * A local E2B (e2b.dev) for the platform's tests of its E2B sandbox provider: the unmodified
 * `e2b` SDK talks to it when given `{ apiKey, apiUrl: fake.apiUrl, sandboxUrl: fake.sandboxUrl }`.
 * The control plane (create/list/info/kill/timeout/pause/connect) and the in-sandbox daemon
 * (envd: Connect-RPC process and filesystem services, `/files`, `/health`) speak the SDK's real
 * wire protocol, so the provider is exercised as against E2B.
 *
 * Each sandbox is a real temp directory used as its `/` (`/home/user` is `<root>/home/user`,
 * relative paths are relative to it) and its commands are real local processes, each in its own
 * process group so a kill leaves nothing behind. Commands see the host's binaries: an absolute
 * path inside a command line is a host path, so tests use relative paths in commands.
 */
export class FakeE2b {
  readonly apiKey: string;
  apiUrl = '';
  sandboxUrl = '';
  readonly requests: FakeE2bRequest[] = [];
  /** Sandboxes that are gone, and why. */
  readonly ended: { id: string; reason: 'killed' | 'expired' | 'vanished' | 'stopped' }[] = [];
  private readonly boxes = new Map<string, Box>();
  private readonly servers: Server[] = [];
  private createFailure: { status: number; message: string } | undefined;
  private readonly graceMs: number;
  private readonly envdVersion: string;

  constructor(options: FakeE2bOptions = {}) {
    this.apiKey = options.apiKey ?? `e2b_${randomBytes(20).toString('hex')}`;
    this.graceMs = options.killGraceMs ?? 2000;
    this.envdVersion = options.envdVersion ?? '0.5.7';
  }

  async start(): Promise<this> {
    this.apiUrl = await this.listen('api', (req, res, body) => this.api(req, res, body));
    this.sandboxUrl = await this.listen('envd', (req, res, body) => this.envd(req, res, body));
    return this;
  }

  /** Kills every sandbox (processes and temp dirs) and closes the servers. */
  async stop(): Promise<void> {
    await Promise.all([...this.boxes.values()].map((box) => this.destroy(box, 'stopped')));
    await Promise.all(
      this.servers.splice(0).map((server) => {
        server.closeAllConnections();
        return new Promise((resolve) => server.close(resolve));
      }),
    );
  }

  /** Every sandbox, or those whose metadata holds all of `metadata`. */
  sandboxes(metadata: Record<string, string> = {}): FakeSandboxView[] {
    const wanted = Object.entries(metadata);
    const boxes = [...this.boxes.values()].filter((box) =>
      wanted.every(([key, value]) => box.metadata[key] === value),
    );
    return boxes.map((box) => ({
      id: box.id,
      templateId: box.templateId,
      metadata: { ...box.metadata },
      state: box.state,
      startedAt: box.startedAt,
      endAt: new Date(box.endAt),
      envVarKeys: Object.keys(box.envVars),
      allowInternetAccess: box.allowInternetAccess,
      network: box.network,
      egressDenied:
        box.allowInternetAccess === false ||
        (Array.isArray(box.network?.denyOut) && box.network.denyOut.includes('0.0.0.0/0')),
      autoPause: box.autoPause,
      pids: [...box.procs.keys()],
      rootDir: box.root,
    }));
  }

  sandbox(id: string): FakeSandboxView | undefined {
    return this.sandboxes().find((s) => s.id === id);
  }

  /** The sandbox disappears as if E2B lost it: processes killed, 404/502 from then on. */
  async vanish(id: string): Promise<void> {
    const box = this.boxes.get(id);
    if (box) await this.destroy(box, 'vanished');
  }

  /** Runs the sandbox's timeout now (killed, or paused if it was created to auto-pause). */
  async expire(id: string): Promise<void> {
    const box = this.boxes.get(id);
    if (box) await this.onTimeout(box, true);
  }

  /** The next create answers with this status and message (e.g. 500 or 429). */
  failNextCreate(status: number, message = 'fake create failure'): void {
    this.createFailure = { status, message };
  }

  /** Where a port a sandbox process listens on is reachable: processes are local here. */
  portUrl(_sandboxId: string, port: number): string {
    return `http://127.0.0.1:${port}`;
  }

  private async listen(
    plane: 'api' | 'envd',
    handle: (req: IncomingMessage, res: ServerResponse, body: Buffer) => Promise<Reply | undefined>,
  ): Promise<string> {
    const server = createServer((req, res) => {
      void (async () => {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        const body = Buffer.concat(chunks);
        const path = new URL(req.url ?? '/', 'http://fake').pathname;
        const reply = await handle(req, res, body).catch((error: unknown): Reply => ({
          status: 500,
          body: { code: 500, message: String(error) },
        }));
        const sandboxId =
          plane === 'envd'
            ? header(req, 'e2b-sandbox-id')
            : /^\/(?:v2\/)?sandboxes\/([^/]+)/.exec(path)?.[1];
        this.requests.push({
          plane,
          method: req.method ?? 'GET',
          path,
          sandboxId,
          body: plane === 'api' ? parseJson(body) : undefined,
          status: reply?.status ?? res.statusCode,
        });
        if (reply) send(res, reply);
      })();
    });
    this.servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  }

  // ---- control plane -------------------------------------------------------------------

  private async api(req: IncomingMessage, _res: ServerResponse, raw: Buffer): Promise<Reply> {
    if (header(req, 'x-api-key') !== this.apiKey) {
      return apiError(401, 'Invalid API key, please visit https://e2b.dev/docs/api-key');
    }
    const url = new URL(req.url ?? '/', 'http://fake');
    const body = (parseJson(raw) ?? {}) as Json;
    const route = `${req.method} ${url.pathname}`;
    if (route === 'POST /v2/sandboxes') return this.create(body);
    if (route === 'GET /v2/sandboxes') return this.list(url.searchParams);
    const match = /^\/(v2\/)?sandboxes\/([^/]+)(?:\/([a-z]+))?$/.exec(url.pathname);
    if (!match) return apiError(404, `no route ${route}`);
    const [, v2, id, action] = match;
    const box = this.boxes.get(id);
    if (!box) return apiError(404, `sandbox "${id}" doesn't exist or you don't have access to it`);
    switch (`${req.method} ${v2 ?? ''}${action ?? ''}`) {
      case 'GET ':
        return { status: 200, body: this.detail(box) };
      case 'DELETE ':
        await this.destroy(box, 'killed');
        return { status: 204 };
      case 'POST timeout':
        if (box.state !== 'running') return apiError(404, `sandbox "${id}" is not running`);
        box.endAt = Date.now() + seconds(body.timeout) * 1000;
        this.schedule(box);
        return { status: 204 };
      case 'POST pause':
        if (box.state === 'paused') return apiError(409, `sandbox "${id}" is already paused`);
        await this.pause(box);
        return { status: 204 };
      case 'POST v2/connect': {
        if (box.state === 'paused') {
          this.resume(box, seconds(body.timeout));
          return { status: 201, body: this.connection(box) };
        }
        // A running sandbox's timeout only ever grows on connect.
        const requested = typeof body.timeout === 'number' ? Date.now() + body.timeout * 1000 : 0;
        if (requested > box.endAt) box.endAt = requested;
        this.schedule(box);
        return { status: 200, body: this.connection(box) };
      }
      case 'PUT network':
        box.network = body;
        if (typeof body.allow_internet_access === 'boolean') {
          box.allowInternetAccess = body.allow_internet_access;
        }
        return { status: 204 };
      case 'GET metrics':
        return { status: 200, body: [] };
      default:
        return apiError(404, `no route ${route}`);
    }
  }

  private async create(body: Json): Promise<Reply> {
    const failure = this.createFailure;
    this.createFailure = undefined;
    if (failure) return apiError(failure.status, failure.message);
    if (typeof body.templateID !== 'string') return apiError(400, 'templateID is required');
    const id = `i${randomBytes(10).toString('hex')}`;
    const root = await fsp.mkdtemp(join(tmpdir(), `fake-e2b-${id}-`));
    await Promise.all(
      ['home/user', 'root', 'tmp'].map((dir) => fsp.mkdir(join(root, dir), { recursive: true })),
    );
    const box: Box = {
      id,
      templateId: body.templateID,
      metadata: stringMap(body.metadata),
      envVars: stringMap(body.envVars),
      startedAt: new Date(),
      endAt: Date.now() + seconds(body.timeout) * 1000,
      state: 'running',
      allowInternetAccess:
        typeof body.allow_internet_access === 'boolean' ? body.allow_internet_access : undefined,
      network: isObject(body.network) ? body.network : undefined,
      autoPause: body.autoPause === true,
      accessToken: randomBytes(16).toString('hex'),
      root,
      procs: new Map(),
      groups: new Set(),
      streams: new Set(),
    };
    this.boxes.set(id, box);
    this.schedule(box);
    return { status: 201, body: this.connection(box) };
  }

  private list(query: URLSearchParams): Reply {
    const states = query
      .getAll('state')
      .flatMap((s) => s.split(','))
      .filter(Boolean);
    const wanted = states.length ? states : ['running', 'paused'];
    // The SDK sends `metadata` as a query string of URL-encoded keys and values.
    const metadata = [...new URLSearchParams(query.get('metadata') ?? '')].map(([k, v]) => [
      decodeURIComponent(k),
      decodeURIComponent(v),
    ]);
    const template = query.get('template');
    const after = query.get('startedAfter');
    const matching = [...this.boxes.values()]
      .filter((box) => wanted.includes(box.state))
      .filter((box) => metadata.every(([k, v]) => box.metadata[k] === v))
      .filter((box) => !template || box.templateId === template)
      .filter((box) => !after || box.startedAt >= new Date(after))
      .sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
    if (query.get('order') !== 'asc') matching.reverse();
    const offset = Number(query.get('nextToken') ?? 0) || 0;
    const limit = Math.min(Number(query.get('limit') ?? 100) || 100, 100);
    const page = matching.slice(offset, offset + limit);
    const more = offset + limit < matching.length;
    return {
      status: 200,
      body: page.map((box) => this.listed(box)),
      headers: more ? { 'x-next-token': String(offset + limit) } : {},
    };
  }

  private connection(box: Box): Json {
    return {
      sandboxID: box.id,
      templateID: box.templateId,
      alias: box.templateId,
      clientID: 'fake-e2b',
      envdVersion: this.envdVersion,
      envdAccessToken: box.accessToken,
      trafficAccessToken: null,
      domain: null,
    };
  }

  private listed(box: Box): Json {
    return {
      ...this.connection(box),
      startedAt: box.startedAt.toISOString(),
      endAt: new Date(box.endAt).toISOString(),
      state: box.state,
      cpuCount: 2,
      memoryMB: 512,
      diskSizeMB: 1024,
      metadata: box.metadata,
      volumeMounts: [],
    };
  }

  private detail(box: Box): Json {
    return {
      ...this.listed(box),
      allowInternetAccess: box.allowInternetAccess ?? null,
      network: box.network,
      lifecycle: { onTimeout: box.autoPause ? 'pause' : 'kill', autoResume: false },
    };
  }

  // ---- lifecycle -----------------------------------------------------------------------

  private schedule(box: Box): void {
    clearTimeout(box.timer);
    if (box.state !== 'running') return;
    const delay = Math.min(Math.max(box.endAt - Date.now(), 0), 2 ** 31 - 1);
    box.timer = setTimeout(() => void this.onTimeout(box, false), delay).unref();
  }

  private async onTimeout(box: Box, now: boolean): Promise<void> {
    if (!now && box.endAt > Date.now()) return this.schedule(box);
    if (box.autoPause) await this.pause(box);
    else await this.destroy(box, 'expired');
  }

  private async pause(box: Box): Promise<void> {
    box.state = 'paused';
    clearTimeout(box.timer);
    await this.stopProcesses(box);
  }

  private resume(box: Box, timeoutS: number): void {
    box.state = 'running';
    box.endAt = Date.now() + timeoutS * 1000;
    this.schedule(box);
  }

  private async destroy(box: Box, reason: FakeE2b['ended'][number]['reason']): Promise<void> {
    if (this.boxes.get(box.id) !== box) return;
    this.boxes.delete(box.id);
    clearTimeout(box.timer);
    await this.stopProcesses(box);
    await fsp.rm(box.root, { recursive: true, force: true });
    this.ended.push({ id: box.id, reason });
  }

  /**
   * Cuts the open event streams (as E2B does when a sandbox goes: no end event, the connection
   * drops), then SIGTERM to every process group, SIGKILL after the grace; resolves once the
   * leaders exited.
   */
  private async stopProcesses(box: Box): Promise<void> {
    for (const res of box.streams) res.destroy();
    const exited = Promise.all([...box.procs.values()].map((p) => p.closed));
    for (const group of box.groups) signalGroup(group, 'SIGTERM');
    if (!(await within(exited, this.graceMs))) {
      for (const group of box.groups) signalGroup(group, 'SIGKILL');
      await within(exited, this.graceMs);
    }
    for (const group of box.groups) signalGroup(group, 'SIGKILL');
    box.groups.clear();
  }

  // ---- envd ----------------------------------------------------------------------------

  private async envd(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
  ): Promise<Reply | undefined> {
    const id = header(req, 'e2b-sandbox-id') ?? '';
    const box = this.boxes.get(id);
    if (!box || box.state !== 'running' || header(req, 'e2b-sandbox-port') !== ENVD_PORT) {
      const message =
        box?.state === 'paused' ? 'The sandbox is paused' : 'The sandbox was not found';
      return { status: 502, body: { sandboxId: id, message, code: 502 } };
    }
    const url = new URL(req.url ?? '/', 'http://fake');
    if (url.pathname === '/health') return { status: 204 };
    if (header(req, 'x-access-token') !== box.accessToken) {
      return { status: 401, body: { code: 401, message: 'invalid access token' } };
    }
    const user = url.searchParams.get('username') || basicUser(req) || 'user';
    if (url.pathname === '/files') return this.files(box, req, url, user, body);
    const [, service, method] = url.pathname.split('/');
    // Streaming calls carry one enveloped message: a flags byte, a 4-byte length, the JSON.
    const enveloped = header(req, 'content-type')?.includes('connect+') && body.length >= 5;
    const message = parseJson(enveloped ? body.subarray(5, 5 + body.readUInt32BE(1)) : body);
    const input = isObject(message) ? message : {};
    if (service === 'process.Process') return this.processRpc(box, req, res, method, input, user);
    if (service === 'filesystem.Filesystem') return this.filesystemRpc(box, method, input, user);
    return rpcError('unimplemented', `the fake has no ${url.pathname}`);
  }

  private async files(
    box: Box,
    req: IncomingMessage,
    url: URL,
    user: string,
    body: Buffer,
  ): Promise<Reply> {
    const path = url.searchParams.get('path') ?? undefined;
    if (req.method === 'GET') {
      const target = resolvePath(box, path ?? '', user);
      const stat = await fsp.stat(target.host).catch(() => undefined);
      if (!stat) return apiError(404, `path '${target.path}' does not exist`);
      if (stat.isDirectory()) return apiError(400, `path '${target.path}' is a directory`);
      return {
        status: 200,
        body: await fsp.readFile(target.host),
        headers: { 'content-type': 'application/octet-stream' },
      };
    }
    if (req.method !== 'POST') return apiError(405, 'method not allowed');
    const uploads: { path: string; data: Buffer }[] = [];
    const contentType = header(req, 'content-type') ?? '';
    if (contentType.startsWith('multipart/form-data')) {
      // The SDK's multipart upload: one `file` part per file, named by its path.
      const form = await new Response(Uint8Array.from(body), {
        headers: { 'content-type': contentType },
      }).formData();
      for (const value of form.getAll('file')) {
        if (typeof value === 'string') continue;
        uploads.push({ path: path ?? value.name, data: Buffer.from(await value.arrayBuffer()) });
      }
    } else if (path) {
      const gzip = header(req, 'content-encoding') === 'gzip';
      uploads.push({ path, data: gzip ? gunzipSync(body) : body });
    }
    if (!uploads.length) return apiError(400, 'no file in the request');
    const written = [];
    for (const upload of uploads) {
      const target = resolvePath(box, upload.path, user);
      await fsp.mkdir(posix.dirname(target.host), { recursive: true });
      await fsp.writeFile(target.host, upload.data);
      written.push({ name: posix.basename(target.path), type: 'file', path: target.path });
    }
    return { status: 200, body: written };
  }

  private async filesystemRpc(
    box: Box,
    method: string | undefined,
    input: Json,
    user: string,
  ): Promise<Reply> {
    const target = resolvePath(box, String(input.path ?? ''), user);
    const exists = existsSync(target.host);
    switch (method) {
      case 'Stat':
        if (!exists) return rpcError('not_found', `path '${target.path}' does not exist`);
        return { status: 200, body: { entry: await entryInfo(target) } };
      case 'MakeDir':
        if (exists) return rpcError('already_exists', `path '${target.path}' already exists`);
        await fsp.mkdir(target.host, { recursive: true });
        return { status: 200, body: { entry: await entryInfo(target) } };
      case 'Remove':
        if (!exists) return rpcError('not_found', `path '${target.path}' does not exist`);
        await fsp.rm(target.host, { recursive: true, force: true });
        return { status: 200, body: {} };
      case 'Move': {
        const source = resolvePath(box, String(input.source ?? ''), user);
        const destination = resolvePath(box, String(input.destination ?? ''), user);
        if (!existsSync(source.host))
          return rpcError('not_found', `path '${source.path}' does not exist`);
        await fsp.mkdir(posix.dirname(destination.host), { recursive: true });
        await fsp.rename(source.host, destination.host);
        return { status: 200, body: { entry: await entryInfo(destination) } };
      }
      case 'ListDir': {
        if (!exists) return rpcError('not_found', `path '${target.path}' does not exist`);
        const entries: Json[] = [];
        const walk = async (dir: typeof target, depth: number): Promise<void> => {
          for (const name of (await fsp.readdir(dir.host)).sort()) {
            const child = { host: join(dir.host, name), path: posix.join(dir.path, name) };
            const entry = await entryInfo(child);
            entries.push(entry);
            if (depth > 1 && entry.type === 'FILE_TYPE_DIRECTORY') await walk(child, depth - 1);
          }
        };
        await walk(target, Number(input.depth) || 1);
        return { status: 200, body: { entries } };
      }
      default:
        return rpcError('unimplemented', `the fake has no filesystem.Filesystem/${method}`);
    }
  }

  private processRpc(
    box: Box,
    req: IncomingMessage,
    res: ServerResponse,
    method: string | undefined,
    input: Json,
    user: string,
  ): Reply | undefined {
    if (method === 'Start') {
      const started = this.spawn(box, input, user, Number(header(req, 'connect-timeout-ms')) || 0);
      if (typeof started === 'string') return streamError(res, 'invalid_argument', started);
      return this.stream(box, req, res, started);
    }
    if (method === 'List') {
      const processes = [...box.procs.values()].map((p) => ({
        config: p.config,
        pid: p.pid,
        tag: p.tag,
      }));
      return { status: 200, body: { processes } };
    }
    const selector = isObject(input.process) ? input.process : {};
    const proc = [...box.procs.values()].find((p) =>
      selector.tag !== undefined ? p.tag === selector.tag : p.pid === Number(selector.pid),
    );
    const missing = rpcError('not_found', `process ${JSON.stringify(selector)} not found`);
    switch (method) {
      case 'Connect':
        return proc
          ? this.stream(box, req, res, proc)
          : streamError(res, 'not_found', 'process not found');
      case 'SendSignal': {
        const signal = SIGNALS[String(input.signal)];
        if (!signal)
          return rpcError('invalid_argument', `unsupported signal ${String(input.signal)}`);
        if (!proc) return missing;
        signalGroup(proc.pid, signal);
        return { status: 200, body: {} };
      }
      case 'SendInput': {
        const stdin = isObject(input.input) ? input.input.stdin : undefined;
        if (!proc) return missing;
        if (!proc.child.stdin) return rpcError('failed_precondition', 'stdin is not enabled');
        proc.child.stdin.write(Buffer.from(String(stdin ?? ''), 'base64'));
        return { status: 200, body: {} };
      }
      case 'CloseStdin':
        if (!proc) return missing;
        proc.child.stdin?.end();
        return { status: 200, body: {} };
      default:
        return rpcError('unimplemented', `the fake has no process.Process/${method}`);
    }
  }

  /** Starts a command as a real process in its own group, or says why it cannot. */
  private spawn(box: Box, input: Json, user: string, timeoutMs: number): Proc | string {
    const config = (isObject(input.process) ? input.process : {}) as Partial<ProcessConfig>;
    const cmd = config.cmd ?? '/bin/bash';
    // The SDK runs `bash -l -c`: a login shell would load the host's profile and reset PATH.
    const args = (config.args ?? []).filter((a) => !(cmd.endsWith('bash') && a === '-l'));
    const home = resolvePath(box, '~', user).host;
    mkdirSync(home, { recursive: true });
    const cwd = config.cwd ? resolvePath(box, config.cwd, user) : undefined;
    if (cwd && !existsSync(cwd.host)) return `cwd '${cwd.path}' does not exist`;
    const env = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: home,
      USER: user,
      TMPDIR: join(box.root, 'tmp'),
      E2B_SANDBOX: 'true',
      E2B_SANDBOX_ID: box.id,
      ...box.envVars,
      ...(config.envs ?? {}),
    };
    const child = spawn(cmd, args, {
      cwd: cwd?.host ?? home,
      env,
      detached: true,
      stdio: [input.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    child.on('error', () => undefined);
    if (child.pid === undefined) return `cannot start '${cmd}'`;
    const pid = child.pid;
    box.groups.add(pid);
    const listeners = new Set<(event: Json) => void>();
    const emit = (event: Json): void => listeners.forEach((listener) => listener(event));
    child.stdout?.on('data', (data: Buffer) => emit({ data: { stdout: data.toString('base64') } }));
    child.stderr?.on('data', (data: Buffer) => emit({ data: { stderr: data.toString('base64') } }));
    const deadline =
      timeoutMs > 0 ? setTimeout(() => signalGroup(pid, 'SIGKILL'), timeoutMs) : undefined;
    // Output pipes inherited by leftover background children must not hold the end back.
    child.on('exit', () => {
      setTimeout(() => [child.stdout, child.stderr].forEach((s) => s?.destroy()), 200).unref();
    });
    const closed = new Promise<void>((resolve) => {
      child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
        clearTimeout(deadline);
        box.procs.delete(pid);
        if (!groupAlive(pid)) box.groups.delete(pid);
        const status =
          code !== null ? `exit status ${code}` : `signal: ${SIGNAL_NAMES[signal ?? ''] ?? signal}`;
        const failed = code !== 0;
        emit({
          end: {
            exitCode: code ?? -1,
            exited: code !== null,
            status,
            ...(failed ? { error: status } : {}),
          },
        });
        resolve();
      });
    });
    const proc: Proc = {
      pid,
      child,
      config: { cmd, args: config.args ?? [], envs: config.envs ?? {}, cwd: config.cwd },
      listeners,
      closed,
    };
    if (typeof input.tag === 'string') proc.tag = input.tag;
    box.procs.set(pid, proc);
    return proc;
  }

  /** A Connect server stream of the process's events: start, data…, end, end-of-stream. */
  private stream(box: Box, req: IncomingMessage, res: ServerResponse, proc: Proc): undefined {
    res.writeHead(200, { 'content-type': 'application/connect+json' });
    const write = (flags: number, message: Json): void => {
      if (!res.writableEnded && !res.destroyed) res.write(envelope(flags, message));
    };
    const intervalS = Number(header(req, 'keepalive-ping-interval')) || 0;
    const keepalive =
      intervalS > 0
        ? setInterval(() => write(0, { event: { keepalive: {} } }), intervalS * 1000)
        : undefined;
    const finish = (): void => {
      box.streams.delete(res);
      proc.listeners.delete(onEvent);
      clearInterval(keepalive);
      write(2, {});
      if (!res.writableEnded) res.end();
    };
    const onEvent = (event: Json): void => {
      write(0, { event });
      if ('end' in event) finish();
    };
    proc.listeners.add(onEvent);
    box.streams.add(res);
    // A client that goes away stops the stream, not the process (as envd does).
    res.on('close', finish);
    write(0, { event: { start: { pid: proc.pid } } });
    return undefined;
  }
}

const SIGNAL_NAMES: Record<string, string> = { SIGKILL: 'killed', SIGTERM: 'terminated' };
const SIGNALS: Record<string, NodeJS.Signals> = {
  SIGNAL_SIGKILL: 'SIGKILL',
  '9': 'SIGKILL',
  SIGNAL_SIGTERM: 'SIGTERM',
  '15': 'SIGTERM',
};

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function send(res: ServerResponse, reply: Reply): void {
  if (res.headersSent) return;
  const isBytes = Buffer.isBuffer(reply.body);
  const payload =
    reply.body === undefined
      ? undefined
      : isBytes
        ? (reply.body as Buffer)
        : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    ...(payload !== undefined && !isBytes ? { 'content-type': 'application/json' } : {}),
    ...(payload !== undefined ? { 'content-length': String(Buffer.byteLength(payload)) } : {}),
    ...reply.headers,
  });
  res.end(payload);
}

function apiError(status: number, message: string): Reply {
  return { status, body: { code: status, message } };
}

function rpcError(code: string, message: string): Reply {
  return { status: RPC_STATUS[code] ?? 500, body: { code, message } };
}

/** A server stream that fails before its first message. */
function streamError(res: ServerResponse, code: string, message: string): undefined {
  res.writeHead(200, { 'content-type': 'application/connect+json' });
  res.end(envelope(2, { error: { code, message } }));
  return undefined;
}

function envelope(flags: number, message: Json): Buffer {
  const data = Buffer.from(JSON.stringify(message));
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(data.length, 1);
  return Buffer.concat([head, data]);
}

function parseJson(body: Buffer): unknown {
  try {
    return body.length ? JSON.parse(body.toString('utf8')) : undefined;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringMap(value: unknown): Record<string, string> {
  return isObject(value)
    ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]))
    : {};
}

function seconds(value: unknown): number {
  return typeof value === 'number' && value >= 0 ? value : DEFAULT_TIMEOUT_S;
}

function basicUser(req: IncomingMessage): string | undefined {
  const auth = header(req, 'authorization');
  if (!auth?.startsWith('Basic ')) return undefined;
  return Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':')[0] || undefined;
}

/** A sandbox path (absolute, `~/…`, or relative to the user's home) and its host path. */
function resolvePath(box: Box, path: string, user: string): { path: string; host: string } {
  const home = user === 'root' ? '/root' : `/home/${user}`;
  const absolute = posix.resolve(home, path.replace(/^~(?=\/|$)/, home));
  return { path: absolute, host: join(box.root, absolute) };
}

async function entryInfo(target: { path: string; host: string }): Promise<Json> {
  const stat = await fsp.lstat(target.host);
  const type = stat.isSymbolicLink()
    ? 'FILE_TYPE_SYMLINK'
    : stat.isDirectory()
      ? 'FILE_TYPE_DIRECTORY'
      : 'FILE_TYPE_FILE';
  const bits = 'rwxrwxrwx'.replace(/./g, (c, i: number) => (stat.mode & (1 << (8 - i)) ? c : '-'));
  return {
    name: posix.basename(target.path),
    type,
    path: target.path,
    size: String(stat.size),
    mode: stat.mode & 0o777,
    permissions: `${stat.isDirectory() ? 'd' : '-'}${bits}`,
    owner: 'user',
    group: 'user',
    modifiedTime: stat.mtime.toISOString(),
  };
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is already gone.
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether the promise settled within `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const result = await Promise.race([promise.then(() => true), timeout]);
  clearTimeout(timer);
  return result;
}

/** The sandbox service's settings that point its E2B provider at the fake. */
export function fakeE2bEnv(fake: FakeE2b): Record<string, string> {
  return {
    SANDBOX_PROVIDER: 'e2b',
    E2B_API_KEY: fake.apiKey,
    E2B_API_URL: fake.apiUrl,
    E2B_SANDBOX_URL: fake.sandboxUrl,
    E2B_PORT_URL: 'http://127.0.0.1:{port}',
  };
}
