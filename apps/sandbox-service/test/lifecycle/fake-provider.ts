import type { ExitInfo } from '@athenic/mcp-bridge';
import {
  DeployError,
  type SandboxHandle,
  type SandboxHooks,
  type SandboxPaths,
  type SandboxProvider,
  type SandboxSpec,
} from '../../src/providers/sandbox-provider';

/**
 * A sandbox provider with no processes, for the lifecycle's own test tier: each start gives a
 * handle at once (or fails, or waits for the test), and the test crashes, hangs or idles a
 * handle by hand. What it records (starts, stops, kills) is what the lifecycle asked of it.
 */
export class FakeProvider implements SandboxProvider {
  readonly name = 'local' as const;
  survivesRestart = false;
  /** Every handle ever started, in order. */
  readonly handles: FakeHandle[] = [];
  readonly discarded: string[] = [];
  readonly killed: string[] = [];
  private readonly plans = new Map<string, StartPlan[]>();
  private seq = 0;

  paths(connectionId: string): SandboxPaths {
    return { workdir: `/fake/${connectionId}`, packageRoot: '' };
  }

  /** The next start of this connection (or of any of this account's) fails with `reason`. */
  failNext(connectionOrAccount: string, reason: string): void {
    this.plan(connectionOrAccount, { kind: 'fail', reason });
  }

  /** The next start of this connection (or account's) waits until `release()` (a slow deploy). */
  holdNext(connectionOrAccount: string): { release: () => void } {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    this.plan(connectionOrAccount, { kind: 'hold', gate });
    return { release };
  }

  async start(
    spec: SandboxSpec,
    _timeoutMs: number,
    hooks: SandboxHooks,
    signal: AbortSignal,
  ): Promise<SandboxHandle> {
    const plan = (
      this.plans.get(spec.connectionId)?.length
        ? this.plans.get(spec.connectionId)
        : this.plans.get(spec.accountId)
    )?.shift();
    if (plan?.kind === 'fail') throw new DeployError(plan.reason);
    // Like the real providers, a start gives up as soon as it is aborted.
    if (plan?.kind === 'hold')
      await Promise.race([
        plan.gate,
        new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve())),
      ]);
    if (signal.aborted) throw new DeployError('Cancelled.');
    const handle = new FakeHandle(spec, hooks, `fake-${++this.seq}`);
    this.handles.push(handle);
    return handle;
  }

  async adopt(
    connectionId: string,
    ref: string,
    _persistentStorage: boolean,
    hooks: SandboxHooks,
  ): Promise<SandboxHandle | null> {
    const found = this.handles.find((h) => h.ref === ref && h.spec.connectionId === connectionId);
    if (!found || found.stopped) return null;
    found.hooks = hooks;
    found.adoptions++;
    return found;
  }

  async discardFiles(connectionId: string): Promise<void> {
    this.discarded.push(connectionId);
  }

  async killOrphans(running: Set<string>, adopting = new Set<string>()): Promise<string[]> {
    const orphans = this.live().filter(
      (h) => !running.has(h.spec.connectionId) && !adopting.has(h.spec.connectionId),
    );
    for (const handle of orphans) {
      this.killed.push(handle.spec.connectionId);
      handle.stopped = true;
    }
    return orphans.map((h) => h.spec.connectionId);
  }

  /** Handles still running, all or of one connection. */
  live(connectionId?: string): FakeHandle[] {
    return this.handles.filter(
      (h) => !h.stopped && (connectionId === undefined || h.spec.connectionId === connectionId),
    );
  }

  startsOf(connectionId: string): number {
    return this.handles.filter((h) => h.spec.connectionId === connectionId).length;
  }

  /** What dies with the service's process (local sandboxes): every handle, with no exit reported. */
  dieWithProcess(): void {
    for (const handle of this.live()) handle.stopped = true;
  }

  private plan(key: string, plan: StartPlan): void {
    this.plans.set(key, [...(this.plans.get(key) ?? []), plan]);
  }
}

type StartPlan = { kind: 'fail'; reason: string } | { kind: 'hold'; gate: Promise<void> };

export class FakeHandle implements SandboxHandle {
  readonly isolation = 'bubblewrap' as const;
  readonly bridgeUrl: string;
  readonly ready = { serverInfo: { name: 'fake' }, protocolVersion: '2025-06-18', tools: 2 };
  stopped = false;
  /** Pings fail while set (a hung server); `true` fails at once, a number after that many ms. */
  pingFailure: string | undefined;
  activity = 0;
  adoptions = 0;
  stderr: string[] = [];

  constructor(
    readonly spec: SandboxSpec,
    public hooks: SandboxHooks,
    readonly ref: string,
  ) {
    this.bridgeUrl = `http://127.0.0.1:1/${ref}`;
  }

  async ping(): Promise<number> {
    if (this.stopped) throw new Error('connect ECONNREFUSED');
    if (this.pingFailure) throw new Error(this.pingFailure);
    return 1.5;
  }

  lastActivity(): number {
    return this.activity;
  }

  stderrTail(): string[] {
    return this.stderr;
  }

  /** Stopped by the platform: the exit follows, as a real server's does. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    setImmediate(() => this.hooks.onExit({ code: null, signal: 'SIGTERM' }));
  }

  /** The server dies on its own. */
  crash(exit: ExitInfo = { code: 1, signal: null }, stderr: string[] = []): void {
    this.stopped = true;
    this.stderr = stderr;
    this.hooks.onExit(exit);
  }
}
