import { createServiceDataSource } from '@athenic/database';
import type { DataSource } from 'typeorm';

export const AGENT_SCHEMA = 'agent';

export function agentDataSource(url: string): DataSource {
  return createServiceDataSource({
    url,
    schema: AGENT_SCHEMA,
    entities: [],
    migrations: [],
    poolSize: 5,
  });
}
