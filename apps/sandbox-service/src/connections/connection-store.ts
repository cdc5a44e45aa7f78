import { type ConnectionStatus, DomainError } from '@athenic/contracts';
import { Injectable } from '@nestjs/common';
import { DataSource, In } from 'typeorm';
import { ConnectionEventEntity } from './connection-event.entity';
import { ConnectionEntity } from './connection.entity';
import { IdempotencyKeyEntity } from './idempotency-key.entity';

/** How long an install's Idempotency-Key is remembered. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * Reads of the connections table and its history. Every write of a connection goes through
 * `Lifecycle` (lifecycle/lifecycle.ts), the one writer of connection state.
 */
@Injectable()
export class ConnectionStore {
  constructor(private readonly dataSource: DataSource) {}

  async find(id: string, accountId?: string): Promise<ConnectionEntity> {
    const row = await this.dataSource.getRepository(ConnectionEntity).findOneBy({ id });
    if (!row || (accountId !== undefined && row.accountId !== accountId)) {
      throw new DomainError('not_found', `No connection ${id} exists.`);
    }
    return row;
  }

  findOptional(id: string): Promise<ConnectionEntity | null> {
    return this.dataSource.getRepository(ConnectionEntity).findOneBy({ id });
  }

  list(accountId: string): Promise<ConnectionEntity[]> {
    return this.dataSource
      .getRepository(ConnectionEntity)
      .find({ where: { accountId }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  inStatus(statuses: ConnectionStatus[]): Promise<ConnectionEntity[]> {
    return this.dataSource
      .getRepository(ConnectionEntity)
      .find({ where: { status: In(statuses) }, order: { queuedAt: 'ASC', createdAt: 'ASC' } });
  }

  async events(id: string): Promise<ConnectionEventEntity[]> {
    return this.dataSource
      .getRepository(ConnectionEventEntity)
      .find({ where: { connectionId: id }, order: { id: 'ASC' } });
  }

  /** The first answer to an install with this key, if it is younger than 24 hours. */
  async idempotent(accountId: string, key: string): Promise<IdempotencyKeyEntity | null> {
    const repository = this.dataSource.getRepository(IdempotencyKeyEntity);
    const earlier = await repository.findOneBy({ accountId, key });
    if (earlier && earlier.createdAt.getTime() <= Date.now() - IDEMPOTENCY_TTL_MS) {
      await repository.delete({ accountId, key });
      return null;
    }
    return earlier;
  }

  /** Counts of connections holding a sandbox slot, overall and per account. */
  async activeCounts(): Promise<{ total: number; byAccount: Map<string, number> }> {
    const meta = this.dataSource.getMetadata(ConnectionEntity);
    const rows: { account_id: string; n: string }[] = await this.dataSource.query(
      `SELECT account_id, count(*) AS n FROM "${meta.schema}"."${meta.tableName}" WHERE status IN ('mcpDeploying', 'mcpRunning') GROUP BY account_id`,
    );
    const byAccount = new Map(rows.map((r) => [r.account_id, Number(r.n)]));
    return { total: [...byAccount.values()].reduce((a, b) => a + b, 0), byAccount };
  }
}
