import { type ConnectionStatus, DomainError } from '@athenic/contracts';
import { Injectable } from '@nestjs/common';
import { DataSource, In, IsNull, LessThanOrEqual } from 'typeorm';
import { ConnectionEventEntity } from './connection-event.entity';
import { ConnectionEntity } from './connection.entity';
import { IdempotencyKeyEntity } from './idempotency-key.entity';

/** How long an install's Idempotency-Key is remembered. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * When an install's claim on its key (a record without an answer yet) is taken for abandoned: its
 * replica died mid-install. Far beyond an install's own work (a credential store times out after
 * 10 s), so an install still running is never taken over.
 */
export const INSTALL_CLAIM_STALE_MS = 60_000;

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

  /**
   * The first answer to an install with this key, if it is younger than 24 hours; or the claim of
   * the install with this key that is still running (`response` null). An abandoned claim
   * (`INSTALL_CLAIM_STALE_MS`) is forgotten like an expired answer.
   */
  async idempotent(accountId: string, key: string): Promise<IdempotencyKeyEntity | null> {
    const repository = this.dataSource.getRepository(IdempotencyKeyEntity);
    const earlier = await repository.findOneBy({ accountId, key });
    if (!earlier) return null;
    const now = Date.now();
    const expired = earlier.createdAt.getTime() <= now - IDEMPOTENCY_TTL_MS;
    const abandoned =
      earlier.response === null && earlier.createdAt.getTime() <= now - INSTALL_CLAIM_STALE_MS;
    if (!expired && !abandoned) return earlier;
    // Only as old as it was seen: a claim made meanwhile by another install stays.
    const before = new Date(now - (expired ? IDEMPOTENCY_TTL_MS : INSTALL_CLAIM_STALE_MS));
    await repository.delete({
      accountId,
      key,
      createdAt: LessThanOrEqual(before),
      ...(expired ? {} : { response: IsNull() }),
    });
    return null;
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
