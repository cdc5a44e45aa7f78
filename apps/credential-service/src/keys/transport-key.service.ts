import {
  type PrivateKey,
  generateRecipientKeyPair,
  importPrivateKey,
  sealedKid,
  unsealBound,
  bindingMismatch,
} from '@athenic/platform-crypto';
import { DomainError } from '@athenic/contracts';
import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { open, seal } from '../crypto/envelope';
import { KeyringService } from './keyring.service';
import { TransportKeyEntity, transportKeyBinding } from './transport-key.entity';

const LOCK_ID = 0x617468656e6963; // one transport key per database, even when instances start together

/**
 * The key pair credential values are sealed to before they cross the bus: the gateway (or a
 * client, with the published public key) seals, only this service opens. Its private half is
 * stored envelope-encrypted like any credential.
 */
@Injectable()
export class TransportKeyService {
  private readonly log = new Logger('TransportKey');
  private kid = '';
  private publicJwk: Record<string, unknown> = {};
  private privateKey: PrivateKey | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly keys: KeyringService,
    private readonly audit: AuditService,
  ) {}

  async load(): Promise<void> {
    const row = await this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1)', [LOCK_ID]);
      const existing = await manager
        .getRepository(TransportKeyEntity)
        .find({ order: { createdAt: 'ASC' }, take: 1 });
      if (existing[0]) return existing[0];
      const pair = await generateRecipientKeyPair();
      const envelope = seal(
        Buffer.from(JSON.stringify(pair.privateJwk)),
        transportKeyBinding(pair.kid),
        this.keys.current,
      );
      const created = manager.create(TransportKeyEntity, {
        kid: pair.kid,
        publicJwk: pair.publicJwk as Record<string, unknown>,
        ...envelope,
      });
      await manager.insert(TransportKeyEntity, created);
      await this.audit.record(
        { actor: 'credential-service', action: 'transport-key.created', subject: pair.kid },
        manager,
      );
      return created;
    });
    const privateJwk = JSON.parse(
      open(row, transportKeyBinding(row.kid), this.keys.keyring).toString('utf8'),
    );
    this.privateKey = await importPrivateKey(privateJwk);
    this.kid = row.kid;
    this.publicJwk = row.publicJwk;
    this.log.log(`Transport key ${row.kid} loaded`);
  }

  publicKey(): { kid: string; jwk: Record<string, unknown> } {
    return { kid: this.kid, jwk: this.publicJwk };
  }

  /**
   * Opens a value sealed for this service; anything else is refused, naming only the field. With
   * `here`, the value must have been sealed for that account, connection and purpose (its JWE
   * header says so, authenticated): a value lifted from one install cannot be replayed in another.
   */
  async open(
    field: string,
    value: unknown,
    here?: { account: string; connection: string; purpose: string },
  ): Promise<string> {
    if (typeof value !== 'string' || sealedKid(value) !== this.kid) {
      throw new DomainError(
        'validation_failed',
        `${field} must be sealed with the credential service's public key (kid ${this.kid}).`,
      );
    }
    let opened: Awaited<ReturnType<typeof unsealBound>>;
    try {
      opened = await unsealBound(value, this.privateKey!);
    } catch {
      throw new DomainError(
        'validation_failed',
        `${field} could not be unsealed: it is corrupted or was sealed to another key.`,
      );
    }
    const mismatch = here && bindingMismatch(opened.binding, here);
    if (mismatch) throw new DomainError('validation_failed', `${field} is refused: ${mismatch}.`);
    return opened.plaintext;
  }
}
