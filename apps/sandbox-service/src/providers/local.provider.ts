import {
  type EgressEvent,
  EgressGuard,
  type EgressListener,
  SANDBOX_SHIM_SOURCE,
  parseEgressPattern,
  startEgressListener,
} from '@athenic/egress';
import { ChildUpstream, type ExitInfo, McpBridge, SessionBudget } from '@athenic/mcp-bridge';
import { bridgeToken } from '@athenic/platform-crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { existsSync, lchownSync, lstatSync, readFileSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SANDBOX_CONFIG, type SandboxConfig } from '../config/env';
import { BridgeHost } from './bridge-host';
import {
  type BubblewrapMode,
  INSIDE,
  bubblewrapArgs,
  bubblewrapUsable,
  dropPrivileges,
} from './bubblewrap';
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
import { SandboxCgroup, type SandboxLimits, SandboxWatchdog, prlimitArgs } from './sandbox-limits';
import { UidPool } from './uid-pool';

/**
 * Runs each connection's server as a child process under bubblewrap: its own uid (one per
 * sandbox, when the platform runs as root), its own namespaces, the network included (its only
 * way out is its egress socket, checked by the platform's proxy: docs/security/egress.md),
 * read-only system files and package, a private working dir, rlimits, a cgroup where the host
 * has one, and a watchdog that stops it with a reason when it breaks a limit. Without a usable
 * bubblewrap it runs the server unisolated and says so, except in production, where it refuses
 * unless ALLOW_UNISOLATED_SANDBOXES=true. Its bridge is served by this process.
 */
@Injectable()
export class LocalProvider implements SandboxProvider, OnApplicationShutdown {
  readonly name = 'local' as const;
  readonly survivesRestart = false;
  private readonly log = new Logger('LocalProvider');
  private readonly root: string;
  private readonly launcher: string;
  private readonly shim: string;
  /** Per-sandbox uids when the platform runs as root; otherwise sandboxes run as its own user. */
  private readonly uids: UidPool | undefined;
  readonly isolation: 'bubblewrap' | 'none';
  /** Why sandboxes cannot be isolated here, when they cannot. */
  readonly isolationProblem: string | undefined;
  private readonly refuseUnisolated: boolean;
  private readonly prlimit: boolean;
  private readonly limits: SandboxLimits;
  /** Where the egress sockets live: a folder of this process, made at start. */
  private egressRoot = '';
  private readonly egress = new Map<string, EgressListener>();

  constructor(
    @Inject(SANDBOX_CONFIG) private readonly config: SandboxConfig,
    private readonly host: BridgeHost,
    private readonly guard: EgressGuard,
    /** MCP_SESSIONS_PER_ACCOUNT: the sessions of all the bridges of one account in this process. */
    private readonly sessions: SessionBudget,
  ) {
    this.root = path.join(config.dataDir, 'sandboxes');
    this.launcher = path.join(this.root, '.launcher.cjs');
    this.shim = path.join(this.root, '.egress-shim.cjs');
    const env = config.env;
    const asRoot = process.getuid?.() === 0;
    this.uids = asRoot ? new UidPool(config.sandboxUids.first, config.sandboxUids.last) : undefined;
    const usable = bubblewrapUsable(
      asRoot ? { privileged: true, uid: config.sandboxUids.first } : { privileged: false },
    );
    this.isolation = usable.ok ? 'bubblewrap' : 'none';
    this.isolationProblem = usable.ok ? undefined : usable.reason;
    this.refuseUnisolated =
      !usable.ok && env.NODE_ENV === 'production' && env.ALLOW_UNISOLATED_SANDBOXES !== 'true';
    if (this.refuseUnisolated) {
      this.log.error(
        `bubblewrap is unusable (${this.isolationProblem}): local MCP servers will NOT be started in production without isolation; fix bubblewrap, or set ALLOW_UNISOLATED_SANDBOXES=true to run them unisolated`,
      );
    } else if (!usable.ok) {
      this.log.warn(
        `bubblewrap is unusable (${this.isolationProblem}): local MCP servers will run WITHOUT isolation (isolation "none")`,
      );
    }
    this.prlimit = commandExists('prlimit');
    this.limits = {
      memoryMb: env.SANDBOX_MEMORY_MB,
      maxProcesses: env.SANDBOX_MAX_PROCESSES,
      openFiles: env.SANDBOX_OPEN_FILES,
      workdirMb: env.SANDBOX_WORKDIR_MB,
    };
  }

