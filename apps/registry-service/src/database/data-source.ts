import { createServiceDataSource } from '@athenic/database';
import type { DataSource } from 'typeorm';
import { McpServerEntity } from '../servers/mcp-server.entity';
import { CreateServers1763900000000 } from '../migrations/1763900000000-create-servers';

export const REGISTRY_SCHEMA = 'registry';

export function registryDataSource(url: string): DataSource {
  return createServiceDataSource({
    url,
    schema: REGISTRY_SCHEMA,
    entities: [McpServerEntity],
    migrations: [CreateServers1763900000000],
    poolSize: 5,
  });
}
