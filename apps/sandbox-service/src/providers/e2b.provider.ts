import { type PrivateOpening, parseAllowPrivate } from '@athenic/egress';
import {
  BRIDGE_DIR,
  BRIDGE_LINE,
  type BridgeReady,
  type ExitInfo,
  SANDBOX_ROOT_TOKEN,
} from '@athenic/mcp-bridge';
import { bridgeToken } from '@athenic/platform-crypto';
import { Logger } from '@nestjs/common';
import {
  type CommandHandle,
  CommandExitError,
  NotFoundError,
  Sandbox,
  type SandboxOpts,
} from 'e2b';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { SandboxConfig } from '../config/env';
import { egressOptions, egressUpdate } from './e2b-egress';
import { LAUNCHER_SOURCE } from './launcher';
import {
  DeployError,
  type SandboxHandle,
  type SandboxHooks,
  type SandboxPaths,
  type SandboxProvider,
  type SandboxSpec,
  StderrTail,
  tailSummary,
} from './sandbox-provider';

const run = promisify(execFile);

/** The sandbox's user home; everything of the platform lives under `athenic/` in it. */
const HOME = '/home/user';
const ROOT = `${HOME}/athenic`;
/**
 * Paths the server sees, absolute once the bridge replaced the token with where `athenic/` is
 * (the sandbox's home differs between templates, and a fake E2B keeps sandboxes in temp dirs).
 */
const PATHS: SandboxPaths = {
  workdir: `${SANDBOX_ROOT_TOKEN}/work`,
  packageRoot: `${SANDBOX_ROOT_TOKEN}/package`,
};
const PACKAGE_LABEL = '../package/.athenic-package';

export const METADATA = {
  connection: 'athenic_connection_id',
  account: 'athenic_account_id',
  platform: 'athenic_platform',
  /** "true" for a connection with persistent storage: paused, never killed, when orphaned. */
  persistent: 'athenic_persistent',
} as const;

export interface E2bSettings {
  apiKey: string;
  template: string;
  /** The control plane and envd addresses, for a self-hosted E2B (or a local fake in tests). */
  apiUrl?: string;
  sandboxUrl?: string;
  /** A sandbox lives this long without activity before E2B removes it; extended on use. */
  sandboxTimeoutMs: number;
  /** Tells this platform's sandboxes from others on the same E2B account. */
  platformId: string;
  /** Heap cap of the server, in MiB. */
  memoryMb: number;
  /** Where a port of a sandbox is reached from the platform. */
  portUrl: (sandbox: Sandbox, port: number) => string;
  /** The folder of the compiled bridge (`serve.js` and its modules) uploaded into sandboxes. */
  bridgeDir: string;
  /** Where packed server packages are cached. */
  cacheDir: string;
  /** The bearer token of a connection's bridge. */
  bridgeToken: (connectionId: string) => string;
  /** A sandbox younger than this is never taken for an orphan (its deploy may be under way). */
  orphanGraceMs: number;
  /** EGRESS_ALLOW_PRIVATE, parsed: the refused addresses sandboxes may reach after all. */
  egressOpenings: readonly PrivateOpening[];
}

/** `https://<port>-<sandbox>.<domain>`: how E2B exposes a sandbox's port. */
export const e2bPortUrl = (sandbox: Sandbox, port: number) => `https://${sandbox.getHost(port)}`;

/**
 * One E2B sandbox per connection, tagged with the connection and account ids. The platform's
 * bridge runs inside it (uploaded with the server's package through the files API) and starts
 * the server there, so credentials exist only in the server's environment inside the sandbox.
 * No egress but to the hosts the server type declares and the targets the connection's user
 * gave (e2b-egress.ts); the sandbox's timeout is extended while the connection is used.
 * Stopped: killed, or paused when the connection keeps persistent storage. Sandboxes outlive
 * this service and are adopted again after a restart.
 */
