// Install throughput with one and with two sandbox-service replicas (docs/lifecycle.md,
// "Replicas"), same run, same machine: N concurrent installs of memory-server across 5 accounts
// (local provider) through the gateway, time until all run; then a second sandbox-service
// replica joins (its own process and data dir, the same database and broker) and the same
// installs again, with how they were shared out. On a 2-core host both replicas compete for the
// same cores; the figure that matters there is that nothing is deployed twice.
//   npm run bench:replica-install [-- 20]
import 'reflect-metadata';
import {
  ApiClient,
  createTestInfrastructure,
  queryDatabase,
  RawAmqpClient,
  TestPlatform,
} from '@athenic/testing';
import { runningAt } from './support';

const INSTALLS = Number(process.argv[2] ?? 20);

async function main(): Promise<void> {
  const infra = await createTestInfrastructure('bench-replica-install');
  const env = { RATE_LIMIT_INSTALLS_PER_MINUTE: '100000', LOG_LEVEL: 'info' };
  const platform = await new TestPlatform(infra, { env }).start();
  let second: TestPlatform | undefined;
  const amqp = await RawAmqpClient.connect(infra.amqpUrl);
  const events = await amqp.tap('bus', 'sandbox.connection.status-changed');
  const api = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
  const round = async (label: string) => {
    const started = Date.now();
    const ids = await Promise.all(
      Array.from({ length: INSTALLS }, async (_, i) => {
        const installed = await api.install({
          mcp_server_id: 'memory-server',
          account_id: `bench-${i % 5}`,
          title: `${label} ${i}`,
        });
        return installed.id as string;
      }),
    );
    const finished = await Promise.all(ids.map((id) => runningAt(events, id)));
    const ms = Math.max(...finished) - started;
    const owners = await queryDatabase<{ owner_id: string; n: number }>(
      infra.databaseUrl,
      `SELECT owner_id, count(*)::int AS n FROM sandbox.connections GROUP BY owner_id ORDER BY n DESC`,
    );
    const starts = events.messages
      .map((m) => JSON.parse(m.body).data)
      .filter((e) => ids.includes(e.connection_id) && e.to === 'mcpDeploying').length;
    console.log(
      `  ${label.padEnd(28)} all ${INSTALLS} running after ${String(ms).padStart(6)} ms  ${((INSTALLS / ms) * 1000).toFixed(1).padStart(5)} installs/s  deploy attempts ${starts}  held: ${owners.map((o) => o.n).join(' + ')}`,
    );
    for (const id of ids) await api.delete(`/functions/v1/mcp-connections/${id}`);
  };
  try {
    console.log(`${INSTALLS} concurrent installs of memory-server (local provider), 5 accounts:`);
    await round('one sandbox-service replica');
    second = await new TestPlatform(infra, {
      services: ['sandbox-service'],
      env: {
        ...env,
        SERVICE_ROLE_KEY: platform.serviceRoleKey,
        INTERNAL_SECRET: platform.internalSecret,
        CREDENTIAL_KEYS: platform.credentialKeys,
      },
    }).start();
    await round('two sandbox-service replicas');
  } finally {
    await amqp.close();
    await second?.stop();
    await platform.stop();
    await infra.dispose();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
