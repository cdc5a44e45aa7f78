import {
  type DeleteCredentialsCommand,
  type DeletedCredentialsReply,
  DomainError,
  type RevealCredentialsCommand,
  type RevealedCredentialsReply,
  type StoreCredentialsCommand,
  type StoredCredentialsReply,
  type ValidateCredentialsCommand,
  type ValidatedCredentialsReply,
} from '@athenic/contracts';
import {
  CONNECTION_CREDENTIALS_PURPOSE,
  REVEAL_PROOF_PURPOSE,
  checkRecipientJwk,
  seal as sealFor,
  verifyFields,
} from '@athenic/platform-crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { CREDENTIAL_CONFIG, type CredentialConfig } from '../config/env';
import { open, seal } from '../crypto/envelope';
import { KeyringService } from '../keys/keyring.service';
import { TransportKeyService } from '../keys/transport-key.service';
import { CredentialSchemas } from '../registry/credential-schemas';
import {
  CREDENTIAL_SET_PURPOSE,
  CredentialSetEntity,
  bindingOf,
} from '../store/credential-set.entity';

/** How far a reveal request's time may be from ours: it is signed, and answered only when fresh. */
const REVEAL_SKEW_MS = 120_000;

/** Credential sets of connections: store (validated, encrypted), reveal (sealed, audited), shred. */
@Injectable()
export class CredentialSetsService {
  private readonly log = new Logger('CredentialSets');

  constructor(
    private readonly dataSource: DataSource,
    private readonly keys: KeyringService,
    private readonly transport: TransportKeyService,
    private readonly schemas: CredentialSchemas,
    private readonly audit: AuditService,
    @Inject(CREDENTIAL_CONFIG) private readonly config: CredentialConfig,
  ) {}

  /** Checks values against the type only (nothing stored, nothing revealed): any binding opens. */
  async validate(command: ValidateCredentialsCommand): Promise<ValidatedCredentialsReply> {
    const values = await this.unsealAll(command.sealed_values);
    await this.schemas.check(command.mcp_server_id, values);
    return { keys: Object.keys(values).sort() };
  }

  async store(command: StoreCredentialsCommand): Promise<StoredCredentialsReply> {
    const values = await this.unsealAll(command.sealed_values, {
      account: command.account_id,
      connection: command.connection_id,
      purpose: CONNECTION_CREDENTIALS_PURPOSE,
    });
    await this.schemas.check(command.mcp_server_id, values);
    const binding = bindingOf(command.account_id, command.connection_id);
    const envelope = seal(Buffer.from(JSON.stringify(values), 'utf8'), binding, this.keys.current);
    const keys = Object.keys(values).sort();
    const row = await this.dataSource.transaction(async (manager) => {
      const existing = await manager.findOneBy(CredentialSetEntity, {
        connectionId: command.connection_id,
      });
      if (existing && existing.accountId !== command.account_id) {
        throw new DomainError(
          'not_found',
          `No connection ${command.connection_id} exists for this account.`,
        );
      }
      const next = manager.create(CredentialSetEntity, {
        id: existing?.id ?? randomUUID(),
        accountId: command.account_id,
        connectionId: command.connection_id,
        mcpServerId: command.mcp_server_id,
        purpose: CREDENTIAL_SET_PURPOSE,
        keyNames: keys,
        ...envelope,
      });
      const saved = await manager.save(next);
      await this.audit.record(
        {
          actor: command.actor,
          action: 'credential-set.stored',
          accountId: command.account_id,
          subject: command.connection_id,
          details: { keys, key_version: envelope.keyVersion, replaced: !!existing },
        },
        manager,
      );
      return saved;
    });
    return {
      connection_id: row.connectionId,
      keys,
      key_version: row.keyVersion,
      updated_at: row.updatedAt.toISOString(),
    };
  }

  async reveal(command: RevealCredentialsCommand): Promise<RevealedCredentialsReply> {
    const { proof, ...fields } = command;
    if (!verifyFields(this.config.internalSecret, REVEAL_PROOF_PURPOSE, fields, proof)) {
      this.log.warn(
        `Refused a reveal of ${command.connection_id} by ${command.requester}: bad proof`,
      );
      throw new DomainError('forbidden', 'Only platform services may reveal credentials.');
    }
    if (Math.abs(Date.now() - Date.parse(command.requested_at)) > REVEAL_SKEW_MS) {
      throw new DomainError('forbidden', 'The reveal request is stale; sign a fresh one.');
    }
    try {
      await checkRecipientJwk(command.recipient_jwk);
    } catch (error) {
      throw new DomainError('validation_failed', `recipient_jwk: ${(error as Error).message}.`);
    }
    const row = await this.dataSource
      .getRepository(CredentialSetEntity)
      .findOneBy({ connectionId: command.connection_id });
    if (!row || row.accountId !== command.account_id) {
      throw new DomainError(
        'not_found',
        `No credentials are stored for connection ${command.connection_id}.`,
      );
    }
    this.keys.usable(row.keyVersion);
    const plaintext = open(row, bindingOf(row.accountId, row.connectionId), this.keys.keyring);
    const sealed = await sealFor(
      JSON.stringify({ values: JSON.parse(plaintext.toString('utf8')) }),
      command.recipient_jwk,
    );
    plaintext.fill(0);
    await this.audit.record({
      actor: command.requester,
      action: 'credential-set.revealed',
      accountId: row.accountId,
      subject: row.connectionId,
      details: { keys: row.keyNames, key_version: row.keyVersion },
    });
    return { connection_id: row.connectionId, sealed };
  }

  async delete(command: DeleteCredentialsCommand): Promise<DeletedCredentialsReply> {
    const deleted = await this.dataSource.transaction(async (manager) => {
      const result = await manager.delete(CredentialSetEntity, {
        connectionId: command.connection_id,
        accountId: command.account_id,
      });
      const removed = (result.affected ?? 0) > 0;
      if (removed) {
        await this.audit.record(
          {
            actor: command.actor,
            action: 'credential-set.deleted',
            accountId: command.account_id,
            subject: command.connection_id,
          },
          manager,
        );
      }
      return removed;
    });
    return { connection_id: command.connection_id, deleted };
  }

  private async unsealAll(
    sealed: Record<string, unknown>,
    here?: { account: string; connection: string; purpose: string },
  ): Promise<Record<string, string>> {
    const values: Record<string, string> = {};
    for (const [key, value] of Object.entries(sealed)) {
      if (!/^[A-Za-z0-9_.-]{1,128}$/.test(key)) {
        throw new DomainError(
          'validation_failed',
          `provided_credential_schema has an invalid key name.`,
        );
      }
      values[key] = await this.transport.open(`provided_credential_schema.${key}`, value, here);
    }
    return values;
  }
}