export class E2bProvider implements SandboxProvider {
  readonly name = 'e2b' as const;
  readonly survivesRestart = true;
  private readonly log = new Logger('E2bProvider');
  private readonly packs = new Map<string, Promise<{ file: string; label: string }>>();
  /** The sandboxes this process holds a handle on (never orphans). */
  private readonly live = new Set<string>();

  constructor(private readonly settings: E2bSettings) {}

  paths(): SandboxPaths {
    return PATHS;
  }

  private opts(): Pick<SandboxOpts, 'apiKey' | 'apiUrl' | 'sandboxUrl' | 'requestTimeoutMs'> {
    const { apiKey, apiUrl, sandboxUrl } = this.settings;
    return {
      apiKey,
      requestTimeoutMs: 30_000,
      ...(apiUrl ? { apiUrl } : {}),
      ...(sandboxUrl ? { sandboxUrl } : {}),
    };
  }

  async start(
    spec: SandboxSpec,
    timeoutMs: number,
    hooks: SandboxHooks,
    signal: AbortSignal,
  ): Promise<SandboxHandle> {
    const deadline = Date.now() + timeoutMs;
    // Every call to E2B until the bridge runs ends by the deploy's deadline (or its cancel).
    const bounded = AbortSignal.any([signal, AbortSignal.timeout(Math.max(1000, timeoutMs))]);
    const outcome = (error: unknown, doing: string) =>
      signal.aborted
        ? new DeployError('The deployment was cancelled.')
        : bounded.aborted
          ? new DeployError(
              `Deploy timeout: E2B did not ${doing} within ${Math.round(timeoutMs / 1000)} s.`,
            )
          : error;
    let sandbox: Sandbox;
    try {
      sandbox = await this.sandboxFor(spec, bounded);
    } catch (error) {
      throw outcome(error, 'provide a sandbox');
    }
    // The bridge, once started, so a failed start stops it (and its server) too.
    const started: { command?: CommandHandle } = {};
    try {
      await this.upload(sandbox, spec, bounded).catch((error: unknown) => {
        throw outcome(error, 'take the files');
      });
      if (signal.aborted) throw new DeployError('The deployment was cancelled.');
      const launched = await this.launch(
        sandbox,
        spec,
        deadline,
        timeoutMs,
        hooks,
        signal,
        started,
      );
      return this.handle(sandbox, spec.connectionId, spec.persistentStorage, launched);
    } catch (error) {
      await this.release(sandbox, spec.persistentStorage, started.command).catch(() => undefined);
      if (error instanceof DeployError) throw error;
      throw new DeployError(`The E2B sandbox could not be prepared: ${explain(error)}.`);
    }
  }

  /**
   * A new sandbox, or the connection's paused one when it keeps persistent storage (given this
   * deploy's egress rules: the declared egress, targets or openings may have changed since).
   */
  private async sandboxFor(spec: SandboxSpec, signal: AbortSignal): Promise<Sandbox> {
    const egress = egressOptions(spec.egress, spec.egressTargets, this.settings.egressOpenings);
    try {
      if (spec.persistentStorage) {
        const [paused] = await this.find({ [METADATA.connection]: spec.connectionId });
        if (paused) {
          const resumed = await Sandbox.connect(paused, {
            ...this.opts(),
            signal,
            timeoutMs: this.settings.sandboxTimeoutMs,
          });
          try {
            await resumed.updateNetwork(egressUpdate(egress), { signal });
          } catch (error) {
            // Never left running with the rules of an earlier deploy.
            await resumed.pause().catch(() => undefined);
            throw error;
          }
          return resumed;
        }
      }
      return await Sandbox.create(this.settings.template, {
        ...this.opts(),
        signal,
        timeoutMs: this.settings.sandboxTimeoutMs,
        metadata: {
          [METADATA.connection]: spec.connectionId,
          [METADATA.account]: spec.accountId,
          [METADATA.platform]: this.settings.platformId,
          ...(spec.persistentStorage ? { [METADATA.persistent]: 'true' } : {}),
        },
        // A sandbox with persistent storage outliving its timeout (the platform away) is paused.
        ...(spec.persistentStorage ? { lifecycle: { onTimeout: 'pause' as const } } : {}),
        ...egress,
      });
    } catch (error) {
      if (signal.aborted) throw error;
      throw new DeployError(`E2B could not create the sandbox: ${explain(error)}.`);
    }
  }

