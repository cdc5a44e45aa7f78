import type { Isolation } from '@athenic/contracts';
import type { EgressTarget } from '@athenic/egress';
import type { BridgeReady, ExitInfo, LogStream } from '@athenic/mcp-bridge';

/** How paths look from inside a sandbox (the launch spec refers to them). */
export interface SandboxPaths {
  /** The connection's private working dir. */
  workdir: string;
  /** Where an installed package's folder appears. */
  packageRoot: string;
}

/** Everything needed to start one connection's server; values already resolved (may hold secrets). */
export interface SandboxSpec {
  connectionId: string;
  accountId: string;
  /** The install folder of the server's npm package (mounted read-only), or null for a command-only type. */
  packageInstallDir: string | null;
  /**
   * Either a script to run through the platform's launcher (arguments passed in the environment,
   * never on a command line), or plain node arguments for a command-only type.
   */
  program: { kind: 'script'; path: string; args: string[] } | { kind: 'node'; args: string[] };
  env: Record<string, string>;
  /** Files written into the working dir before start (credential files), path relative to it. */
  files: { path: string; content: string }[];
  /** The hosts the server type declares (`host`, `*.suffix`, `*`, each with an optional port). */
  egress: string[];
  /** The places this connection's user gave it (fields marked `x-egress-target`). */
  egressTargets: EgressTarget[];
  persistentStorage: boolean;
}

export interface SandboxHooks {
  onLog: (stream: LogStream, line: string) => void;
  /** The server exited (after it was running, or while starting). */
  onExit: (info: ExitInfo) => void;
}

export interface SandboxHandle {
  /** The provider's id of the sandbox, stored to find it again. */
  ref: string;
  isolation: Isolation;
  /** Where the bridge listens, for the gateway. */
  bridgeUrl: string;
  ready: BridgeReady;
  ping(timeoutMs: number): Promise<number>;
  /** When a client last used it (ms since the epoch). */
  lastActivity(): number;
  /** The server's last lines on stderr, for the reason of a failure. */
  stderrTail(): string[];
  /** Stops the server (and the sandbox); the working dir stays unless discarded by the caller. */
  stop(): Promise<void>;
}

/** The last lines a server wrote on stderr, for the reason of a failure. */
export class StderrTail {
  private readonly kept: string[] = [];

  constructor(private readonly size = 12) {}

  push(line: string): void {
    this.kept.push(line);
    if (this.kept.length > this.size) this.kept.shift();
  }

  lines(): string[] {
    return [...this.kept];
  }
}

/** The last few lines of a stderr tail on one line, as a status reason quotes them. */
export function tailSummary(lines: string[]): string {
  return lines.slice(-5).join(' | ');
}

/** Raised when a server does not come up; `reason` is the sentence the user sees. */
export class DeployError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'DeployError';
  }
}

export interface SandboxProvider {
  readonly name: 'local' | 'e2b';
  /** Whether sandboxes outlive this service (found again after a restart) or stop with it. */
  readonly survivesRestart: boolean;
  paths(connectionId: string): SandboxPaths;
  start(
    spec: SandboxSpec,
    timeoutMs: number,
    hooks: SandboxHooks,
    signal: AbortSignal,
  ): Promise<SandboxHandle>;
  /** Removes a connection's working dir (on stop without persistent storage, and on delete). */
  discardFiles(connectionId: string): Promise<void>;
  /**
   * Stops what the provider still runs that nothing claims (orphans after a crash): not the
   * sandboxes this process runs for `running` connections, nor any sandbox of a `spared`
   * connection (held by another live replica, or waiting to be taken back).
   */
  killOrphans(running: Set<string>, spared?: Set<string>): Promise<string[]>;
  /**
   * For sandboxes that survive a restart: reattaches to a connection's running sandbox by the
   * ref its handle had; null when it is gone; throws when the provider cannot tell right now
   * (try again later, destroy nothing).
   */
  adopt?(
    connectionId: string,
    ref: string,
    persistentStorage: boolean,
    hooks: SandboxHooks,
  ): Promise<SandboxHandle | null>;
}

export const SANDBOX_PROVIDER = Symbol('SANDBOX_PROVIDER');
