import {
  type DesiredState,
  DomainError,
  SandboxConnectionDeleted,
  SandboxConnectionStatusChanged,
} from '@athenic/contracts';
import { type EmitInTransaction, Outbox } from '@athenic/messaging';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager, IsNull } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { SANDBOX_CONFIG, type SandboxConfig } from '../config/env';
import { ConnectionEventEntity } from '../connections/connection-event.entity';
import { IDEMPOTENCY_TTL_MS } from '../connections/connection-store';
import { toView } from '../connections/connection-view';
import { ConnectionEntity } from '../connections/connection.entity';
import { IdempotencyKeyEntity } from '../connections/idempotency-key.entity';
import { CLOCK, type Clock } from './clock';
import { Replicas } from './replicas';
import {
  type LostCause,
  type ParamsOf,
  type TransitionContext,
  type TransitionDef,
  type TransitionName,
  TRANSITIONS,
} from './transitions';

/** What an install gives a new connection; the `installed` transition sets the rest. */
export interface NewConnection {
  id: string;
  accountId: string;
  mcpServerId: string;
  title: string;
  config: Record<string, any>;
  provider: ConnectionEntity['provider'];
}

export interface Guard {
  /** Only if no newer deploy attempt started since this one. */
  generation?: number;
  /** Only if the same replica (or none) still holds it: no other one took it over meanwhile. */
  owner?: string | null;
}

/**
 * How long a user operation (stop, start, replace credentials, delete, an idle stop) holds its
 * connection. It is released when the operation ends; a replica that dies mid-operation lets go
 * when this passes.
 */
export const OPERATION_LEASE_MS = 120_000;

/**
 * The one writer of connection state (docs/lifecycle.md). Every status change is a named
 * transition (transitions.ts), applied under a row lock: its source checked, its fields set, its
 * time and reason recorded, and exactly one `sandbox.connection.status-changed` event written in
 * the same transaction (outbox). The few writes that are not status changes (what the user wants,
 * the queue position, activity, deletion) are here too, so nothing else writes a connection row.
 */