  /** The bridge, the server's package (once per sandbox and version) and the credential files. */
  private async upload(sandbox: Sandbox, spec: SandboxSpec, signal: AbortSignal): Promise<void> {
    const bridge = readdirSync(this.settings.bridgeDir).filter((f) => f.endsWith('.js'));
    const files = [
      ...(await Promise.all(
        bridge.map(async (name) => ({
          path: `${ROOT}/bridge/${name}`,
          data: await fs.readFile(path.join(this.settings.bridgeDir, name), 'utf8'),
        })),
      )),
      { path: `${ROOT}/bridge/launcher.cjs`, data: LAUNCHER_SOURCE },
      ...spec.files.map((file) => ({ path: `${ROOT}/work/${file.path}`, data: file.content })),
    ];
    await sandbox.files.makeDir(`${ROOT}/work`, { signal });
    await sandbox.files.write(files, { signal });
    if (!spec.packageInstallDir) return;
    const pack = await this.pack(spec.packageInstallDir);
    const present = await sandbox.commands.run(`cat ${PACKAGE_LABEL} 2>/dev/null || true`, {
      cwd: `${ROOT}/work`,
      signal,
    });
    if (present.stdout.trim() === pack.label) return;
    const data = await fs.readFile(pack.file);
    await sandbox.files.write(`${ROOT}/package.tgz`, new Blob([data]), { signal });
    await sandbox.commands.run(
      `rm -rf ../package && mkdir -p ../package && tar -xzf ../package.tgz -C ../package && rm ../package.tgz && echo '${pack.label}' > ${PACKAGE_LABEL}`,
      { cwd: `${ROOT}/work`, signal },
    );
  }

  /** The package's install folder as a gzipped tarball, made once per version. */
  private pack(installDir: string): Promise<{ file: string; label: string }> {
    let packed = this.packs.get(installDir);
    if (!packed) {
      packed = (async () => {
        // Named by what is really installed (the lockfile), so an upgrade in place is a new pack.
        const lock = path.join(
          installDir,
          existsSync(path.join(installDir, 'package-lock.json'))
            ? 'package-lock.json'
            : 'package.json',
        );
        const digest = createHash('sha256')
          .update(await fs.readFile(lock))
          .digest('hex')
          .slice(0, 16);
        const label = `${path.basename(installDir).replace(/[^\w.-]/g, '_')}-${digest}`;
        await fs.mkdir(this.settings.cacheDir, { recursive: true });
        const file = path.join(this.settings.cacheDir, `${label}.tgz`);
        if (!existsSync(file)) {
          const partial = `${file}.${process.pid}.partial`;
          // What a server never loads at run time (type declarations, source maps, docs) stays
          // out: half the files, a third smaller.
          const unused = ['*.d.ts', '*.d.mts', '*.d.cts', '*.map', '*.md'];
          await run('tar', [
            '-czf',
            partial,
            ...unused.map((pattern) => `--exclude=${pattern}`),
            '-C',
            installDir,
            '.',
          ]);
          await fs.rename(partial, file);
        }
        return { file, label };
      })();
      packed.catch(() => this.packs.delete(installDir));
      this.packs.set(installDir, packed);
    }
    return packed;
  }

