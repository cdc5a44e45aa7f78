import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { DataSource, MoreThanOrEqual } from 'typeorm';
import { SANDBOX_CONFIG, type SandboxConfig } from '../config/env';
import { CLOCK, type Clock, type Timer } from './clock';
import { ReplicaEntity } from './replica.entity';

/**
 * This sandbox-service replica among those sharing one database (docs/lifecycle.md,
 * "Replicas"): its id, and a lease in Postgres renewed by a heartbeat every third of
 * REPLICA_LEASE_MS. A connection whose owner's lease has ended is adopted by another replica;
 * while the lease holds, no other replica touches what it runs.
 */
@Injectable()
export class Replicas implements OnApplicationShutdown {
  private readonly log = new Logger('Replicas');
  readonly id: string;
  private timer: Timer | undefined;
  private stopped = false;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(SANDBOX_CONFIG) private readonly config: SandboxConfig,
  ) {
    this.id = config.env.SANDBOX_REPLICA_ID ?? defaultReplicaId(config.dataDir);
  }

  get leaseMs(): number {
    return this.config.env.REPLICA_LEASE_MS;
  }

  /** Takes (or renews) this replica's lease and keeps it with a heartbeat. */
  async join(): Promise<void> {
    await this.renew(['started_at', 'lease_until']);
    this.log.log(`Replica ${this.id} joined (lease ${this.leaseMs / 1000} s)`);
    this.stopped = false;
    this.beat();
  }

  /** Renews the lease now. */
  async heartbeat(): Promise<void> {
    await this.renew(['lease_until']);
  }

  private async renew(columns: string[]): Promise<void> {
    const now = this.clock.now();
    await this.dataSource
      .createQueryBuilder()
      .insert()
      .into(ReplicaEntity)
      .values({ id: this.id, startedAt: new Date(now), leaseUntil: new Date(now + this.leaseMs) })
      .orUpdate(columns, ['id'])
      .execute();
  }

  /** The replicas whose lease holds now (this one included while its heartbeat runs). */
  async live(): Promise<Set<string>> {
    const rows = await this.dataSource.getRepository(ReplicaEntity).find({
      select: { id: true },
      where: { leaseUntil: MoreThanOrEqual(new Date(this.clock.now())) },
    });
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Connections that are this replica's business (held by it, by a replica whose lease ended, or
   * by none), and the ids of those another live replica holds: left alone, sandboxes included.
   */
  async split<T extends { id: string; ownerId: string | null }>(
    rows: T[],
  ): Promise<{ ours: T[]; elsewhere: Set<string> }> {
    const live = await this.live();
    const held = (row: T) =>
      row.ownerId !== null && row.ownerId !== this.id && live.has(row.ownerId);
    return {
      ours: rows.filter((row) => !held(row)),
      elsewhere: new Set(rows.filter(held).map((row) => row.id)),
    };
  }

  /** Stops the heartbeat without giving the lease up (what a crash looks like to the others). */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  /**
   * On shutdown: the lease ends now, so another replica adopts what outlives this process (E2B
   * sandboxes) at its next reconciliation instead of after the lease.
   */
  async onApplicationShutdown(): Promise<void> {
    this.stop();
    await this.dataSource
      .getRepository(ReplicaEntity)
      .update({ id: this.id }, { leaseUntil: new Date(this.clock.now() - 1) })
      .catch((error: unknown) => this.log.warn(`Could not give the lease up: ${String(error)}`));
  }

  private beat(): void {
    this.timer?.cancel();
    this.timer = this.clock.after(Math.floor(this.leaseMs / 3), () => {
      if (this.stopped) return;
      this.heartbeat()
        .catch((error: unknown) =>
          this.log.warn(`Heartbeat failed (the lease ends if this goes on): ${String(error)}`),
        )
        .finally(() => {
          if (!this.stopped) this.beat();
        });
    });
  }
}

/**
 * The id of a replica not given one: its host name and a digest of its DATA_DIR. The same on
 * every restart of the same replica (so it takes its own connections back at once); different
 * for two replicas on one host (their own DATA_DIRs) and for containers sharing one volume
 * (their own host names).
 */
export function defaultReplicaId(dataDir: string, host = hostname()): string {
  const name = host
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 40);
  const digest = createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 8);
  return `${name || 'replica'}-${digest}`;
}
