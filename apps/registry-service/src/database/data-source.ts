import { createServiceDataSource } from '@athenic/database';
import { OutboxMessageEntity, outboxMigration } from '@athenic/messaging';
import type { DataSource } from 'typeorm';
import { McpServerEntity } from '../servers/mcp-server.entity';
import { CreateServers1763900000000 } from '../migrations/1763900000000-create-servers';
import { ServerTemplates1764500000000 } from '../migrations/1764500000000-server-templates';
import { AddRemote1796000000000 } from '../migrations/1796000000000-add-remote';

export const REGISTRY_SCHEMA = 'registry';

export function registryDataSource(url: string): DataSource {
  return createServiceDataSource({
    url,
    schema: REGISTRY_SCHEMA,
    entities: [McpServerEntity, OutboxMessageEntity],
    migrations: [
      CreateServers1763900000000,
      outboxMigration(REGISTRY_SCHEMA, 1763900000001),
      ServerTemplates1764500000000,
      AddRemote1796000000000,
    ],
    poolSize: 5,
  });
}
