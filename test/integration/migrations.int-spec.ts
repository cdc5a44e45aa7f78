import { migrate, pendingSchemaChanges } from '@athenic/database';
import { createTestInfrastructure, queryDatabase, type TestInfrastructure } from '@athenic/testing';
import type { DataSource } from 'typeorm';
import { agentDataSource } from '../../apps/agent-runner/src/database/data-source';
import { credentialDataSource } from '../../apps/credential-service/src/database/data-source';
import { registryDataSource } from '../../apps/registry-service/src/database/data-source';
import { sandboxDataSource } from '../../apps/sandbox-service/src/database/data-source';

// The CI check that every entity change has its migration: after all migrations ran, TypeORM
// must find nothing left to change. A failure prints the SQL the missing migration needs.
const SERVICES: [string, string, (url: string) => DataSource][] = [
  ['registry-service', 'registry', registryDataSource],
  ['credential-service', 'credential', credentialDataSource],
  ['sandbox-service', 'sandbox', sandboxDataSource],
  ['agent-runner', 'agent', agentDataSource],
];

describe('migrations', () => {
  let infra: TestInfrastructure;

  beforeAll(async () => {
    infra = await createTestInfrastructure('migrations');
  });

  afterAll(async () => {
    await infra?.dispose();
  });

  it.each(SERVICES)(
    '%s: migrations create its own schema and match its entities exactly',
    async (_name, schema, build) => {
      const dataSource = build(infra.databaseUrl);
      try {
        await migrate(dataSource);
        expect(await pendingSchemaChanges(dataSource)).toEqual([]);
        const tables = await queryDatabase<{ table_schema: string }>(
          infra.databaseUrl,
          `SELECT DISTINCT table_schema FROM information_schema.tables WHERE table_name = 'migrations' AND table_schema = $1`,
          [schema],
        );
        expect(tables).toEqual([{ table_schema: schema }]);
        // Running again is a no-op.
        expect(await migrate(dataSource)).toEqual([]);
      } finally {
        await dataSource.destroy();
      }
    },
  );
});
