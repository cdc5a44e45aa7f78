import { ChildUpstream, type ExitInfo, McpBridge } from '@athenic/mcp-bridge';
import { bridgeToken } from '@athenic/platform-crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { chownSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { SANDBOX_CONFIG, type SandboxConfig } from '../config/env';
import { BridgeHost } from './bridge-host';
import { INSIDE, bubblewrapArgs, bubblewrapUsable } from './bubblewrap';
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

/** The uid sandboxed servers run as when the platform runs as root ("nobody"). */
const SANDBOX_UID = 65534;

/**
 * Runs each connection's server as a child process under bubblewrap (an unprivileged uid, its own
 * namespaces, read-only system files and package, a private working dir, no network unless its
 * type declares egress, rlimits and a heap cap). Without a usable bubblewrap it still runs the
 * server, unisolated, and says so once. Its bridge is served by this process.
 */
@Injectable()
export class LocalProvider implements SandboxProvider {
  readonly name = 'local' as const;
  readonly survivesRestart = false;
  private readonly log = new Logger('LocalProvider');
  private readonly root: string;
  private readonly launcher: string;
  private readonly uid: number | undefined;
  private readonly isolation: 'bubblewrap' | 'none';
  private readonly prlimit: boolean;

  constructor(
    @Inject(SANDBOX_CONFIG) private readonly config: SandboxConfig,
    private readonly host: BridgeHost,
  ) {
    this.root = path.join(config.dataDir, 'sandboxes');
    this.launcher = path.join(this.root, '.launcher.cjs');
    this.uid = process.getuid?.() === 0 ? SANDBOX_UID : undefined;
    const usable = bubblewrapUsable(this.uid);
    this.isolation = usable.ok ? 'bubblewrap' : 'none';
    if (!usable.ok) {
      this.log.warn(
        `bubblewrap is unusable (${usable.reason}): local MCP servers will run WITHOUT isolation (isolation "none")`,
      );
    }
    this.prlimit = commandExists('prlimit');
  }

  async prepare(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o711 });
    // The sandbox user must be able to pass through (not list) the data dir to its own working
    // dir; the secrets file in it stays readable by the platform's user only.
    await fs.chmod(this.config.dataDir, 0o711);
    await fs.chmod(this.root, 0o711);
    await fs.writeFile(this.launcher, LAUNCHER_SOURCE, { mode: 0o644 });
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
    const workdir = this.workdir(spec.connectionId);
    await fs.mkdir(path.dirname(workdir), { recursive: true, mode: 0o711 });
    await fs.mkdir(workdir, { recursive: true, mode: 0o700 });
    for (const file of spec.files) {
      const target = path.join(workdir, file.path);
      await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      await fs.writeFile(target, file.content, { mode: 0o600 });
    }
    if (this.uid !== undefined) chownTree(workdir, this.uid);

    const { command, args } = this.commandLine(spec, workdir);
    const env = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: this.paths(spec.connectionId).workdir,
      TMPDIR: this.isolation === 'bubblewrap' ? '/tmp' : workdir,
      LANG: 'C.UTF-8',
      // Markers to find an orphaned server again: whose it is, and which sandbox service ran it.
      ATHENIC_CONNECTION_ID: spec.connectionId,
      ATHENIC_SANDBOX_ROOT: this.root,
      ...spec.env,
      ...(spec.program.kind === 'script'
        ? { ATHENIC_ENTRY: spec.program.path, ATHENIC_ARGV: JSON.stringify(spec.program.args) }
        : {}),
    };
    const upstream = ChildUpstream.spawn(command, args, {
      cwd: workdir,
      env,
      ...(this.uid !== undefined ? { uid: this.uid, gid: this.uid } : {}),
    });
    const stderrTail = new StderrTail();
    let exited: ExitInfo | undefined;
    const bridge = new McpBridge(upstream, {
      token: bridgeToken(this.config.internalSecret, spec.connectionId),
      onLog: (stream, line) => {
        if (stream === 'stderr') {
          stderrTail.push(line);
        }
        hooks.onLog(stream, line);
      },
      onExit: (info) => {
        exited = info;
        this.host.unregister(spec.connectionId, bridge);
        hooks.onExit(info);
      },
    });
    const abort = () => void upstream.stop(2000);
    signal.addEventListener('abort', abort, { once: true });
    this.host.register(spec.connectionId, bridge);
    try {
      const ready = await bridge.start(timeoutMs);
      if (signal.aborted) throw new DeployError('The deployment was cancelled.');
      return {
        ref: `local:${upstream.pid}`,
        isolation: this.isolation,
        bridgeUrl: this.host.urlFor(spec.connectionId),
        ready,
        ping: (ms) => bridge.ping(ms),
        lastActivity: () => bridge.lastActivity,
        stderrTail: () => stderrTail.lines(),
        stop: async () => {
          this.host.unregister(spec.connectionId, bridge);
          await bridge.close(5000);
        },
      };
    } catch (error) {
      this.host.unregister(spec.connectionId, bridge);
      await upstream.stop(2000);
      // Give the exit a moment to carry the process's last words.
      await new Promise((resolve) => setTimeout(resolve, 50));
      throw new DeployError(
        startFailure(
          error,
          exited ?? (await upstream.exited),
          stderrTail.lines(),
          timeoutMs,
          signal.aborted,
        ),
      );
    } finally {
      signal.removeEventListener('abort', abort);
    }
  }

  private commandLine(spec: SandboxSpec, workdir: string): { command: string; args: string[] } {
    const heap = `--max-old-space-size=${this.config.env.SANDBOX_MEMORY_MB}`;
    const bubblewrap = this.isolation === 'bubblewrap';
    const node = [
      process.execPath,
      heap,
      ...(spec.program.kind === 'script'
        ? [bubblewrap ? INSIDE.launcher : this.launcher]
        : spec.program.args),
    ];
    const limited = this.prlimit
      ? ['prlimit', '--nproc=512', '--nofile=1024', '--core=0', '--', ...node]
      : node;
    if (!bubblewrap) return { command: limited[0], args: limited.slice(1) };
    const mounts = bubblewrapArgs({
      workdir,
      packageInstallDir: spec.packageInstallDir,
      launcher: this.launcher,
      network: spec.egress.length > 0,
    });
    return { command: 'bwrap', args: [...mounts, '--', ...limited] };
  }

  async discardFiles(connectionId: string): Promise<void> {
    await fs.rm(path.join(this.root, connectionId), { recursive: true, force: true });
  }

  /**
   * After a crash of this service, servers of the "none" isolation may survive (bubblewrap ones
   * die with their parent): find them by their connection id and stop them.
   */
  async killOrphans(keep: Set<string>): Promise<string[]> {
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
      if (keep.has(match[1]) || Number(pid) === process.pid) continue;
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

function chownTree(dir: string, uid: number): void {
  const walk = (target: string) => {
    chownSync(target, uid, uid);
    if (statSync(target).isDirectory())
      for (const entry of readdirSync(target)) walk(path.join(target, entry));
  };
  if (existsSync(dir)) walk(dir);
}
