import { createServiceDataSource } from '@athenic/database';
import { OutboxMessageEntity, outboxMigration } from '@athenic/messaging';
import type { DataSource } from 'typeorm';
import { ApiKeyEntity } from '../api-keys/api-key.entity';
import { AuditEntryEntity } from '../audit/audit-entry.entity';
import { KeyVersionEntity } from '../keys/key-version.entity';
import { RotationEntity } from '../keys/rotation.entity';
import { TransportKeyEntity } from '../keys/transport-key.entity';
import { CreateCredentialStore1795477172146 } from '../migrations/1795477172146-create-credential-store';
import { CredentialSetEntity } from '../store/credential-set.entity';

export const CREDENTIAL_SCHEMA = 'credential';

export const CREDENTIAL_ENTITIES = [
  CredentialSetEntity,
  TransportKeyEntity,
  KeyVersionEntity,
  RotationEntity,
  ApiKeyEntity,
  AuditEntryEntity,
  OutboxMessageEntity,
];

export function credentialDataSource(url: string): DataSource {
  return createServiceDataSource({
    url,
    schema: CREDENTIAL_SCHEMA,
    entities: CREDENTIAL_ENTITIES,
    migrations: [
      CreateCredentialStore1795477172146,
      outboxMigration(CREDENTIAL_SCHEMA, 1763900000001),
    ],
    poolSize: 8,
  });
}
