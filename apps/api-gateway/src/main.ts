import 'reflect-metadata';
import { closeOnSignals, guardProcess } from '@athenic/bootstrap';
import { exitOnEnvError } from '@athenic/config';
import { BusServer } from '@athenic/messaging';
import { Logger } from 'nestjs-pino';
import cluster from 'node:cluster';
import { runPrimary } from './cluster/primary';
import { type GatewayConfig, loadConfig } from './config/env';
import { createGatewayApp } from './gateway-app';

async function main(): Promise<void> {
  let config: GatewayConfig;
  try {
    config = loadConfig();
  } catch (error) {
    exitOnEnvError(error, 'api-gateway');
  }
  // Several workers share the port; the primary only supervises them (cluster/primary.ts).
  if (cluster.isPrimary && config.workers > 1)
    return runPrimary(config.workers, config.env.LOG_LEVEL);
  const app = await createGatewayApp(config);
  const logger = app.get(Logger);
  app.connectMicroservice(
    {
      strategy: new BusServer({
        url: config.env.AMQP_URL,
        owner: 'gateway',
        queueType: config.env.BUS_QUEUE_TYPE,
      }),
    },
    { inheritAppConfig: true },
  );
  guardProcess('api-gateway', logger);
  closeOnSignals(app, 'api-gateway', logger);
  // HTTP comes up even while the broker is down, so /health can say so; the bus server joins
  // as soon as RabbitMQ answers.
  app
    .startAllMicroservices()
    .catch((error: unknown) => logger.error(`Bus server failed: ${String(error)}`, 'Bootstrap'));
  await app.listen(config.env.PORT);
  if (config.secretsFile)
    logger.log(
      `Development secrets (SERVICE_ROLE_KEY, ...) are in ${config.secretsFile}`,
      'Bootstrap',
    );
  logger.log(
    `api-gateway ready: API ${config.publicBaseUrl}/functions/v1, docs ${config.publicBaseUrl}/docs`,
    'Bootstrap',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `api-gateway failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