@Injectable()
export class Lifecycle {
  private readonly log = new Logger('Lifecycle');

  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: Outbox,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(SANDBOX_CONFIG) private readonly config: SandboxConfig,
    private readonly replicas: Replicas,
  ) {}

  /**
   * Claims an install's idempotency key for the connection it determines: true when this install
   * holds it now, false when another one has it (running, or done: `ConnectionStore.idempotent`
   * tells which). Claimed before the credentials are stored for that connection, so two installs
   * with one key never both write them, nor one delete the other's when it fails.
   */
  async claimInstall(claim: {
    accountId: string;
    key: string;
    requestHash: string;
    connectionId: string;
  }): Promise<boolean> {
    const meta = this.dataSource.getMetadata(IdempotencyKeyEntity);
    const rows: unknown[] = await this.dataSource.query(
      `INSERT INTO "${meta.schema}"."${meta.tableName}" (account_id, key, request_hash, connection_id, response) VALUES ($1, $2, $3, $4, NULL) ON CONFLICT (account_id, key) DO NOTHING RETURNING key`,
      [claim.accountId, claim.key, claim.requestHash, claim.connectionId],
    );
    return rows.length === 1;
  }

  /** Lets go of a claim whose install did not make its connection (its record stays otherwise). */
  async releaseInstall(accountId: string, key: string, connectionId: string): Promise<void> {
    await this.dataSource
      .getRepository(IdempotencyKeyEntity)
      .delete({ accountId, key, connectionId, response: IsNull() });
  }

  /**
   * `installed`: creates a connection in mcpPending, with its idempotency record if any (the
   * install's claim, completed with the answer), within the account's cap (counted under an
   * account-wide lock, so it holds across replicas).
   */
  async install(
    fields: NewConnection,
    idempotency?: { key: string; requestHash: string },
    maxPerAccount?: number,
  ): Promise<ConnectionEntity> {
    return this.outbox.transaction(async (manager, emit) => {
      if (maxPerAccount !== undefined) {
        await manager.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
          `connections:${fields.accountId}`,
        ]);
        const count = await manager.countBy(ConnectionEntity, { accountId: fields.accountId });
        if (count >= maxPerAccount)
          throw new DomainError(
            'quota_exceeded',
            `This account has ${count} connections, the most it may have (MAX_CONNECTIONS_PER_ACCOUNT=${maxPerAccount}); delete one first.`,
          );
      }
      const def = TRANSITIONS.installed;
      const context = this.context();
      const now = context.now;
      const reason = def.reason(context);
      const row: QueryDeepPartialEntity<ConnectionEntity> = {
        ...fields,
        ...def.sets(context),
        status: def.to,
        statusReason: reason,
        desiredState: def.desired,
        generation: 0,
        lastActiveAt: null,
        createdAt: now,
        updatedAt: now,
      };
      await manager.insert(ConnectionEntity, row);
      const saved = await manager.findOneByOrFail(ConnectionEntity, { id: fields.id });
      if (idempotency) {
        const record: Omit<IdempotencyKeyEntity, 'createdAt'> = {
          accountId: fields.accountId,
          key: idempotency.key,
          requestHash: idempotency.requestHash,
          connectionId: fields.id,
          response: toView(saved),
        };
        const claimed = await manager.update(
          IdempotencyKeyEntity,
          {
            accountId: record.accountId,
            key: record.key,
            connectionId: record.connectionId,
            requestHash: record.requestHash,
            response: IsNull(),
          },
          { response: record.response as QueryDeepPartialEntity<Record<string, any>> },
        );
        // Unclaimed (or the claim was let go meanwhile): recorded now, unless another one was.
        if ((claimed.affected ?? 0) === 0)
          await manager.insert(
            IdempotencyKeyEntity,
            record as QueryDeepPartialEntity<IdempotencyKeyEntity>,
          );
      }
      await this.record(manager, emit, saved, null, reason, now);
      return saved;
    });
  }

  /**
   * Applies a transition the platform decided on (a deploy's result, a crash, the scheduler, the
   * reconciler). Returns the updated row, or null when the connection is gone, is not in one of
   * the transition's sources any more, or a newer deploy attempt started (`guard.generation`):
   * the world moved on, and this result no longer counts.
   */
  apply<N extends TransitionName>(
    id: string,
    name: N,
    params: ParamsOf<N>,
    guard: Guard = {},
  ): Promise<ConnectionEntity | null> {
    return this.write(id, name, params, guard, false);
  }

  /**
   * The sandbox of a deploying or running connection is gone (`cause`): `lost` (redeployed) when
   * its user wants it running, `lostWhileUnwanted` (stopped) when not.
   */
  lose(row: ConnectionEntity, cause: LostCause, guard: Guard): Promise<ConnectionEntity | null> {
    const name = row.desiredState === 'running' ? 'lost' : 'lostWhileUnwanted';
    return this.apply(row.id, name, { cause }, guard);
  }

  /**
   * Applies a transition a user asked for: not_found for another account's or a missing
   * connection, invalid_transition (with a sentence to act on) from a status it cannot start from.
   */
  async require<N extends TransitionName>(
    id: string,
    accountId: string | undefined,
    name: N,
    params: ParamsOf<N>,
  ): Promise<ConnectionEntity> {
    return (await this.write(id, name, params, { accountId }, true))!;
  }

  /** Throws invalid_transition when `name` cannot start from the connection's status now. */
  assertCan(row: ConnectionEntity, name: TransitionName): void {
    const def = TRANSITIONS[name] as TransitionDef<unknown>;
    if (!def.from.includes(row.status)) throw refused(def, row.status);
  }

  /**
   * Takes a running connection over from the replica that held it (gone, or this one before a
   * restart), to adopt its sandbox in place. False when another replica took it first or the
   * connection moved on.
   */
  async claim(row: ConnectionEntity): Promise<boolean> {
    if (row.ownerId === this.replicas.id) return true;
    const result = await this.dataSource
      .getRepository(ConnectionEntity)
      .createQueryBuilder()
      .update()
      .set({ ownerId: this.replicas.id, updatedAt: () => 'updated_at' })
      .where('id = :id AND status = :status AND generation = :generation', {
        id: row.id,
        status: 'mcpRunning',
        generation: row.generation,
      })
      .andWhere(row.ownerId === null ? 'owner_id IS NULL' : 'owner_id = :owner', {
        owner: row.ownerId,
      })
      .execute();
    const claimed = (result.affected ?? 0) > 0;
    if (claimed)
      this.log.log(`Connection ${row.id}: taken over from replica ${row.ownerId ?? '(none)'}`);
    return claimed;
  }

  /**
   * Runs a scheduling pass while no other replica runs one (a transaction-scoped advisory lock),
   * so slots counted at its start are still free when it hands them out: MAX_SANDBOXES and the
   * per-account limit hold across replicas.
   */
  async schedulingTurn<T>(work: () => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      await runner.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
        'sandbox:scheduling',
      ]);
      const result = await work();
      await runner.commitTransaction();
      return result;
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await runner.release();
    }
  }

  /** What the user wants (running or stopped), written before a stop is carried out. */
  async want(id: string, desired: DesiredState): Promise<void> {
    await this.dataSource
      .getRepository(ConnectionEntity)
      .update({ id }, { desiredState: desired, updatedAt: new Date(this.clock.now()) });
  }

  /** The reason of a connection still waiting in the queue (its position, why it waits). */
  async waiting(id: string, reason: string): Promise<void> {
    await this.dataSource
      .getRepository(ConnectionEntity)
      .update({ id, status: 'mcpPending' }, { statusReason: reason });
  }

  /** Records MCP use of connections (never moves it back in time); returns how many changed. */
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

  /** Removes the connection and its history; announces the deletion. */
  async remove(row: ConnectionEntity): Promise<void> {
    await this.outbox.transaction(async (manager, emit) => {
      await manager.delete(ConnectionEventEntity, { connectionId: row.id });
      await manager.delete(IdempotencyKeyEntity, { connectionId: row.id });
      await manager.delete(ConnectionEntity, { id: row.id });
      await emit(SandboxConnectionDeleted, {
        connection_id: row.id,
        account_id: row.accountId,
        at: new Date(this.clock.now()).toISOString(),
      });
    });
  }

  /** Forgets idempotency keys older than 24 hours; returns how many. */
  async purgeIdempotencyKeys(): Promise<number> {
    const result = await this.dataSource
      .getRepository(IdempotencyKeyEntity)
      .createQueryBuilder()
      .delete()
      .where('created_at <= :before', { before: new Date(this.clock.now() - IDEMPOTENCY_TTL_MS) })
      .execute();
    return result.affected ?? 0;
  }

  /**
   * Runs a user operation with the connection's lease held, on whichever replica it runs:
   * operation_in_progress while another one holds it, not_found when there is no such
   * connection (of this account).
   */
  async exclusively<T>(
    id: string,
    accountId: string | undefined,
    work: () => Promise<T>,
  ): Promise<T> {
    const result = await this.whenFree(id, work);
    if (result.ran) return result.value;
    const row = await this.dataSource.getRepository(ConnectionEntity).findOneBy({ id });
    if (!row || (accountId !== undefined && row.accountId !== accountId))
      throw new DomainError('not_found', `No connection ${id} exists.`);
    throw new DomainError(
      'operation_in_progress',
      'Another operation on this connection is still in progress; try again in a moment.',
    );
  }

  /** The same for the platform's own operations: skipped (ran: false) while another one holds it. */
  async whenFree<T>(
    id: string,
    work: () => Promise<T>,
  ): Promise<{ ran: true; value: T } | { ran: false }> {
    const operation = randomUUID();
    const now = this.clock.now();
    const claimed = await this.dataSource
      .getRepository(ConnectionEntity)
      .createQueryBuilder()
      .update()
      .set({
        operationId: operation,
        operationUntil: new Date(now + OPERATION_LEASE_MS),
        updatedAt: () => 'updated_at',
      })
      .where('id = :id', { id })
      .andWhere('(operation_until IS NULL OR operation_until < :now)', { now: new Date(now) })
      .execute();
    if ((claimed.affected ?? 0) === 0) return { ran: false };
    try {
      return { ran: true, value: await work() };
    } finally {
      await this.dataSource
        .getRepository(ConnectionEntity)
        .update(
          { id, operationId: operation },
          { operationId: null, operationUntil: null, updatedAt: () => 'updated_at' },
        )
        .catch((error: unknown) =>
          // The lease then ends on its own after OPERATION_LEASE_MS.
          this.log.warn(`Could not release the operation on ${id}: ${String(error)}`),
        );
    }
  }

  private async write<N extends TransitionName>(
    id: string,
    name: N,
    params: ParamsOf<N>,
    guard: Guard & { accountId?: string },
    strict: boolean,
  ): Promise<ConnectionEntity | null> {
    const def = TRANSITIONS[name] as TransitionDef<ParamsOf<N>>;
    const updated = await this.outbox.transaction(async (manager, emit) => {
      const row = await manager
        .getRepository(ConnectionEntity)
        .createQueryBuilder('c')
        .where('c.id = :id', { id })
        .setLock('pessimistic_write')
        .getOne();
      if (!row || (guard.accountId !== undefined && row.accountId !== guard.accountId)) {
        if (strict) throw new DomainError('not_found', `No connection ${id} exists.`);
        return null;
      }
      if (guard.generation !== undefined && row.generation !== guard.generation) return null;
      if (guard.owner !== undefined && row.ownerId !== guard.owner) return null;
      if (!def.from.includes(row.status)) {
        if (!strict) return null;
        throw refused(def, row.status);
      }
      const context = this.context();
      const reason = def.reason(context, params);
      const patch: QueryDeepPartialEntity<ConnectionEntity> = {
        ...def.sets(context, params),
        status: def.to,
        statusReason: reason,
        updatedAt: context.now,
        ...(def.desired ? { desiredState: def.desired } : {}),
        ...(def.newAttempt ? { generation: () => 'generation + 1' } : {}),
      };
      await manager.update(ConnectionEntity, { id }, patch);
      const saved = await manager.findOneByOrFail(ConnectionEntity, { id });
      await this.record(manager, emit, saved, row.status, reason, context.now);
      return saved;
    });
    if (updated)
      this.log.log(`Connection ${id}: ${name}, now ${updated.status} (${updated.statusReason})`);
    return updated;
  }

  private context(): TransitionContext {
    return {
      now: new Date(this.clock.now()),
      deployTimeoutMs: this.config.env.DEPLOY_TIMEOUT_MS,
      replica: this.replicas.id,
    };
  }

  private async record(
    manager: EntityManager,
    emit: EmitInTransaction,
    row: ConnectionEntity,
    from: ConnectionEntity['status'] | null,
    reason: string,
    at: Date,
  ): Promise<void> {
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
}

function refused(def: TransitionDef<any>, status: ConnectionEntity['status']): DomainError {
  return new DomainError(
    'invalid_transition',
    def.refusal?.(status) ?? `The connection is ${status}; it cannot become ${def.to}.`,
  );
}
