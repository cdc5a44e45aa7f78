import { Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditEntryEntity } from './audit-entry.entity';

export type AuditAction =
  | 'credential-set.stored'
  | 'credential-set.revealed'
  | 'credential-set.deleted'
  | 'api-key.created'
  | 'api-key.revoked'
  | 'keys.rotation-started'
  | 'keys.rotation-completed'
  | 'keys.rotation-failed'
  | 'keys.retired'
  | 'transport-key.created';

export interface AuditRecord {
  actor: string;
  action: AuditAction;
  accountId?: string | null;
  subject?: string | null;
  /** Names, counts and versions only; never a credential or key value. */
  details?: Record<string, any>;
}

/** The audit trail of every reveal, key creation or revocation and rotation. */
@Injectable()
export class AuditService {
  private readonly log = new Logger('Audit');

  constructor(private readonly dataSource: DataSource) {}

  async record(
    entry: AuditRecord,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<void> {
    await manager.insert(AuditEntryEntity, {
      actor: entry.actor,
      action: entry.action,
      accountId: entry.accountId ?? null,
      subject: entry.subject ?? null,
      details: entry.details ?? {},
    });
    this.log.log(`${entry.action} by ${entry.actor}${entry.subject ? ` on ${entry.subject}` : ''}`);
  }
}
