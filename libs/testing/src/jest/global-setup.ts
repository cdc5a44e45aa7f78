import { TEST_ENV } from '../test-env';

/**
 * Chooses where integration tests get Postgres and RabbitMQ: containers when a container
 * runtime answers, the machine's own services otherwise. Each test file then makes its own
 * database and vhost on them.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env[TEST_ENV.mode]) return;
  const reason = await startContainers().catch((error: unknown) =>
    error instanceof Error ? error.message : String(error),
  );
  if (reason === undefined) return;
  process.env[TEST_ENV.mode] = 'local';
  process.env[TEST_ENV.postgres] ??=
    process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  process.env[TEST_ENV.amqp] ??= process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  const api = 'http://guest:guest@127.0.0.1:15672';
  if (
    !process.env[TEST_ENV.rabbitApi] &&
    (await reachable(`http://127.0.0.1:15672/api/overview`))
  ) {
    process.env[TEST_ENV.rabbitApi] = api;
  }
  process.stdout.write(
    `\nIntegration infrastructure: the local PostgreSQL and RabbitMQ (no container runtime: ${reason.split('\n')[0]}); ` +
      `vhosts through ${process.env[TEST_ENV.rabbitApi] ? 'the management API' : 'rabbitmqctl'}.\n`,
  );
}

async function reachable(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, {
      headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
    });
    return res.ok;
  } catch {
    return false;
  }
}

async function startContainers(): Promise<undefined> {
  const { getContainerRuntimeClient } = await import('testcontainers');
  await getContainerRuntimeClient();
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const { RabbitMQContainer } = await import('@testcontainers/rabbitmq');
  const [postgres, rabbit] = await Promise.all([
    new PostgreSqlContainer('postgres:15-alpine')
      .withUsername('postgres')
      .withPassword('postgres')
      .start(),
    new RabbitMQContainer('rabbitmq:3.13-management-alpine').withExposedPorts(5672, 15672).start(),
  ]);
  const pgUrl = new URL(postgres.getConnectionUri());
  pgUrl.pathname = '/postgres';
  process.env[TEST_ENV.mode] = 'containers';
  process.env[TEST_ENV.postgres] = pgUrl.toString();
  process.env[TEST_ENV.amqp] =
    `amqp://guest:guest@${rabbit.getHost()}:${rabbit.getMappedPort(5672)}`;
  process.env[TEST_ENV.rabbitApi] =
    `http://guest:guest@${rabbit.getHost()}:${rabbit.getMappedPort(15672)}`;
  (globalThis as { __ATHENIC_CONTAINERS__?: unknown[] }).__ATHENIC_CONTAINERS__ = [
    postgres,
    rabbit,
  ];
  process.stdout.write(
    '\nIntegration infrastructure: testcontainers (postgres:15, rabbitmq:3.13).\n',
  );
  return undefined;
}
