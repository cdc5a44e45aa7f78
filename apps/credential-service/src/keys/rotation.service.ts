import { DomainError, type KeyStatusReply } from '@athenic/contracts';
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { rewrap } from '../crypto/envelope';
import { CredentialSetEntity, bindingOf } from '../store/credential-set.entity';
import { KeyVersionEntity } from './key-version.entity';
import { KeyringService } from './keyring.service';
import { RotationEntity } from './rotation.entity';
import { TransportKeyEntity, transportKeyBinding } from './transport-key.entity';

const BATCH = 100;

/**
 * Online rotation: every data key is re-wrapped under the current master key in small
 * transactions while the service keeps serving. Each row is re-wrapped at most once (it is
 * skipped once on the target version), so a rotation is idempotent and resumes after a crash
 * where it stopped.
 */
@Injectable()
export class RotationService implements OnApplicationShutdown {
  private readonly log = new Logger('Rotation');
  private running: Promise<void> | undefined;
  private stopping = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly keys: KeyringService,
    private readonly audit: AuditService,
  ) {}

  /** Starts a rotation to the current key, or joins the one already running. */
  async start(actor: string): Promise<KeyStatusReply> {
    const target = this.keys.current.version;
    const rotation = await this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['credential-rotation']);
      const running = await manager.findOne(RotationEntity, {
        where: { status: 'running' },
        order: { startedAt: 'DESC' },
      });
      if (running && running.targetVersion === target) return running;
      if (running)
        await manager.update(
          RotationEntity,
          { id: running.id },
          {
            status: 'failed',
            error: `superseded by a rotation to v${target}`,
            finishedAt: new Date(),
          },
        );
      const total = await this.remaining(manager, target);
      const created = manager.create(RotationEntity, {
        id: randomUUID(),
        targetVersion: target,
        status: 'running',
        total,
        done: 0,
        error: null,
        startedBy: actor,
        startedAt: new Date(),
        finishedAt: null,
      });
      await manager.insert(RotationEntity, created);
      await this.audit.record(
        {
          actor,
          action: 'keys.rotation-started',
          subject: created.id,
          details: { target_version: target, total },
        },
        manager,
      );
      return created;
    });
    this.kick(rotation.id);
    return this.status();
  }

  /** At start: a rotation interrupted by a crash carries on. */
  resume(): void {
    void this.dataSource
      .getRepository(RotationEntity)
      .findOne({ where: { status: 'running' }, order: { startedAt: 'DESC' } })
      .then((rotation) => {
        if (rotation) {
          this.log.log(
            `Resuming rotation ${rotation.id} to v${rotation.targetVersion} (${rotation.done}/${rotation.total})`,
          );
          this.kick(rotation.id);
        }
      });
  }

  async status(): Promise<KeyStatusReply> {
    const counts: { key_version: number; n: string }[] = await this.dataSource.query(
      `SELECT key_version, count(*) AS n FROM (SELECT key_version FROM ${this.table(CredentialSetEntity)} UNION ALL SELECT key_version FROM ${this.table(TransportKeyEntity)}) AS k GROUP BY key_version`,
    );
    const byVersion = new Map(counts.map((c) => [Number(c.key_version), Number(c.n)]));
    const retired = await this.dataSource.getRepository(KeyVersionEntity).find();
    const versions = new Set([
      ...this.keys.keyring.versions(),
      ...retired.map((r) => r.version),
      ...byVersion.keys(),
    ]);
    const latest = await this.dataSource
      .getRepository(RotationEntity)
      .find({ order: { startedAt: 'DESC' }, take: 1 });
    return {
      current_version: this.keys.current.version,
      versions: [...versions]
        .sort((a, b) => a - b)
        .map((version) => ({
          version,
          status:
            version === this.keys.current.version
              ? 'current'
              : this.keys.isRetired(version)
                ? 'retired'
                : 'active',
          credential_sets: byVersion.get(version) ?? 0,
        })),
      rotation: latest[0]
        ? {
            id: latest[0].id,
            target_version: latest[0].targetVersion,
            status: latest[0].status,
            total: latest[0].total,
            done: latest[0].done,
            error: latest[0].error,
            started_at: latest[0].startedAt.toISOString(),
            finished_at: latest[0].finishedAt ? latest[0].finishedAt.toISOString() : null,
          }
        : null,
    };
  }

  async retire(version: number, actor: string): Promise<KeyStatusReply> {
    if (version === this.keys.current.version) {
      throw new DomainError(
        'invalid_transition',
        `v${version} is the current master key; make another key current first.`,
      );
    }
    await this.dataSource.transaction(async (manager) => {
      const inUse = await this.countWrappedBy(manager, version);
      if (inUse > 0) {
        throw new DomainError(
          'invalid_transition',
          `v${version} still wraps ${inUse} data key(s); rotate to v${this.keys.current.version} first.`,
        );
      }
      const row = await manager.findOneBy(KeyVersionEntity, { version });
      if (!row) throw new DomainError('not_found', `No master key v${version} is known.`);
      if (!row.retiredAt) {
        await manager.update(KeyVersionEntity, { version }, { retiredAt: new Date() });
        await this.audit.record({ actor, action: 'keys.retired', subject: `v${version}` }, manager);
      }
    });
    this.keys.markRetired(version);
    return this.status();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  private kick(rotationId: string): void {
    if (this.running) return;
    this.running = this.run(rotationId).finally(() => (this.running = undefined));
  }

  private async run(rotationId: string): Promise<void> {
    try {
      for (;;) {
        if (this.stopping) return;
        if ((await this.step(rotationId)) > 0) continue;
        // Nothing left that is not locked; rows another worker holds are re-checked shortly.
        const target = (
          await this.dataSource.getRepository(RotationEntity).findOneByOrFail({ id: rotationId })
        ).targetVersion;
        if ((await this.dataSource.transaction((manager) => this.remaining(manager, target))) === 0)
          break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      await this.dataSource.transaction(async (manager) => {
        const rotation = await manager.findOneByOrFail(RotationEntity, { id: rotationId });
        if (rotation.status !== 'running') return;
        await manager.update(
          RotationEntity,
          { id: rotationId },
          { status: 'completed', finishedAt: new Date() },
        );
        await this.audit.record(
          {
            actor: 'credential-service',
            action: 'keys.rotation-completed',
            subject: rotationId,
            details: { target_version: rotation.targetVersion, done: rotation.done },
          },
          manager,
        );
      });
      this.log.log(`Rotation ${rotationId} completed`);
    } catch (error) {
      // Left "running": the next start (or rotate command) resumes it.
      this.log.error(
        `Rotation ${rotationId} paused: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  /** Re-wraps one batch in one transaction; returns how many rows moved. */
  private async step(rotationId: string): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
      const rotation = await manager.findOneByOrFail(RotationEntity, { id: rotationId });
      if (rotation.status !== 'running') return 0;
      const target = this.keys.keyring.get(rotation.targetVersion);
      const sets = await manager
        .getRepository(CredentialSetEntity)
        .createQueryBuilder('s')
        .where('s.key_version <> :v', { v: target.version })
        .orderBy('s.id')
        .limit(BATCH)
        .setLock('pessimistic_write')
        .setOnLocked('skip_locked')
        .getMany();
      for (const row of sets) {
        const moved = rewrap(
          row,
          bindingOf(row.accountId, row.connectionId),
          this.keys.keyring,
          target,
        );
        await manager.update(
          CredentialSetEntity,
          { id: row.id },
          { keyVersion: moved.keyVersion, wrappedKey: moved.wrappedKey },
        );
      }
      const transportKeys = await manager
        .getRepository(TransportKeyEntity)
        .createQueryBuilder('t')
        .where('t.key_version <> :v', { v: target.version })
        .setLock('pessimistic_write')
        .setOnLocked('skip_locked')
        .getMany();
      for (const row of transportKeys) {
        const moved = rewrap(row, transportKeyBinding(row.kid), this.keys.keyring, target);
        await manager.update(
          TransportKeyEntity,
          { kid: row.kid },
          { keyVersion: moved.keyVersion, wrappedKey: moved.wrappedKey },
        );
      }
      const moved = sets.length + transportKeys.length;
      if (moved > 0) await manager.increment(RotationEntity, { id: rotationId }, 'done', moved);
      return moved;
    });
  }

  private async remaining(manager: EntityManager, target: number): Promise<number> {
    const [{ n }] = await manager.query(
      `SELECT (SELECT count(*) FROM ${this.table(CredentialSetEntity)} WHERE key_version <> $1) + (SELECT count(*) FROM ${this.table(TransportKeyEntity)} WHERE key_version <> $1) AS n`,
      [target],
    );
    return Number(n);
  }

  private async countWrappedBy(manager: EntityManager, version: number): Promise<number> {
    const [{ n }] = await manager.query(
      `SELECT (SELECT count(*) FROM ${this.table(CredentialSetEntity)} WHERE key_version = $1) + (SELECT count(*) FROM ${this.table(TransportKeyEntity)} WHERE key_version = $1) AS n`,
      [version],
    );
    return Number(n);
  }

  private table(entity: Function): string {
    const meta = this.dataSource.getMetadata(entity);
    return `"${meta.schema}"."${meta.tableName}"`;
  }
}
