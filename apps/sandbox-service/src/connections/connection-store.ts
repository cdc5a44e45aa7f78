import {
  type ConnectionStatus,
  DomainError,
  SandboxConnectionDeleted,
  SandboxConnectionStatusChanged,
} from '@athenic/contracts';
import { Outbox } from '@athenic/messaging';
import { Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager, In } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { ConnectionEventEntity } from './connection-event.entity';
import { ConnectionEntity } from './connection.entity';
import { IdempotencyKeyEntity } from './idempotency-key.entity';
import { toView } from './connection-view';
import { assertTransition } from './lifecycle';

export interface TransitionOptions {
  /** Only if the connection is still in one of these states (else nothing happens). */
  from?: readonly ConnectionStatus[];
  /** Only if no newer deploy attempt started since. */
  generation?: number;
  patch?: QueryDeepPartialEntity<ConnectionEntity>;
}

/** How long an install's Idempotency-Key is remembered. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * The connections table and its history. Every status change goes through `transition`: the
 * row is locked, the change checked against the lifecycle table, persisted with its time and
 * reason, and announced by exactly one `sandbox.connection.status-changed` event (outbox).
 */
@Injectable()
export class ConnectionStore {
  private readonly log = new Logger('Connections');

  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: Outbox,
  ) {}

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

  /** Creates a connection in mcpPending (its first event), with its idempotency record if any. */
  async create(
    row: ConnectionEntity,
    reason: string,
    idempotency?: { key: string; requestHash: string },
    maxPerAccount?: number,
  ): Promise<ConnectionEntity> {
    return this.outbox.transaction(async (manager, emit) => {
      assertTransition(null, row.status);
      if (maxPerAccount !== undefined) {
        // One install of an account at a time past this point, so the count holds across
        // concurrent installs and every replica.
        await manager.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
          `connections:${row.accountId}`,
        ]);
        const count = await manager.countBy(ConnectionEntity, { accountId: row.accountId });
        if (count >= maxPerAccount)
          throw new DomainError(
            'quota_exceeded',
            `This account has ${count} connections, the most it may have (MAX_CONNECTIONS_PER_ACCOUNT=${maxPerAccount}); delete one first.`,
          );
      }
      await manager.insert(ConnectionEntity, row as QueryDeepPartialEntity<ConnectionEntity>);
      const saved = await manager.findOneByOrFail(ConnectionEntity, { id: row.id });
      if (idempotency) {
        const record: Omit<IdempotencyKeyEntity, 'createdAt'> = {
          accountId: row.accountId,
          key: idempotency.key,
          requestHash: idempotency.requestHash,
          connectionId: row.id,
          response: toView(saved),
        };
        await manager.insert(
          IdempotencyKeyEntity,
          record as QueryDeepPartialEntity<IdempotencyKeyEntity>,
        );
      }
      await this.recordTransition(manager, emit, saved, null, reason);
      return saved;
    });
  }

  /** Moves a connection to `to`; returns the updated row, or null when a guard did not hold. */
  async transition(
    id: string,
    to: ConnectionStatus,
    reason: string,
    options: TransitionOptions = {},
  ): Promise<ConnectionEntity | null> {
    const updated = await this.outbox.transaction(async (manager, emit) => {
      const row = await this.lock(manager, id);
      if (!row) return null;
      if (options.generation !== undefined && row.generation !== options.generation) return null;
      if (options.from && !options.from.includes(row.status)) return null;
      assertTransition(row.status, to);
      const from = row.status;
      await manager.update(
        ConnectionEntity,
        { id },
        { ...(options.patch ?? {}), status: to, statusReason: reason, updatedAt: new Date() },
      );
      const saved = await manager.findOneByOrFail(ConnectionEntity, { id });
      await this.recordTransition(manager, emit, saved, from, reason);
      return saved;
    });
    if (updated) this.log.log(`Connection ${id}: ${updated.status} (${reason})`);
    return updated;
  }

  /** Changes fields without a status change (desired state, queue position, activity). */
  async patch(id: string, patch: QueryDeepPartialEntity<ConnectionEntity>): Promise<void> {
    await this.dataSource.getRepository(ConnectionEntity).update({ id }, patch);
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

  /** Forgets idempotency keys older than 24 hours; returns how many. */
  async purgeIdempotencyKeys(): Promise<number> {
    const result = await this.dataSource
      .getRepository(IdempotencyKeyEntity)
      .createQueryBuilder()
      .delete()
      .where('created_at <= :before', { before: new Date(Date.now() - IDEMPOTENCY_TTL_MS) })
      .execute();
    return result.affected ?? 0;
  }

  /** Removes the connection and its history; announces the deletion. */
  async remove(row: ConnectionEntity): Promise<void> {
    await this.outbox.transaction(async (manager, emit) => {
      await manager.delete(ConnectionEventEntity, { connectionId: row.id });
      await manager.delete(IdempotencyKeyEntity, { connectionId: row.id });
      await manager.delete(ConnectionEntity, { id: row.id });
      await emit(SandboxConnectionDeleted, {
        connection_id: row.id,
        account_id: row.accountId,
        at: new Date().toISOString(),
      });
    });
  }

  async touch(ids: string[], at: Date): Promise<number> {
    if (ids.length === 0) return 0;
    const result = await this.dataSource
      .getRepository(ConnectionEntity)
      .createQueryBuilder()
      .update()
      .set({ lastActiveAt: at, updatedAt: () => 'updated_at' })
      .where('id IN (:...ids)', { ids })
      .andWhere('(last_active_at IS NULL OR last_active_at < :at)', { at })
      .execute();
    return result.affected ?? 0;
  }

  /** Counts of connections holding a sandbox slot, overall and per account. */
  async activeCounts(): Promise<{ total: number; byAccount: Map<string, number> }> {
    const rows: { account_id: string; n: string }[] = await this.dataSource.query(
      `SELECT account_id, count(*) AS n FROM ${this.table()} WHERE status IN ('mcpDeploying', 'mcpRunning') GROUP BY account_id`,
    );
    const byAccount = new Map(rows.map((r) => [r.account_id, Number(r.n)]));
    return { total: [...byAccount.values()].reduce((a, b) => a + b, 0), byAccount };
  }

  private lock(manager: EntityManager, id: string): Promise<ConnectionEntity | null> {
    return manager
      .getRepository(ConnectionEntity)
      .createQueryBuilder('c')
      .where('c.id = :id', { id })
      .setLock('pessimistic_write')
      .getOne();
  }

  private async recordTransition(
    manager: EntityManager,
    emit: Parameters<Parameters<Outbox['transaction']>[0]>[1],
    row: ConnectionEntity,
    from: ConnectionStatus | null,
    reason: string,
  ): Promise<void> {
    const at = new Date();
    await manager.insert(ConnectionEventEntity, {
      connectionId: row.id,
      at,
      fromStatus: from,
      toStatus: row.status,
      reason,
    });
    await emit(SandboxConnectionStatusChanged, {
      connection_id: row.id,
      account_id: row.accountId,
      from,
      to: row.status,
      reason,
      desired_state: row.desiredState,
      at: at.toISOString(),
    });
  }

  private table(): string {
    const meta = this.dataSource.getMetadata(ConnectionEntity);
    return `"${meta.schema}"."${meta.tableName}"`;
  }
}
