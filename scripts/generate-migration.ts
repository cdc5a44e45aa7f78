// Writes the migration that brings a service's schema in line with its entities, from the SQL
// TypeORM would run after the existing migrations (on a scratch database, dropped afterwards).
//   npm run migration:generate -- credential-service AddApiKeys
import { migrate, pendingSchemaChanges } from '@athenic/database';
import { adminQuery, postgresServerUrl } from '@athenic/testing';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DataSource } from 'typeorm';
import { agentDataSource } from '../apps/agent-runner/src/database/data-source';
import { credentialDataSource } from '../apps/credential-service/src/database/data-source';
import { registryDataSource } from '../apps/registry-service/src/database/data-source';
import { sandboxDataSource } from '../apps/sandbox-service/src/database/data-source';

const SOURCES: Record<string, (url: string) => DataSource> = {
  'registry-service': registryDataSource,
  'credential-service': credentialDataSource,
  'sandbox-service': sandboxDataSource,
  'agent-runner': agentDataSource,
};

async function main(): Promise<void> {
  const [service, name] = process.argv.slice(2);
  const build = SOURCES[service];
  if (!build || !/^[A-Z][A-Za-z0-9]+$/.test(name ?? '')) {
    throw new Error(
      `usage: generate-migration <${Object.keys(SOURCES).join('|')}> <PascalCaseName>`,
    );
  }
  const database = `athenic_migration_${Date.now()}`;
  await adminQuery(`CREATE DATABASE "${database}"`);
  const url = new URL(postgresServerUrl());
  url.pathname = `/${database}`;
  const dataSource = build(url.toString());
  try {
    await migrate(dataSource);
    const queries = await pendingSchemaChanges(dataSource);
    if (queries.length === 0) {
      process.stdout.write('The entities match the migrations: nothing to generate.\n');
      return;
    }
    const { downQueries } = await dataSource.driver.createSchemaBuilder().log();
    const timestamp = Date.now();
    const file = path.resolve(
      __dirname,
      '..',
      '..',
      'apps',
      service,
      'src',
      'migrations',
      `${timestamp}-${kebab(name)}.ts`,
    );
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const quote = (sql: string) => `    await q.query(\`${sql.replace(/`/g, '\\`')}\`);`;
    fs.writeFileSync(
      file,
      [
        "import type { MigrationInterface, QueryRunner } from 'typeorm';",
        '',
        `export class ${name}${timestamp} implements MigrationInterface {`,
        `  name = '${name}${timestamp}';`,
        '',
        '  async up(q: QueryRunner): Promise<void> {',
        ...queries.map(quote),
        '  }',
        '',
        '  async down(q: QueryRunner): Promise<void> {',
        ...downQueries
          .map((d) => d.query)
          .reverse()
          .map(quote),
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    process.stdout.write(`Wrote ${file}; add ${name}${timestamp} to the service's data source.\n`);
  } finally {
    await dataSource.destroy();
    await adminQuery(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  }
}

function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
