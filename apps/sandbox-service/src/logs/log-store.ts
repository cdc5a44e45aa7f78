import { type ConnectionLogList, LOG_STREAMS } from '@athenic/contracts';
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ConnectionLogEntity } from './connection-log.entity';

export type LogStreamName = (typeof LOG_STREAMS)[number];

const FLUSH_MS = 250;
const MAX_LINE = 4000;
/** Lines kept per connection; older ones are pruned. */
export const LOG_LINES_KEPT = 1000;

/**
 * The output of every connection's server and its lifecycle lines, written in batches, bounded
 * per connection. Callers mask secrets before a line gets here.
 */
@Injectable()
export class LogStore implements OnApplicationShutdown {
  private readonly log = new Logger('LogStore');
  private buffer: Omit<ConnectionLogEntity, 'id'>[] = [];
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private lastPrune = 0;

  constructor(private readonly dataSource: DataSource) {}

  append(connectionId: string, stream: LogStreamName, line: string): void {
    this.buffer.push({
      connectionId,
      stream,
      line: line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line,
      at: new Date(),
    });
    this.dirty.add(connectionId);
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  async flush(): Promise<void> {
    this.timer = undefined;
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.flushing.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.dataSource.getRepository(ConnectionLogEntity).insert(batch);
        if (Date.now() - this.lastPrune > 10_000) await this.prune();
      } catch (error) {
        // Logs are best effort: a database hiccup loses these lines, never the connection.
        this.log.warn(
          `Dropped ${batch.length} log line(s): ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    });
    await this.flushing;
  }

  private async prune(): Promise<void> {
    this.lastPrune = Date.now();
    const ids = [...this.dirty];
    this.dirty.clear();
    const table = this.table();
    for (const id of ids) {
      await this.dataSource.query(
        `DELETE FROM ${table} WHERE connection_id = $1 AND id < (SELECT min(id) FROM (SELECT id FROM ${table} WHERE connection_id = $1 ORDER BY id DESC LIMIT ${LOG_LINES_KEPT}) AS kept)`,
        [id],
      );
    }
  }

  async tail(connectionId: string, count: number): Promise<ConnectionLogList> {
    await this.flush();
    const rows = await this.dataSource
      .getRepository(ConnectionLogEntity)
      .find({ where: { connectionId }, order: { id: 'DESC' }, take: count });
    return {
      data: rows.reverse().map((r) => ({ at: r.at.toISOString(), stream: r.stream, line: r.line })),
    };
  }

  async remove(connectionId: string): Promise<void> {
    await this.flush();
    await this.dataSource.getRepository(ConnectionLogEntity).delete({ connectionId });
  }

  private table(): string {
    const meta = this.dataSource.getMetadata(ConnectionLogEntity);
    return `"${meta.schema}"."${meta.tableName}"`;
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.flush();
  }
}
