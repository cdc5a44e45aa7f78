import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { SANDBOX_CONFIG, type SandboxConfig } from '../config/env';
import { ConnectionStore } from '../connections/connection-store';
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

  private async tick(): Promise<void> {
    const pending = await this.store.inStatus(['mcpPending']);
    if (pending.length === 0) return;
    const {
      MAX_SANDBOXES: max,
      MAX_SANDBOXES_PER_ACCOUNT: perAccount,
      DEPLOY_TIMEOUT_MS: deployTimeout,
    } = this.config.env;
    const counts = await this.store.activeCounts();
    const byAccount = counts.byAccount;
    let total = counts.total;
    let position = 0;
    for (const connection of pending) {
      if (this.stopped) return;
      const used = byAccount.get(connection.accountId) ?? 0;
      if (total < max && used < perAccount) {
        const deploying = await this.store.transition(
          connection.id,
          'mcpDeploying',
          'Deploying: starting the server in its sandbox.',
          {
            from: ['mcpPending'],
            patch: {
              generation: () => 'generation + 1',
              deployDeadlineAt: new Date(Date.now() + deployTimeout),
              queuedAt: null,
              bridgeUrl: null,
              sandboxRef: null,
            },
          },
        );
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
      if (connection.statusReason !== reason)
        await this.store.patch(connection.id, { statusReason: reason });
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
