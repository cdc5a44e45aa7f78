import { createServiceDataSource } from '@athenic/database';
import type { DataSource } from 'typeorm';
import { RunEntity } from '../runs/run.entity';
import { ToolCallEntity } from '../runs/tool-call.entity';
import { CreateRuns1795482533899 } from '../migrations/1795482533899-create-runs';
import { ToolCallProgress1795500000000 } from '../migrations/1795500000000-tool-call-progress';

export const AGENT_SCHEMA = 'agent';

export function agentDataSource(url: string): DataSource {
  return createServiceDataSource({
    url,
    schema: AGENT_SCHEMA,
    entities: [RunEntity, ToolCallEntity],
    migrations: [CreateRuns1795482533899, ToolCallProgress1795500000000],
    poolSize: 5,
  });
}
