import { createServiceDataSource } from '@athenic/database';
import type { DataSource } from 'typeorm';

export const CREDENTIAL_SCHEMA = 'credential';

export function credentialDataSource(url: string): DataSource {
  return createServiceDataSource({
    url,
    schema: CREDENTIAL_SCHEMA,
    entities: [],
    migrations: [],
    poolSize: 5,
  });
}
