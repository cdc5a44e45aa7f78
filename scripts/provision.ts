// `npm start`'s provisioning step (docs/security/least-privilege.md): a Postgres role and a
// RabbitMQ user per service, and an `integrations` user for other internal services, made with
// the administrator's DATABASE_URL and AMQP_URL. Writes what each service connects with to
// <DATA_DIR>/service-env/<service>.json (mode 600), keeps the passwords in
// <DATA_DIR>/principals.json, and prints what it did. Idempotent.
import { provisionLeastPrivilege } from '@athenic/bootstrap';
import { brokerAdminFor } from '@athenic/messaging';
import * as fs from 'node:fs';
import * as path from 'node:path';

async function main(): Promise<void> {
  const dataDir = path.resolve(process.env.DATA_DIR ?? '.data');
  const adminDatabaseUrl =
    process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const adminAmqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  const passwordsFile = path.join(dataDir, 'principals.json');
  fs.mkdirSync(path.join(dataDir, 'service-env'), { recursive: true, mode: 0o700 });
  const passwords = fs.existsSync(passwordsFile)
    ? (JSON.parse(fs.readFileSync(passwordsFile, 'utf8')) as Record<string, string>)
    : {};
  const result = await provisionLeastPrivilege({
    adminDatabaseUrl,
    adminAmqpUrl,
    broker: await brokerAdminFor(adminAmqpUrl, process.env.RABBITMQ_MANAGEMENT_URL),
    passwords,
  });
  fs.writeFileSync(passwordsFile, JSON.stringify(result.passwords, null, 2), { mode: 0o600 });
  for (const [service, env] of Object.entries(result.serviceEnv))
    fs.writeFileSync(
      path.join(dataDir, 'service-env', `${service}.json`),
      JSON.stringify(env, null, 2),
      { mode: 0o600 },
    );
  fs.writeFileSync(
    path.join(dataDir, 'service-env', 'integrations.json'),
    JSON.stringify({ AMQP_URL: result.integrationsAmqpUrl }, null, 2),
    { mode: 0o600 },
  );
  for (const line of result.report) process.stdout.write(`provision: ${line}\n`);
  process.stdout.write(
    `provision: other internal services connect with ${path.join(dataDir, 'service-env', 'integrations.json')}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `provision failed: ${error instanceof Error ? error.message : String(error)}\n` +
      'It needs a Postgres superuser in DATABASE_URL and the broker administrator in AMQP_URL ' +
      '(RabbitMQ management API, or rabbitmqctl on this machine). ' +
      'ATHENIC_QUICK=1 npm start skips it and runs every service as the administrator.\n',
  );
  process.exit(1);
});
