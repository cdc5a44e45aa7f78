import { DataSource, type DataSourceOptions, type EntitySchema, type MixedList } from 'typeorm';

export interface ServiceDataSourceOptions {
  /** postgres:// URL of the platform database. */
  url: string;
  /** The Postgres schema this service owns; no service touches another's. */
  schema: string;
  entities: MixedList<Function | string | EntitySchema>;
  migrations: MixedList<Function | string>;
  /** Pool size; small, since each service runs few concurrent queries. */
  poolSize?: number;
}

/**
 * One TypeORM data source per service: its own schema, its own migrations table, no
 * `synchronize`. The schema changes only through migrations.
 */
export function createServiceDataSource(options: ServiceDataSourceOptions): DataSource {
  const config: DataSourceOptions = {
    type: 'postgres',
    url: options.url,
    schema: options.schema,
    entities: options.entities,
    migrations: options.migrations,
    migrationsTableName: 'migrations',
    migrationsRun: false,
    synchronize: false,
    logging: false,
    extra: {
      max: options.poolSize ?? 10,
      // A dead database must give a clear error quickly, not a hung request.
      connectionTimeoutMillis: 3000,
      query_timeout: 10000,
      application_name: `athenic-${options.schema}`,
    },
  };
  return new DataSource(config);
}

/**
 * The explicit start-up step: create the service's schema when missing, then run its pending
 * migrations, each in its own transaction. Returns the names of the migrations that ran.
 */
export async function migrate(dataSource: DataSource): Promise<string[]> {
  if (!dataSource.isInitialized) await initializeWithRetry(dataSource);
  const schema = (dataSource.options as { schema?: string }).schema;
  // Created only when missing: a service's own role (docs/security/least-privilege.md) owns its
  // schema but may not create one, and CREATE SCHEMA IF NOT EXISTS needs that right regardless.
  if (schema) {
    const found = (await dataSource.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [
      schema,
    ])) as unknown[];
    if (found.length === 0) await dataSource.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  }
  const ran = await dataSource.runMigrations({ transaction: 'each' });
  return ran.map((m) => m.name);
}

/**
 * The SQL that would bring the database in line with the entities after all migrations ran.
 * Empty when every entity change has its migration; CI fails otherwise.
 */
export async function pendingSchemaChanges(dataSource: DataSource): Promise<string[]> {
  const sql = await dataSource.driver.createSchemaBuilder().log();
  return sql.upQueries.map((q) => q.query);
}

/** The database address without credentials, for messages a person reads. */
export function describeDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`;
  } catch {
    return 'an unparseable DATABASE_URL';
  }
}

/**
 * Connects, retrying for a while: a database that is still starting is waited for, one that
 * stays down gives a clear error naming its address.
 */
export async function initializeWithRetry(
  dataSource: DataSource,
  attempts = 15,
  delayMs = 1000,
): Promise<void> {
  const url = (dataSource.options as { url?: string }).url ?? '';
  for (let attempt = 1; ; attempt++) {
    try {
      await dataSource.initialize();
      return;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (attempt >= attempts) {
        throw new Error(
          `Cannot reach PostgreSQL at ${describeDatabaseUrl(url)} (DATABASE_URL): ${reason}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
