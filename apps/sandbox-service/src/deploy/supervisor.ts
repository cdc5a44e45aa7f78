import { isDatabaseUnavailable } from '@athenic/database';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { SANDBOX_CONFIG, type SandboxConfig } from '../config/env';
import { ConnectionStore } from '../connections/connection-store';
import { ConnectionsService } from '../connections/connections.service';
import { SANDBOX_PROVIDER, type SandboxProvider } from '../providers/sandbox-provider';
import { SandboxRuntime } from './sandbox-runtime';
import { Deployer } from './deployer';

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
    private readonly connections: ConnectionsService,
    private readonly deployer: Deployer,
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
        const started = Date.now();
        try {
          await entry.handle.ping(this.config.env.HEALTH_CHECK_TIMEOUT_MS);
          entry.failedPings = 0;
        } catch (error) {
          const failedFast = Date.now() - started < this.config.env.HEALTH_CHECK_TIMEOUT_MS / 2;
          entry.failedPings = (entry.failedPings ?? 0) + 1;
          this.log.warn(
            `Connection ${id}: MCP ping failed (${entry.failedPings} in a row): ${String(error)}`,
          );
          if (entry.failedPings >= FAILED_PINGS) {
            // A server that died is reported by its exit a moment later: that is the truer reason.
            const grace = Date.now() + (failedFast ? GONE_EXIT_GRACE_MS : EXIT_GRACE_MS);
            while (Date.now() < grace && this.runtime.get(id) === entry && !entry.unhealthy)
              await new Promise((resolve) => setTimeout(resolve, 100));
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
    const now = Date.now();
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
      await this.connections
        .stopIdle(id, idleMs)
        .catch((error: unknown) => this.log.warn(`Idle stop of ${id} skipped: ${String(error)}`));
    }
  }

  async reconcile(): Promise<void> {
    // What ran before the query: a deploy begun during this round is no stray.
    const before = new Map(this.runtime.entriesList().map(([id, e]) => [id, e.generation]));
    const rows = await this.store.inStatus(['mcpDeploying', 'mcpRunning']);
    const known = new Set(rows.map((r) => r.id));
    const adopting = new Set<string>();
    for (const row of rows) {
      const entry = this.runtime.get(row.id);
      if (
        row.status === 'mcpDeploying' &&
        row.deployDeadlineAt &&
        row.deployDeadlineAt.getTime() + DEADLINE_GRACE_MS < Date.now()
      ) {
        // Never a newer attempt than the row this round read.
        if (entry && entry.generation !== row.generation) continue;
        await this.runtime.stop(row.id);
        await this.store.transition(
          row.id,
          'mcpError',
          `Deploy timeout: the server was not running ${Math.round(this.config.env.DEPLOY_TIMEOUT_MS / 1000)} s after its deploy started.`,
          {
            from: ['mcpDeploying'],
            generation: row.generation,
            patch: { deployDeadlineAt: null },
          },
        );
        continue;
      }
      if (row.status !== 'mcpRunning' || entry?.handle) continue;
      // A sandbox that outlives restarts may still be there: take it back before redeploying.
      if (this.provider.survivesRestart && row.sandboxRef && row.desiredState === 'running') {
        const outcome = await this.deployer.adopt(row);
        if (outcome === 'adopted') continue;
        if (outcome === 'unavailable') {
          adopting.add(row.id);
          continue;
        }
      }
      await this.connections.requeueLost(row.id);
    }
    // Sandboxes this process runs for connections that are not deploying or running any more.
    for (const [id, generation] of before) {
      if (!known.has(id) && this.runtime.get(id)?.generation === generation) {
        this.log.warn(`Stopping a stray sandbox of connection ${id}`);
        await this.runtime.stop(id);
      }
    }
    const forgotten = await this.store.purgeIdempotencyKeys();
    if (forgotten > 0) this.log.log(`Forgot ${forgotten} idempotency key(s) older than 24 hours`);
    const killed = await this.provider.killOrphans(this.runtime.ids(), adopting);
    if (killed.length > 0)
      this.log.warn(`Killed ${killed.length} orphaned sandbox(es): ${killed.join(', ')}`);
  }

  onApplicationShutdown(): void {
    for (const timer of this.timers) clearInterval(timer);
  }
}
