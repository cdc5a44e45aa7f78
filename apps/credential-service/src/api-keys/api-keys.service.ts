import {
  type ApiKeyList,
  type ApiKeyView,
  type CreateApiKeyCommand,
  CredentialApiKeyRevoked,
  DomainError,
  type RevokeApiKeyCommand,
  type VerifiedApiKey,
} from '@athenic/contracts';
import { Outbox } from '@athenic/messaging';
import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, IsNull } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { ApiKeyEntity } from './api-key.entity';

/** Account API keys, known only by their hashes. */
@Injectable()
export class ApiKeysService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: Outbox,
    private readonly audit: AuditService,
  ) {}

  async create(command: CreateApiKeyCommand): Promise<ApiKeyView> {
    return this.dataSource.transaction(async (manager) => {
      const existing = await manager.findOneBy(ApiKeyEntity, { keyHash: command.key_hash });
      if (existing) {
        // A redelivered create: the same key, recorded once.
        if (existing.accountId === command.account_id && existing.name === command.name)
          return toView(existing);
        throw new DomainError('already_exists', 'This key is already registered.');
      }
      const row = manager.create(ApiKeyEntity, {
        id: randomUUID(),
        accountId: command.account_id,
        name: command.name,
        keyHash: command.key_hash,
        keyPrefix: command.key_prefix,
        createdBy: command.actor,
        revokedAt: null,
      });
      await manager.insert(ApiKeyEntity, row);
      const saved = await manager.findOneByOrFail(ApiKeyEntity, { id: row.id });
      await this.audit.record(
        {
          actor: command.actor,
          action: 'api-key.created',
          accountId: command.account_id,
          subject: row.id,
          details: { name: command.name },
        },
        manager,
      );
      return toView(saved);
    });
  }

  async list(accountId: string): Promise<ApiKeyList> {
    const rows = await this.dataSource
      .getRepository(ApiKeyEntity)
      .find({ where: { accountId }, order: { createdAt: 'ASC' } });
    return { data: rows.map(toView) };
  }

  async revoke(command: RevokeApiKeyCommand): Promise<ApiKeyView> {
    return this.outbox.transaction(async (manager, emit) => {
      const row = await manager.findOneBy(ApiKeyEntity, { id: command.id });
      if (!row) throw new DomainError('not_found', `No API key ${command.id} exists.`);
      if (row.revokedAt) return toView(row);
      row.revokedAt = new Date();
      await manager.update(ApiKeyEntity, { id: row.id }, { revokedAt: row.revokedAt });
      await this.audit.record(
        {
          actor: command.actor,
          action: 'api-key.revoked',
          accountId: row.accountId,
          subject: row.id,
        },
        manager,
      );
      await emit(CredentialApiKeyRevoked, {
        id: row.id,
        account_id: row.accountId,
        key_hash: row.keyHash,
      });
      return toView(row);
    });
  }

  async verify(keyHash: string): Promise<VerifiedApiKey> {
    const row = await this.dataSource
      .getRepository(ApiKeyEntity)
      .findOneBy({ keyHash, revokedAt: IsNull() });
    if (!row) throw new DomainError('not_found', 'Unknown or revoked API key.');
    return { id: row.id, account_id: row.accountId };
  }
}

function toView(row: ApiKeyEntity): ApiKeyView {
  return {
    id: row.id,
    account_id: row.accountId,
    name: row.name,
    key_prefix: row.keyPrefix,
    created_at: row.createdAt.toISOString(),
    revoked_at: row.revokedAt ? row.revokedAt.toISOString() : null,
  };
}