  async prepare(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o711 });
    // Unisolated servers run as another user and reach their working dir through the data dir
    // (passing through, not listing); the secrets file in it stays the platform's only. Under
    // bubblewrap as root, mounts are made with root's rights: the checkout may be anywhere.
    await fs.chmod(this.config.dataDir, 0o711);
    await fs.chmod(this.root, 0o711);
    await fs.writeFile(this.launcher, LAUNCHER_SOURCE, { mode: 0o644 });
    await fs.writeFile(this.shim, SANDBOX_SHIM_SOURCE, { mode: 0o644 });
    // Short paths (a Unix socket's path has at most 107 bytes), wherever the checkout is.
    this.egressRoot = await fs.mkdtemp(path.join(os.tmpdir(), 'athenic-egress-'));
    await fs.chmod(this.egressRoot, 0o711);
  }

  /** Closes every egress socket and removes their folder (at shutdown). */
  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.egress.values()].map((listener) => listener.close()));
    this.egress.clear();
    if (this.egressRoot) await fs.rm(this.egressRoot, { recursive: true, force: true });
  }

  /**
   * The isolation local sandboxes get, for the health reply: an error only when servers are
   * refused (production without bubblewrap).
   */
  isolationHealth(): { status: 'ok' | 'error'; detail?: string; error?: string } {
    if (this.refuseUnisolated)
      return {
        status: 'error',
        error: `no isolation (${this.isolationProblem}); production refuses to run servers unisolated unless ALLOW_UNISOLATED_SANDBOXES=true`,
      };
    if (this.isolation === 'none')
      return { status: 'ok', detail: `none: servers run unisolated (${this.isolationProblem})` };
    return {
      status: 'ok',
      detail: `bubblewrap: an own network namespace and egress proxy per sandbox${this.uids ? ', a uid per sandbox' : ''}`,
    };
  }

  paths(connectionId: string): SandboxPaths {
    return this.isolation === 'bubblewrap'
      ? { workdir: INSIDE.workdir, packageRoot: INSIDE.packageRoot }
      : { workdir: this.workdir(connectionId), packageRoot: '' };
  }

  private workdir(connectionId: string): string {
    return path.join(this.root, connectionId, 'work');
  }

  async start(
    spec: SandboxSpec,
    timeoutMs: number,
    hooks: SandboxHooks,
    signal: AbortSignal,
  ): Promise<SandboxHandle> {
    if (this.refuseUnisolated) {
      throw new DeployError(
        `Local sandboxes cannot be isolated on this host (${this.isolationProblem}), and production refuses to run servers without isolation; fix bubblewrap or set ALLOW_UNISOLATED_SANDBOXES=true.`,
      );
    }
    const id = spec.connectionId;
    const uid = this.uids?.take(id);
    const teardown = new Teardown();
    teardown.add(() => this.uids?.release(id));
    try {
      return await this.launch(spec, uid, teardown, timeoutMs, hooks, signal);
    } catch (error) {
      await teardown.run();
      throw error;
    }
  }

  private async launch(
    spec: SandboxSpec,
    uid: number | undefined,
    teardown: Teardown,
    timeoutMs: number,
    hooks: SandboxHooks,
    signal: AbortSignal,
  ): Promise<SandboxHandle> {
    const id = spec.connectionId;
    const workdir = this.workdir(id);
    await fs.mkdir(path.dirname(workdir), { recursive: true, mode: 0o711 });
    await fs.mkdir(workdir, { recursive: true, mode: 0o700 });
    for (const file of spec.files) {
      const target = path.join(workdir, file.path);
      await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      await fs.writeFile(target, file.content, { mode: 0o600 });
    }
    // The working dir is the sandbox's own uid's while it runs (a uid is reused later by
    // another sandbox: it gets its files back to root when it stops).
    if (uid !== undefined) {
      chownTree(workdir, uid);
      teardown.add(() => chownTree(workdir, 0));
    }

    const runDir = path.join(this.egressRoot, id);
    await fs.rm(runDir, { recursive: true, force: true });
    await fs.mkdir(runDir, { mode: 0o700 });
    if (uid !== undefined) await fs.chown(runDir, uid, uid);
    teardown.add(() => fs.rm(runDir, { recursive: true, force: true }));
    const reported = new Set<string>();
    const egress = await startEgressListener({
      socketPath: path.join(runDir, 'egress.sock'),
      policy: { patterns: spec.egress.map(parseEgressPattern), targets: spec.egressTargets },
      guard: this.guard,
      owner: uid,
      onEvent: (event) => {
        // Every refusal is logged; a destination reached, the first time only.
        if (event.allowed) {
          const destination = `${event.host}:${event.port}`;
          if (reported.has(destination)) return;
          reported.add(destination);
        }
        hooks.onLog('system', describeEgress(event));
      },
    });
    this.egress.set(id, egress);
    teardown.add(async () => {
      if (this.egress.get(id) === egress) this.egress.delete(id);
      await egress.close();
    });

    const cgroup = this.isolation === 'bubblewrap' ? SandboxCgroup.create(id, this.limits) : null;
    if (cgroup) teardown.add(() => cgroup.destroy());
    const { command, args } = this.commandLine(spec, workdir, runDir, uid, cgroup);
    const bubblewrap = this.isolation === 'bubblewrap';
    const env = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: this.paths(id).workdir,
      TMPDIR: bubblewrap ? '/tmp' : workdir,
      LANG: 'C.UTF-8',
      // Markers to find an orphaned server again: whose it is, and which sandbox service ran it.
      ATHENIC_CONNECTION_ID: id,
      ATHENIC_SANDBOX_ROOT: this.root,
      ...spec.env,
      // Every Node process of the sandbox sends its TCP connections through the egress socket.
      NODE_OPTIONS: `--require ${bubblewrap ? INSIDE.shim : this.shim}`,
      ATHENIC_EGRESS_SOCKET: bubblewrap ? INSIDE.egressSocket : egress.socketPath,
      // User-given targets on loopback leave the sandbox too (the proxy decides whether they may).
      ...loopbackTargets(spec),
      ...(spec.program.kind === 'script'
        ? { ATHENIC_ENTRY: spec.program.path, ATHENIC_ARGV: JSON.stringify(spec.program.args) }
        : {}),
    };
    const upstream = ChildUpstream.spawn(command, args, {
      cwd: workdir,
      env,
      // Unisolated, the server itself runs as the sandbox's uid; under bubblewrap, setpriv drops to it.
      ...(uid !== undefined && !bubblewrap ? { uid, gid: uid } : {}),
    });
    const stderrTail = new StderrTail();
    let exited: ExitInfo | undefined;
    /** The limit the server broke, when the platform stopped it for that. */
    let breach: string | undefined;
    const watchdog =
      uid !== undefined
        ? new SandboxWatchdog({
            uid,
            workdir,
            limits: this.limits,
            kernelBreach: () => {
              const kind = cgroup?.breach();
              return kind ? kernelBreach(kind, this.limits) : null;
            },
            onBreach: (reason) => {
              breach = reason;
              hooks.onLog('system', `Stopping the server: ${reason}`);
              void upstream.stop(2000);
            },
          })
        : undefined;
    const bridge = new McpBridge(upstream, {
      token: bridgeToken(this.config.internalSecret, id),
      sessionBudget: { budget: this.sessions, key: spec.accountId },
      onLog: (stream, line) => {
        if (stream === 'stderr') stderrTail.push(line);
        hooks.onLog(stream, line);
      },
      onExit: (info) => {
        watchdog?.stop();
        const kernel = cgroup?.breach();
        if (!breach && kernel) breach = kernelBreach(kernel, this.limits);
        if (breach) hooks.onLog('system', breach);
        exited = breach ? { ...info, reason: `was stopped: ${breach}` } : info;
        this.host.unregister(id, bridge);
        void teardown.run();
        hooks.onExit(exited);
      },
    });
    const abort = () => void upstream.stop(2000);
    signal.addEventListener('abort', abort, { once: true });
    this.host.register(id, bridge);
    watchdog?.start();
    try {
      const ready = await bridge.start(timeoutMs);
      if (signal.aborted) throw new DeployError('The deployment was cancelled.');
      return {
        ref: `local:${upstream.pid}`,
        isolation: this.isolation,
        bridgeUrl: this.host.urlFor(id),
        ready,
        ping: (ms) => bridge.ping(ms),
        lastActivity: () => bridge.lastActivity,
        stderrTail: () => stderrTail.lines(),
        stop: async () => {
          watchdog?.stop();
          this.host.unregister(id, bridge);
          await bridge.close(5000);
          await teardown.run();
        },
      };
    } catch (error) {
      watchdog?.stop();
      this.host.unregister(id, bridge);
      await upstream.stop(2000);
      // Give the exit a moment to carry the process's last words.
      await new Promise((resolve) => setTimeout(resolve, 50));
      throw new DeployError(
        startFailure(
          error,
          exited ?? (await upstream.exited),
          breach ? [...stderrTail.lines(), breach] : stderrTail.lines(),
          timeoutMs,
          signal.aborted,
        ),
      );
    } finally {
      signal.removeEventListener('abort', abort);
    }
  }

  private commandLine(
    spec: SandboxSpec,
    workdir: string,
    runDir: string,
    uid: number | undefined,
    cgroup: SandboxCgroup | null,
  ): { command: string; args: string[] } {
    // Below the sandbox's memory limit: a heap that fills ends as a clear V8 error first.
    const heap = `--max-old-space-size=${Math.max(32, Math.floor((this.limits.memoryMb * 3) / 4))}`;
    const bubblewrap = this.isolation === 'bubblewrap';
    const node = [
      process.execPath,
      heap,
      ...(spec.program.kind === 'script'
        ? [bubblewrap ? INSIDE.launcher : this.launcher]
        : spec.program.args),
    ];
    const limited = this.prlimit ? ['prlimit', ...prlimitArgs(this.limits), '--', ...node] : node;
    if (!bubblewrap) return { command: limited[0], args: limited.slice(1) };
    const mode: BubblewrapMode =
      uid !== undefined ? { privileged: true, uid } : { privileged: false };
    const mounts = bubblewrapArgs(
      {
        workdir,
        packageInstallDir: spec.packageInstallDir,
        launcher: this.launcher,
        shim: this.shim,
        runDir,
      },
      mode,
    );
    const sandboxed = ['bwrap', ...mounts, '--', ...dropPrivileges(mode), ...limited];
    if (!cgroup) return { command: sandboxed[0], args: sandboxed.slice(1) };
    // Joins its cgroup before bubblewrap starts, so everything the server forks is in it.
    return {
      command: '/bin/sh',
      args: [
        '-c',
        'for f in $1; do echo $$ > "$f" || exit 125; done; shift; exec "$@"',
        'sandbox',
        cgroup.procsFiles().join(' '),
        ...sandboxed,
      ],
    };
  }

  async discardFiles(connectionId: string): Promise<void> {
    await fs.rm(path.join(this.root, connectionId), { recursive: true, force: true });
  }

  /**
   * After a crash of this service, servers of the "none" isolation may survive (bubblewrap ones
   * die with their parent): find them by their connection id and stop them.
   */
  async killOrphans(running: Set<string>, spared: Set<string> = new Set()): Promise<string[]> {
    const killed: string[] = [];
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      let environ: string;
      try {
        environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      } catch {
        continue;
      }
      const match = /(?:^|\0)ATHENIC_CONNECTION_ID=([0-9a-f-]{36})(?:\0|$)/.exec(environ);
      // Only this service's own sandboxes (another platform on the host has another root).
      if (!match || !environ.includes(`\0ATHENIC_SANDBOX_ROOT=${this.root}\0`)) continue;
      if (running.has(match[1]) || spared.has(match[1]) || Number(pid) === process.pid) continue;
      try {
        process.kill(Number(pid), 'SIGKILL');
        killed.push(match[1]);
      } catch {
        // Gone already.
      }
    }
    return killed;
  }
}

