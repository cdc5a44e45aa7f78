import { ALL_PERMISSIONS, type BrokerAdmin, managementApi, rabbitmqctl } from '@athenic/messaging';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { TEST_ENV } from './test-env';

export { TEST_ENV };

export interface TestInfrastructure {
  /** A fresh database of its own. */
  databaseUrl: string;
  /** A fresh vhost of its own. */
  amqpUrl: string;
  vhost: string;
  database: string;
  dispose(): Promise<void>;
}

function base(name: keyof typeof TEST_ENV, fallback: string): string {
  return process.env[TEST_ENV[name]] ?? fallback;
}

export function postgresServerUrl(): string {
  return base(
    'postgres',
    process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
  );
}

export function amqpServerUrl(): string {
  return base('amqp', 'amqp://guest:guest@127.0.0.1:5672');
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

function withVhost(url: string, vhost: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(vhost)}`;
  return parsed.toString();
}

/**
 * A database and a RabbitMQ vhost used by one test file only, so test files run in parallel
 * without seeing each other's rows or messages; both are dropped by `dispose`.
 */
export async function createTestInfrastructure(label: string): Promise<TestInfrastructure> {
  const suffix = `${label
    .replace(/[^a-z0-9]/gi, '_')
    .toLowerCase()
    .slice(0, 24)}_${randomBytes(4).toString('hex')}`;
  const database = `athenic_test_${suffix}`;
  const vhost = `athenic-test-${suffix}`;
  await adminQuery(`CREATE DATABASE "${database}"`);
  await createVhost(vhost);
  return {
    database,
    vhost,
    databaseUrl: withDatabase(postgresServerUrl(), database),
    amqpUrl: withVhost(amqpServerUrl(), vhost),
    async dispose() {
      await adminQuery(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      await deleteVhost(vhost);
    },
  };
}

export async function adminQuery(sql: string): Promise<void> {
  const client = new Client({
    connectionString: postgresServerUrl(),
    connectionTimeoutMillis: 5000,
  });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Runs SQL against one test database. */
export async function queryDatabase<T = Record<string, unknown>>(
  databaseUrl: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** The broker's administration: its management API when the tests were given one, else rabbitmqctl. */
function brokerAdmin(): BrokerAdmin {
  const api = process.env[TEST_ENV.rabbitApi];
  if (!api) return rabbitmqctl();
  const parsed = new URL(api);
  const user = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  parsed.username = '';
  parsed.password = '';
  return managementApi(parsed.toString().replace(/\/(api\/?)?$/, ''), user, password);
}

async function createVhost(vhost: string): Promise<void> {
  const admin = brokerAdmin();
  await admin.addVhost(vhost);
  await admin.setPermissions(vhost, new URL(amqpServerUrl()).username || 'guest', ALL_PERMISSIONS);
}

async function deleteVhost(vhost: string): Promise<void> {
  await brokerAdmin().deleteVhost(vhost);
}
