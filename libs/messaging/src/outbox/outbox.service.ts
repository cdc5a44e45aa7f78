import { type EventDef, type PayloadOf, SERVICE_OF_OWNER } from '@athenic/contracts';
import { currentCorrelationId } from '@athenic/logging';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { BusClient } from '../bus-client';
import type { BusOptions } from '../bus-options';
import { BUS_OPTIONS } from '../bus.module';
import { OutboxMessageEntity } from './outbox-message.entity';

export type EmitInTransaction = <D extends EventDef<string, any>>(
  def: D,
  payload: PayloadOf<D>,
) => Promise<void>;

const BATCH = 100;
const POLL_MS = 1000;

/**
 * Events that cannot be lost: written in the same transaction as the change they announce, then
 * published (with the broker's confirm) and deleted. A crash between commit and publish only
 * delays the event; a publish whose delete failed is sent again (consumers are idempotent).
 */
@Injectable()
export class Outbox implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Outbox');
  private readonly table: string;
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private again = false;
  private failing = false;
  private stopped = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly bus: BusClient,
    @Inject(BUS_OPTIONS) private readonly options: BusOptions,
  ) {
    const schema = (dataSource.options as { schema?: string }).schema ?? 'public';
    this.table = `"${schema}"."outbox"`;
  }

  /** Runs `work` in a transaction; events it emits are published once it commits. */
  async transaction<T>(
    work: (manager: EntityManager, emit: EmitInTransaction) => Promise<T>,
  ): Promise<T> {
    const result = await this.dataSource.transaction(async (manager) =>
      work(manager, (def, payload) => this.add(manager, def, payload)),
    );
    this.kick();
    return result;
  }

  private async add<D extends EventDef<string, any>>(
    manager: EntityManager,
    def: D,
    payload: PayloadOf<D>,
  ): Promise<void> {
    if (def.owner !== this.options.owner) {
      throw new Error(
        `${SERVICE_OF_OWNER[this.options.owner]} may not emit ${def.name}, owned by ${SERVICE_OF_OWNER[def.owner]}`,
      );
    }
    await manager.insert(OutboxMessageEntity, {
      name: def.name,
      payload: payload as object,
      correlationId: currentCorrelationId() ?? null,
    });
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.kick(), POLL_MS);
    this.timer.unref();
    this.kick();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.draining;
  }

  /** Publishes what is waiting; safe to call any time, runs one drain at a time. */
  kick(): void {
    if (this.stopped) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      let published: number;
      do {
        published = await this.publishBatch();
      } while (published === BATCH && !this.stopped);
      if (this.failing) this.log.log('Publishing events again');
      this.failing = false;
    } catch (error) {
      // Broker or database down: the events stay in the table and go out on a later tick.
      if (!this.failing)
        this.log.warn(
          `Cannot publish events yet, will retry: ${error instanceof Error ? error.message : String(error)}`,
        );
      this.failing = true;
    }
  }

  private publishBatch(): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
      const rows: { seq: string; name: string; payload: unknown; correlation_id: string | null }[] =
        await manager.query(
          `SELECT seq, name, payload, correlation_id FROM ${this.table} ORDER BY seq LIMIT ${BATCH} FOR UPDATE SKIP LOCKED`,
        );
      for (const row of rows) {
        await this.bus.publishEvent(row.name, row.payload, row.correlation_id ?? undefined);
      }
      if (rows.length > 0)
        await manager.query(`DELETE FROM ${this.table} WHERE seq = ANY($1)`, [
          rows.map((r) => r.seq),
        ]);
      return rows.length;
    });
  }
}
