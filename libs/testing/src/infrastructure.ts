import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Client } from 'pg';

const run = promisify(execFile);

/** Where the shared servers of this test run are; set by the jest global setup. */
export const TEST_ENV = {
  postgres: 'ATHENIC_TEST_POSTGRES_URL',
  amqp: 'ATHENIC_TEST_AMQP_URL',
  rabbitApi: 'ATHENIC_TEST_RABBIT_API',
  mode: 'ATHENIC_TEST_INFRA',
} as const;

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

function rabbitApi(): { url: string; auth: string } | undefined {
  const api = process.env[TEST_ENV.rabbitApi];
  if (!api) return undefined;
  const parsed = new URL(api);
  const auth = Buffer.from(
    `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`,
  ).toString('base64');
  parsed.username = '';
  parsed.password = '';
  return { url: parsed.toString().replace(/\/$/, ''), auth };
}

async function rabbitCall(method: string, path: string, body?: unknown): Promise<void> {
  const api = rabbitApi()!;
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: `Basic ${api.auth}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok && res.status !== 404)
    throw new Error(`RabbitMQ management API ${method} ${path}: ${res.status} ${await res.text()}`);
}

async function createVhost(vhost: string): Promise<void> {
  const user = new URL(amqpServerUrl()).username || 'guest';
  if (rabbitApi()) {
    await rabbitCall('PUT', `/api/vhosts/${encodeURIComponent(vhost)}`);
    await rabbitCall(
      'PUT',
      `/api/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`,
      {
        configure: '.*',
        write: '.*',
        read: '.*',
      },
    );
    return;
  }
  await run('rabbitmqctl', ['add_vhost', vhost]);
  await run('rabbitmqctl', ['set_permissions', '-p', vhost, user, '.*', '.*', '.*']);
}

async function deleteVhost(vhost: string): Promise<void> {
  if (rabbitApi()) return rabbitCall('DELETE', `/api/vhosts/${encodeURIComponent(vhost)}`);
  await run('rabbitmqctl', ['delete_vhost', vhost]).catch(() => undefined);
}
