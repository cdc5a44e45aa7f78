import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CREDENTIAL_CONFIG, type CredentialConfig } from '../config/env';
import { keyCheck, verifyKeyCheck } from '../crypto/envelope';
import { type Keyring, KeyringError, type MasterKey } from '../crypto/keyring';
import { CredentialSetEntity } from '../store/credential-set.entity';
import { KeyVersionEntity } from './key-version.entity';
import { TransportKeyEntity } from './transport-key.entity';

/**
 * The master keys in use, checked against what the database holds before the service takes any
 * message: a version that still wraps data must be present and must be the very key that wrapped
 * it; a retired version is never used again.
 */
@Injectable()
export class KeyringService {
  private readonly log = new Logger('Keyring');
  private retired = new Set<number>();

  constructor(
    @Inject(CREDENTIAL_CONFIG) private readonly config: CredentialConfig,
    private readonly dataSource: DataSource,
  ) {}

  get keyring(): Keyring {
    return this.config.keyring;
  }

  get current(): MasterKey {
    return this.config.keyring.current;
  }

  /** A key that may decrypt: held, and not retired. */
  usable(version: number): MasterKey {
    if (this.retired.has(version)) throw new KeyringError(`Master key v${version} is retired`);
    return this.keyring.get(version);
  }

  async verifyAtStart(): Promise<void> {
    const rows = await this.dataSource.getRepository(KeyVersionEntity).find();
    const known = new Map(rows.map((r) => [r.version, r]));
    for (const version of this.keyring.versions()) {
      const row = known.get(version);
      const key = this.keyring.get(version);
      if (!row) {
        await this.dataSource
          .getRepository(KeyVersionEntity)
          .createQueryBuilder()
          .insert()
          .values({ version, checkValue: keyCheck(key), retiredAt: null })
          .orIgnore()
          .execute();
        this.log.log(`Master key v${version} registered`);
      } else if (!verifyKeyCheck(key, row.checkValue)) {
        throw new KeyringError(
          `CREDENTIAL_KEYS v${version} is not the key this database was encrypted with; restore the original v${version}`,
        );
      }
    }
    this.retired = new Set(rows.filter((r) => r.retiredAt).map((r) => r.version));
    if (this.retired.has(this.current.version)) {
      throw new KeyringError(
        `CREDENTIAL_KEY_CURRENT is v${this.current.version}, which is retired; make a newer key current`,
      );
    }
    for (const version of await this.versionsInUse()) {
      if (!this.keyring.has(version)) {
        throw new KeyringError(
          `Stored credentials are wrapped by master key v${version}, which CREDENTIAL_KEYS does not hold; add it back`,
        );
      }
    }
    this.log.log(
      `Master keys ${this.keyring
        .versions()
        .map((v) => `v${v}`)
        .join(', ')} verified; v${this.current.version} is current`,
    );
  }

  async versionsInUse(): Promise<number[]> {
    const rows: { key_version: number }[] = await this.dataSource.query(
      `SELECT key_version FROM ${this.table(CredentialSetEntity)} UNION SELECT key_version FROM ${this.table(TransportKeyEntity)}`,
    );
    return rows.map((r) => Number(r.key_version));
  }

  isRetired(version: number): boolean {
    return this.retired.has(version);
  }

  markRetired(version: number): void {
    this.retired.add(version);
  }

  private table(entity: Function): string {
    const meta = this.dataSource.getMetadata(entity);
    return `"${meta.schema}"."${meta.tableName}"`;
  }
}
