import { isDatabaseUnavailable } from '@athenic/database';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { SANDBOX_CONFIG, type SandboxConfig } from '../config/env';
import { ConnectionStore } from '../connections/connection-store';
import { CLOCK, type Clock } from '../lifecycle/clock';
import { Lifecycle } from '../lifecycle/lifecycle';
import { Replicas } from '../lifecycle/replicas';
import { ACTIVE_STATUSES, type LostCause } from '../lifecycle/transitions';
import { LogStore } from '../logs/log-store';
import { SANDBOX_PROVIDER, type SandboxProvider } from '../providers/sandbox-provider';
import { Deployer } from './deployer';
import { SandboxRuntime } from './sandbox-runtime';
import { Scheduler } from './scheduler';

const FAILED_PINGS = 3;
const DEADLINE_GRACE_MS = 2000;
/** How long an exit may lag behind the pings it made fail (pings that timed out: a hang). */
const EXIT_GRACE_MS = 1500;
/**
 * The same when the pings failed at once (nothing listens any more: the bridge is gone and its
 * exit is on its way, slower through E2B's process stream on a busy host). Waiting ends as soon
 * as the exit is recorded.
 */
const GONE_EXIT_GRACE_MS = 10_000;

/**
 * Watches every connection over its whole life, on three clocks: MCP pings (three failures in a
 * row stop the server, which then counts as a crash), the idle reaper (unused for
 * IDLE_TIMEOUT_MS: stopped, desired state stopped), and reconciliation (deploys past their
 * deadline end in mcpError, vanished sandboxes are redeployed, strays and orphans are stopped).
 * With the database unreachable it does nothing destructive.
 */
@Injectable()
export class Supervisor implements OnApplicationShutdown {
  private readonly log = new Logger('Supervisor');
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly busy = new Set<string>();

  constructor(
    @Inject(SANDBOX_CONFIG) private readonly config: SandboxConfig,
    @Inject(SANDBOX_PROVIDER) private readonly provider: SandboxProvider,
    private readonly runtime: SandboxRuntime,
    private readonly store: ConnectionStore,
    private readonly lifecycle: Lifecycle,
    private readonly replicas: Replicas,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly deployer: Deployer,
    private readonly scheduler: Scheduler,
    private readonly logs: LogStore,
  ) {}

  start(): void {
    const { HEALTH_CHECK_INTERVAL_MS, IDLE_TIMEOUT_MS, RECONCILE_INTERVAL_MS } = this.config.env;
    this.every('health checks', HEALTH_CHECK_INTERVAL_MS, () => this.checkHealth());
    this.every('idle reaper', Math.max(250, Math.min(IDLE_TIMEOUT_MS / 4, 30000)), () =>
      this.reapIdle(),
    );
    this.every('reconciliation', RECONCILE_INTERVAL_MS, () => this.reconcile());
  }

