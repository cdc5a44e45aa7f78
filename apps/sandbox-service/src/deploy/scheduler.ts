import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { SANDBOX_CONFIG, type SandboxConfig } from '../config/env';
import { ConnectionStore } from '../connections/connection-store';
import { Lifecycle } from '../lifecycle/lifecycle';
import { Deployer } from './deployer';

const TICK_MS = 2000;

/**
 * Hands sandbox slots to pending connections in the order they queued, within MAX_SANDBOXES and
 * MAX_SANDBOXES_PER_ACCOUNT. Those that must wait stay mcpPending with their queue position in
 * the reason; they never fail for lack of room.
 */
@Injectable()
export class Scheduler implements OnApplicationShutdown {
  private readonly log = new Logger('Scheduler');
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    @Inject(SANDBOX_CONFIG) private readonly config: SandboxConfig,
    private readonly store: ConnectionStore,
    private readonly lifecycle: Lifecycle,
    private readonly deployer: Deployer,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.kick(), TICK_MS);
    this.timer.unref();
    this.kick();
  }

  /** Looks for work now (one pass at a time; a kick during a pass runs another after it). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.tick()
      .catch((error: unknown) =>
        this.log.warn(
          `Scheduling pass failed, will retry: ${error instanceof Error ? error.message : String(error)}`,
        ),
      )
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Resolves once no pass runs and none is asked for (the kicks made so far are done). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  /** One pass: slots to the longest waiting, queue positions to the others. */
  async tick(): Promise<void> {
    await this.lifecycle.schedulingTurn(() => this.pass());
  }

  private async pass(): Promise<void> {
    const pending = await this.store.inStatus(['mcpPending']);
    if (pending.length === 0) return;
    const { MAX_SANDBOXES: max, MAX_SANDBOXES_PER_ACCOUNT: perAccount } = this.config.env;
    const counts = await this.store.activeCounts();
    const byAccount = counts.byAccount;
    let total = counts.total;
    let position = 0;
    for (const connection of pending) {
      if (this.stopped) return;
      const used = byAccount.get(connection.accountId) ?? 0;
      if (total < max && used < perAccount) {
        const deploying = await this.lifecycle.apply(connection.id, 'scheduled', undefined);
        if (!deploying) continue;
        total++;
        byAccount.set(connection.accountId, used + 1);
        this.deployer.begin(deploying);
        continue;
      }
      position++;
      const why =
        total >= max
          ? `all ${max} sandbox slots of the platform are in use`
          : `the account already runs its limit of ${perAccount} sandboxes`;
      const reason = `Waiting for a sandbox slot: position ${position} in the queue (${why}); it starts by itself when one frees up.`;
      if (connection.statusReason !== reason) await this.lifecycle.waiting(connection.id, reason);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