  private async launch(
    sandbox: Sandbox,
    spec: SandboxSpec,
    deadline: number,
    timeoutMs: number,
    hooks: SandboxHooks,
    signal: AbortSignal,
    started: { command?: CommandHandle },
  ): Promise<Launched> {
    const heap = `--max-old-space-size=${this.settings.memoryMb}`;
    const serverArgs =
      spec.program.kind === 'script'
        ? [heap, '../bridge/launcher.cjs']
        : [heap, ...spec.program.args];
    const output = new BridgeOutput(hooks);
    const command = await sandbox.commands.run('node ../bridge/serve.js', {
      background: true,
      cwd: `${ROOT}/work`,
      timeoutMs: 0,
      envs: {
        ...spec.env,
        // A marker to tell which connection a process in the sandbox serves.
        ATHENIC_CONNECTION_ID: spec.connectionId,
        ...(spec.program.kind === 'script'
          ? { ATHENIC_ENTRY: spec.program.path, ATHENIC_ARGV: JSON.stringify(spec.program.args) }
          : {}),
        ATHENIC_BRIDGE_TOKEN: this.settings.bridgeToken(spec.connectionId),
        ATHENIC_BRIDGE_PORT: '0',
        // Longer than the deploy's own deadline, which decides (and says why).
        ATHENIC_BRIDGE_START_TIMEOUT_MS: String(Math.max(1000, deadline - Date.now()) + 5000),
        ATHENIC_SERVER_COMMAND: 'node',
        ATHENIC_SERVER_ARGS: JSON.stringify(serverArgs),
      },
      onStdout: (data) => output.stdout(data),
      onStderr: (data) => output.stderr(data),
    });
    started.command = command;
    const ended = exitOf(sandbox, command, output);
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      const ready = await Promise.race([
        output.ready,
        ended.then((exit) => {
          throw new DeployError(startFailure(exit, output));
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new DeployError(
                  `Deploy timeout: the server did not answer MCP initialize within ${Math.round(timeoutMs / 1000)} s${tail(output)}.`,
                ),
              ),
            Math.max(0, deadline - Date.now()),
          );
        }),
        new Promise<never>((_, reject) => {
          onAbort = () => reject(new DeployError('The deployment was cancelled.'));
          // Aborted already (while the bridge was being started): no event will come.
          if (signal.aborted) onAbort();
          else signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
      return { command, ended, output, ...ready };
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Reattaches to a sandbox that outlived a restart of this service (its bridge still running):
   * null when the sandbox, the bridge or its server is gone (the connection is then redeployed).
   */
  async adopt(
    connectionId: string,
    ref: string,
    persistentStorage: boolean,
    hooks: SandboxHooks,
  ): Promise<SandboxHandle | null> {
    const match = /^e2b:([^:]+):(\d+):(\d+)$/.exec(ref);
    if (!match) return null;
    let sandbox: Sandbox;
    try {
      sandbox = await Sandbox.connect(match[1], {
        ...this.opts(),
        timeoutMs: this.settings.sandboxTimeoutMs,
      });
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      this.log.warn(`The sandbox of ${connectionId} is gone: ${explain(error)}`);
      return null;
    }
    const output = new BridgeOutput(hooks);
    let command: CommandHandle;
    try {
      command = await sandbox.commands.connect(Number(match[2]), {
        timeoutMs: 0,
        onStdout: (data) => output.stdout(data),
        onStderr: (data) => output.stderr(data),
      });
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      this.log.warn(`The bridge of ${connectionId} is gone: ${explain(error)}`);
      await this.release(sandbox, persistentStorage).catch(() => undefined);
      return null;
    }
    const handle = this.handle(sandbox, connectionId, persistentStorage, {
      command,
      ended: exitOf(sandbox, command, output),
      output,
      port: Number(match[3]),
      ready: { serverInfo: {}, protocolVersion: '', tools: 0 },
    });
    // A bridge that runs but does not answer is left to the health checks.
    await handle
      .ping(5000)
      .catch((error: unknown) =>
        this.log.warn(
          `The bridge of ${connectionId} did not answer a first ping: ${String(error)}`,
        ),
      );
    return handle;
  }

  private handle(
    sandbox: Sandbox,
    connectionId: string,
    persistentStorage: boolean,
    launched: Launched,
  ): SandboxHandle {
    const base = this.settings.portUrl(sandbox, launched.port);
    const token = this.settings.bridgeToken(connectionId);
    const monitor = new Monitor(sandbox, base, token, this.settings.sandboxTimeoutMs, this.log);
    this.live.add(sandbox.sandboxId);
    // Released once, whoever comes first (a stop, or the bridge ending), so a late release can
    // never pause or kill the sandbox again after the next start resumed it.
    // A release that failed is tried again by the next caller (or the orphan sweep).
    let released: Promise<void> | undefined;
    const release = () =>
      (released ??= this.release(sandbox, persistentStorage, launched.command).then(
        () => void this.live.delete(sandbox.sandboxId),
        (error: unknown) => {
          released = undefined;
          this.live.delete(sandbox.sandboxId);
          this.log.warn(`Releasing sandbox ${sandbox.sandboxId} failed: ${explain(error)}`);
        },
      ));
    // The bridge ends with its server: the sandbox goes too (a restart gets a fresh one), then
    // the exit is reported, after a stop as well (the deployer tells a stop from a crash).
    const finished = launched.ended.then(async (exit) => {
      await release();
      launched.output.exited(exit);
    });
    return {
      ref: `e2b:${sandbox.sandboxId}:${launched.command.pid}:${launched.port}`,
      isolation: 'e2b',
      bridgeUrl: `${base}/mcp`,
      ready: launched.ready,
      ping: (ms) => monitor.ping(ms),
      lastActivity: () => monitor.lastActivity,
      stderrTail: () => launched.output.stderrTail(),
      stop: async () => {
        await release();
        // The exit follows once the sandbox's streams close; never wait on it for long.
        await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
      },
    };
  }

  /** Kills the sandbox, or pauses it (files kept) for a connection with persistent storage. */
  private async release(
    sandbox: Sandbox,
    persistent: boolean,
    command?: CommandHandle,
  ): Promise<void> {
    if (!persistent) {
      await sandbox.kill();
      return;
    }
    if (command) await stopBridge(sandbox, command.pid);
    await sandbox.pause();
  }

  async discardFiles(connectionId: string): Promise<void> {
    for (const id of await this.find({ [METADATA.connection]: connectionId })) {
      await Sandbox.kill(id, this.opts());
    }
  }

  /**
   * Running sandboxes of this platform that this process holds no handle on, older than the
   * grace period, and not waiting to be taken back (`adopting`): killed, or paused when their
   * connection keeps persistent storage.
   */
  async killOrphans(_running: Set<string>, spared: Set<string> = new Set()): Promise<string[]> {
    const released: string[] = [];
    for (const info of await this.list({}, ['running'])) {
      const connection = info.metadata[METADATA.connection] ?? info.sandboxId;
      if (this.live.has(info.sandboxId) || spared.has(connection)) continue;
      if (Date.now() - info.startedAt.getTime() < this.settings.orphanGraceMs) continue;
      const done =
        info.metadata[METADATA.persistent] === 'true'
          ? await Sandbox.pause(info.sandboxId, this.opts())
          : await Sandbox.kill(info.sandboxId, this.opts());
      if (done) released.push(connection);
    }
    return released;
  }

  private async find(metadata: Record<string, string>): Promise<string[]> {
    return (await this.list(metadata, ['running', 'paused'])).map((s) => s.sandboxId);
  }

  private async list(metadata: Record<string, string>, state: ('running' | 'paused')[]) {
    const paginator = Sandbox.list({
      ...this.opts(),
      query: { metadata: { ...metadata, [METADATA.platform]: this.settings.platformId }, state },
    });
    const all = [];
    while (paginator.hasNext) all.push(...(await paginator.nextItems()));
    return all;
  }
}

interface Launched {
  command: CommandHandle;
  ended: Promise<ExitInfo>;
  output: BridgeOutput;
  port: number;
  ready: BridgeReady;
}

/** Reads the bridge's stdout (its report lines) and stderr (the server's, line by line). */
class BridgeOutput {
  readonly ready: Promise<{ port: number; ready: BridgeReady }>;
  failure: string | undefined;
  /** How the server ended, as the bridge saw it (more precise than the bridge's own exit). */
  serverExit: ExitInfo | undefined;
  private settle!: (value: { port: number; ready: BridgeReady }) => void;
  private readonly tail = new StderrTail();
  private stdoutRest = '';
  private stderrRest = '';

  constructor(private readonly hooks: SandboxHooks) {
    this.ready = new Promise((resolve) => (this.settle = resolve));
  }

  stdout(data: string): void {
    const lines = (this.stdoutRest + data).split('\n');
    this.stdoutRest = lines.pop() ?? '';
    for (const line of lines) {
      const [kind, ...rest] = line.split(' ');
      const body = rest.join(' ');
      try {
        if (kind === BRIDGE_LINE.ready)
          this.settle(JSON.parse(body) as { port: number; ready: BridgeReady });
        else if (kind === BRIDGE_LINE.failed)
          this.failure = (JSON.parse(body) as { message: string }).message;
        else if (kind === BRIDGE_LINE.exit) this.serverExit = JSON.parse(body) as ExitInfo;
        else if (line.trim()) this.hooks.onLog('stdout', line);
      } catch {
        this.hooks.onLog('stdout', line);
      }
    }
  }

  stderr(data: string): void {
    const lines = (this.stderrRest + data).split('\n');
    this.stderrRest = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      this.tail.push(line);
      this.hooks.onLog('stderr', line);
    }
  }

  stderrTail(): string[] {
    return this.tail.lines();
  }

  exited(exit: ExitInfo): void {
    this.hooks.onExit(this.serverExit ?? exit);
  }
}

/** MCP pings through the bridge's health route; a used connection extends its sandbox's life. */
class Monitor {
  lastActivity = Date.now();
  private extendedAt = Date.now();

  constructor(
    private readonly sandbox: Sandbox,
    private readonly base: string,
    private readonly token: string,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  async ping(ms: number): Promise<number> {
    const response = await fetch(`${this.base}/health`, {
      headers: { authorization: `Bearer ${this.token}`, 'x-timeout-ms': String(ms) },
      signal: AbortSignal.timeout(ms + 2000),
    });
    const body = (await response.json().catch(() => ({}))) as {
      pingMs?: number;
      idleMs?: number;
      message?: string;
    };
    if (!response.ok || typeof body.pingMs !== 'number')
      throw new Error(
        `the bridge answered ${response.status}${body.message ? `: ${body.message}` : ''}`,
      );
    if (typeof body.idleMs === 'number')
      this.lastActivity = Math.max(this.lastActivity, Date.now() - body.idleMs);
    if (this.lastActivity > this.extendedAt) {
      // E2B's control plane in trouble is not the server in trouble: not a failed ping.
      await this.sandbox.setTimeout(this.timeoutMs).then(
        () => (this.extendedAt = Date.now()),
        (error: unknown) =>
          this.log.warn(`Extending sandbox ${this.sandbox.sandboxId} failed: ${explain(error)}`),
      );
    }
    return body.pingMs;
  }
}

/**
 * SIGTERM to the bridge, which stops its server's whole process group before it exits; SIGKILL
 * if it is still there after seven seconds. So no server is frozen into a paused sandbox.
 */
async function stopBridge(sandbox: Sandbox, pid: number): Promise<void> {
  const wait = `kill -TERM ${pid} 2>/dev/null || exit 0; for i in $(seq 70); do kill -0 ${pid} 2>/dev/null || exit 0; sleep 0.1; done; exit 1`;
  const gone = await sandbox.commands
    .run(wait, { timeoutMs: 10_000 })
    .then(() => true)
    .catch(() => false);
  if (!gone) await sandbox.commands.kill(pid).catch(() => false);
}

/**
 * How the bridge process ended. A dropped stream is not an exit: while the sandbox runs, the
 * platform attaches to the process again (a few times); a lost sandbox counts as killed.
 */
async function exitOf(
  sandbox: Sandbox,
  command: CommandHandle,
  output: BridgeOutput,
): Promise<ExitInfo> {
  const lost: ExitInfo = { code: null, signal: 'SIGKILL' };
  let current = command;
  for (let attempt = 0; ; attempt++) {
    try {
      return { code: (await current.wait()).exitCode, signal: null };
    } catch (error) {
      if (error instanceof CommandExitError) return { code: error.exitCode, signal: null };
      if (attempt >= 3) return lost;
      try {
        if (!(await sandbox.isRunning({ requestTimeoutMs: 10_000 }))) return lost;
        current = await sandbox.commands.connect(command.pid, {
          timeoutMs: 0,
          onStdout: (data) => output.stdout(data),
          onStderr: (data) => output.stderr(data),
        });
      } catch {
        return lost;
      }
    }
  }
}

function tail(output: BridgeOutput): string {
  const lines = tailSummary(output.stderrTail());
  return lines ? ` (last output: ${lines})` : '';
}

function startFailure(bridgeExit: ExitInfo, output: BridgeOutput): string {
  const exit = output.serverExit ?? bridgeExit;
  const lines = tailSummary(output.stderrTail());
  if (output.failure && exit.code === 1 && !lines)
    return `The server failed to start: ${output.failure}.`;
  if (exit.code === null) return 'The E2B sandbox ended before the server started.';
  return `The server exited with code ${exit.code}${lines ? `: ${lines}` : output.failure ? `: ${output.failure}` : ' without an error message'}.`;
}

/** An SDK error as a sentence that names what to fix, without any secret. */
function explain(error: unknown): string {
  const name = error instanceof Error ? error.name : '';
  const message = (error instanceof Error ? error.message : String(error)).replace(/\.+$/, '');
  if (name === 'AuthenticationError') return 'E2B rejected the API key; check E2B_API_KEY';
  if (error instanceof NotFoundError) return `E2B does not know it (${message})`;
  if (name === 'RateLimitError') return 'E2B is rate limiting this account; try again shortly';
  return message;
}

/** The E2B provider's settings from the service's configuration. */
export function e2bSettings(config: SandboxConfig): E2bSettings {
  const { env } = config;
  const template = env.E2B_PORT_URL;
  return {
    apiKey: env.E2B_API_KEY ?? '',
    template: env.E2B_TEMPLATE,
    apiUrl: env.E2B_API_URL,
    sandboxUrl: env.E2B_SANDBOX_URL,
    sandboxTimeoutMs: env.E2B_SANDBOX_TIMEOUT_MS ?? env.IDLE_TIMEOUT_MS + 5 * 60_000,
    platformId: createHash('sha256')
      .update(`athenic-platform:${config.internalSecret}`)
      .digest('hex')
      .slice(0, 16),
    memoryMb: env.SANDBOX_MEMORY_MB,
    portUrl: template
      ? (sandbox, port) =>
          template.replaceAll('{port}', String(port)).replaceAll('{sandbox}', sandbox.sandboxId)
      : e2bPortUrl,
    bridgeDir: compiledBridgeDir(),
    cacheDir: path.join(config.dataDir, 'e2b-packages'),
    bridgeToken: (connectionId) => bridgeToken(config.internalSecret, connectionId),
    orphanGraceMs: env.DEPLOY_TIMEOUT_MS + 5000,
    egressOpenings: parseAllowPrivate(config.env.EGRESS_ALLOW_PRIVATE),
  };
}

/** The compiled bridge (next to this module once built; in dist/ when run from sources). */
function compiledBridgeDir(): string {
  if (existsSync(path.join(BRIDGE_DIR, 'serve.js'))) return BRIDGE_DIR;
  return path.resolve(BRIDGE_DIR, '../../../dist/libs/mcp-bridge/src');
}