function startFailure(
  error: unknown,
  exit: ExitInfo,
  stderrTail: string[],
  timeoutMs: number,
  aborted: boolean,
): string {
  if (aborted) return 'The deployment was cancelled.';
  const tail = tailSummary(stderrTail);
  if (exit.code !== null && !String((error as Error)?.message).startsWith('no answer')) {
    return `The server exited with code ${exit.code}${tail ? `: ${tail}` : ' without an error message'}.`;
  }
  if (String((error as Error)?.message).startsWith('no answer')) {
    return `Deploy timeout: the server did not answer MCP initialize within ${Math.round(timeoutMs / 1000)} s${tail ? ` (last output: ${tail})` : ''}.`;
  }
  return `The server failed to start: ${(error as Error)?.message ?? String(error)}${tail ? ` (${tail})` : ''}.`;
}

function commandExists(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Gives a folder tree to a uid. Never follows a link: a server could leave one pointing at a
 * host file for the platform to chown.
 */
function chownTree(dir: string, uid: number): void {
  const walk = (target: string) => {
    const stat = lstatSync(target);
    lchownSync(target, uid, uid);
    if (stat.isDirectory()) for (const entry of readdirSync(target)) walk(path.join(target, entry));
  };
  if (existsSync(dir)) walk(dir);
}

/**
 * What undoes a sandbox's start (its uid, sockets, cgroup, file ownership): run once, last step
 * first; a step that fails does not keep the others from running.
 */
class Teardown {
  private steps: (() => unknown)[] = [];

  add(step: () => unknown): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    const steps = this.steps.reverse();
    this.steps = [];
    for (const step of steps)
      await Promise.resolve()
        .then(step)
        .catch(() => undefined);
  }
}

/** A line of the connection's log for one egress decision. */
function describeEgress(event: EgressEvent): string {
  return event.allowed
    ? `Egress: connected to ${event.host}:${event.port} (${event.address})`
    : `Egress refused: ${event.host}:${event.port}: ${event.reason}`;
}

/** The reason for a limit the kernel enforced (the cgroup's own count). */
function kernelBreach(kind: 'memory' | 'pids', limits: SandboxLimits): string {
  return kind === 'memory'
    ? `Memory limit exceeded: the kernel stopped a process of the server at ${limits.memoryMb} MiB (SANDBOX_MEMORY_MB).`
    : `Process limit reached: ${limits.maxProcesses} processes and threads (SANDBOX_MAX_PROCESSES).`;
}

/** The user-given targets on loopback, which the shim sends out instead of to the sandbox's own. */
function loopbackTargets(spec: SandboxSpec): { ATHENIC_EGRESS_LOOPBACK?: string } {
  const targets = spec.egressTargets
    .filter((t) => /^(localhost|127\.|::1$)/i.test(t.host))
    .map((t) => `${t.host}:${t.port}`);
  return targets.length > 0 ? { ATHENIC_EGRESS_LOOPBACK: targets.join(',') } : {};
}
