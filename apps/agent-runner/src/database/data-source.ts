import { createServiceDataSource } from '@athenic/database';
import type { DataSource } from 'typeorm';
import { RunEntity } from '../runs/run.entity';
import { ToolCallEntity } from '../runs/tool-call.entity';
import { CreateRuns1795482533899 } from '../migrations/1795482533899-create-runs';

export const AGENT_SCHEMA = 'agent';

export function agentDataSource(url: string): DataSource {
  return createServiceDataSource({
    url,
    schema: AGENT_SCHEMA,
    entities: [RunEntity, ToolCallEntity],
    migrations: [CreateRuns1795482533899],
    poolSize: 5,
  });
}