  private every(name: string, ms: number, work: () => Promise<void>): void {
    const timer = setInterval(() => {
      if (this.busy.has(name)) return;
      this.busy.add(name);
      work()
        .catch((error: unknown) => {
          const reason = isDatabaseUnavailable(error)
            ? 'the database is unreachable; nothing was changed'
            : String(error);
          this.log.warn(`Skipped a round of ${name}: ${reason}`);
        })
        .finally(() => this.busy.delete(name));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  async checkHealth(): Promise<void> {
    await Promise.all(
      this.runtime.entriesList().map(async ([id, entry]) => {
        if (!entry.handle || entry.unhealthy) return;
        const started = this.clock.now();
        try {
          await entry.handle.ping(this.config.env.HEALTH_CHECK_TIMEOUT_MS);
          entry.failedPings = 0;
        } catch (error) {
          const failedFast =
            this.clock.now() - started < this.config.env.HEALTH_CHECK_TIMEOUT_MS / 2;
          entry.failedPings = (entry.failedPings ?? 0) + 1;
          this.log.warn(
            `Connection ${id}: MCP ping failed (${entry.failedPings} in a row): ${String(error)}`,
          );
          if (entry.failedPings >= FAILED_PINGS) {
            // A server that died is reported by its exit a moment later: that is the truer reason.
            const grace = this.clock.now() + (failedFast ? GONE_EXIT_GRACE_MS : EXIT_GRACE_MS);
            while (this.clock.now() < grace && this.runtime.get(id) === entry && !entry.unhealthy)
              await new Promise((resolve) => this.clock.after(100, () => resolve(undefined)));
            if (this.runtime.get(id) !== entry || entry.unhealthy) return;
            entry.unhealthy = `stopped answering MCP pings (${FAILED_PINGS} failed in a row)`;
            await entry.handle.stop();
          }
        }
      }),
    );
  }

  async reapIdle(): Promise<void> {
    const idleMs = this.config.env.IDLE_TIMEOUT_MS;
    const now = this.clock.now();
    for (const [id, entry] of this.runtime.entriesList()) {
      if (!entry.handle) continue;
      const row = await this.store.findOptional(id);
      if (!row || row.status !== 'mcpRunning') continue;
      const lastUse = Math.max(
        entry.handle.lastActivity(),
        row.lastActiveAt?.getTime() ?? 0,
        row.runningSince?.getTime() ?? 0,
      );
      if (now - lastUse < idleMs) continue;
      await this.stopIdle(id, idleMs).catch((error: unknown) =>
        this.log.warn(`Idle stop of ${id} skipped: ${String(error)}`),
      );
    }
  }

  /** Stops a connection unused for IDLE_TIMEOUT_MS (unless a user operation is under way on it). */
  private async stopIdle(id: string, idleMs: number): Promise<void> {
    await this.lifecycle.whenFree(id, async () => {
      const row = await this.store.findOptional(id);
      if (row?.status !== 'mcpRunning') return;
      await this.lifecycle.want(row.id, 'stopped');
      await this.runtime.release(row);
      const stopped = await this.lifecycle.apply(row.id, 'idleStop', { idleMs });
      if (stopped) this.logs.append(row.id, 'system', stopped.statusReason);
      this.scheduler.kick();
    });
  }

  /**
   * A connection the database says is deploying or runs has no sandbox here (it vanished, or
   * the replica that held it is gone): redeployed when its user wants it running, else marked
   * stopped. Skipped while a user operation (a stop, a delete) is under way on it: that one
   * decides.
   */
  private async requeueLost(id: string, cause: LostCause, owner: string | null): Promise<void> {
    await this.lifecycle.whenFree(id, async () => {
      const row = await this.store.findOptional(id);
      if (!row || !ACTIVE_STATUSES.includes(row.status)) return;
      const entry = this.runtime.get(id);
      if (row.status === 'mcpRunning' ? entry?.handle : entry) return;
      // Unless another replica took it over since this round read it.
      await this.lifecycle.lose(row, cause, { generation: row.generation, owner });
      this.scheduler.kick();
    });
  }

  /**
   * A connection changed (on any replica): if this process runs a sandbox for it that it no
   * longer holds (stopped, deleted, or redeployed by another replica), that sandbox stops now
   * rather than at the next reconciliation.
   */
  async releaseIfNotHeld(id: string): Promise<void> {
    const entry = this.runtime.get(id);
    if (!entry) return;
    const row = await this.store.findOptional(id);
    const held =
      row !== null &&
      ACTIVE_STATUSES.includes(row.status) &&
      row.ownerId === this.replicas.id &&
      row.generation === entry.generation;
    if (held || this.runtime.get(id) !== entry) return;
    this.log.warn(`Stopping the sandbox of connection ${id}: this replica no longer holds it`);
    await this.runtime.release(row ?? { id, config: {} }, { discardFiles: row === null });
  }

  /**
   * Compares the database with what runs, for the connections this replica holds and those
   * whose replica is gone (never those another live replica holds): deploys past their deadline
   * fail, sandboxes that outlive their process are adopted in place, lost ones are redeployed,
   * sandboxes this process runs for connections it no longer holds are stopped, and sandboxes
   * no live replica claims are killed.
   */
  async reconcile(): Promise<void> {
    // What ran before the query: a deploy begun during this round is no stray.
    const before = new Map(this.runtime.entriesList().map(([id, e]) => [id, e.generation]));
    const { ours: rows, elsewhere: heldElsewhere } = await this.replicas.split(
      await this.store.inStatus(['mcpDeploying', 'mcpRunning']),
    );
    const ours = new Set(rows.map((row) => row.id));
    const adopting = new Set<string>();
    for (const row of rows) {
      const entry = this.runtime.get(row.id);
      // Held by a replica that is gone (or by no one): nothing of it runs in this process.
      const abandoned = row.ownerId !== this.replicas.id;
      if (row.status === 'mcpDeploying') {
        if (abandoned && !entry) {
          await this.requeueLost(row.id, 'replica-gone', row.ownerId);
        } else if (
          row.deployDeadlineAt &&
          row.deployDeadlineAt.getTime() + DEADLINE_GRACE_MS < this.clock.now() &&
          // Never a newer attempt than the row this round read.
          (!entry || entry.generation === row.generation)
        ) {
          await this.runtime.stop(row.id);
          await this.lifecycle.apply(row.id, 'deadlinePassed', undefined, {
            generation: row.generation,
          });
        }
        continue;
      }
      if (entry?.handle) continue;
      // A sandbox that outlives its process may still be there: take it over before redeploying.
      if (this.provider.survivesRestart && row.sandboxRef && row.desiredState === 'running') {
        const outcome = await this.deployer.adopt(row);
        if (outcome === 'adopted') continue;
        if (outcome === 'elsewhere') {
          heldElsewhere.add(row.id);
          continue;
        }
        if (outcome === 'unavailable') {
          adopting.add(row.id);
          continue;
        }
      }
      await this.requeueLost(row.id, abandoned ? 'replica-gone' : 'vanished', row.ownerId);
    }
    // Sandboxes this process runs for connections it does not hold any more (stopped, deleted,
    // or redeployed by another replica).
    for (const [id, generation] of before) {
      if (!ours.has(id) && this.runtime.get(id)?.generation === generation) {
        this.log.warn(`Stopping a stray sandbox of connection ${id}`);
        await this.runtime.stop(id);
      }
    }
    const forgotten = await this.lifecycle.purgeIdempotencyKeys();
    if (forgotten > 0) this.log.log(`Forgot ${forgotten} idempotency key(s) older than 24 hours`);
    await this.runtime.killOrphans([...adopting, ...heldElsewhere]);
  }

  onApplicationShutdown(): void {
    for (const timer of this.timers) clearInterval(timer);
  }
}
