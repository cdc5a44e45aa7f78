import { createServiceDataSource } from '@athenic/database';
import type { DataSource } from 'typeorm';

export const SANDBOX_SCHEMA = 'sandbox';

export function sandboxDataSource(url: string): DataSource {
  return createServiceDataSource({
    url,
    schema: SANDBOX_SCHEMA,
    entities: [],
    migrations: [],
    poolSize: 5,
  });
}
