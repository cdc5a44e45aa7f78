import { exitOnEnvError } from '@athenic/config';
import { DomainError, type Owner, SERVICE_OF_OWNER } from '@athenic/contracts';
import { isDatabaseUnavailable, migrate } from '@athenic/database';
import {
  BusServer,
  HEALTH_CHECKS,
  type HealthCheck,
  registerErrorTranslator,
} from '@athenic/messaging';
import type { DynamicModule, INestMicroservice, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import type { DataSource } from 'typeorm';
import { guardProcess } from './process-guards';
import { serveProbes } from './probes';
import { closeOnSignals } from './shutdown';

export interface BusServiceDefinition<C> {
  owner: Owner;
  /** Reads and validates the service's environment (its config/env.ts). */
  loadConfig: () => C;
  /** Where the broker and the database are, from the config. */
  addresses: (config: C) => {
    AMQP_URL: string;
    DATABASE_URL: string;
    PROBE_PORT?: number;
    BUS_QUEUE_TYPE?: 'classic' | 'quorum';
  };
  dataSource: (config: C) => DataSource;
  module: (config: C, dataSource: DataSource) => DynamicModule;
  /** Work before the service takes its first message (seeding). */
  prepare?: (app: INestMicroservice) => Promise<void>;
}

/**
 * The start-up of a service whose only inbound traffic is the bus, in order: validate the
 * environment (exit naming the bad variable), run the service's migrations (an explicit step),
 * start the Nest app with its pino logger and bus server. SIGTERM stops consuming, lets work in
 * flight finish, then closes everything.
 */
export function runBusService<C>(definition: BusServiceDefinition<C>): void {
  const service = SERVICE_OF_OWNER[definition.owner];
  const start = async () => {
    let config: C;
    try {
      config = definition.loadConfig();
    } catch (error) {
      exitOnEnvError(error, service);
    }
    const dataSource = definition.dataSource(config);
    // A database outage reaches callers as a clear 503, not an internal error.
    registerErrorTranslator((error) =>
      isDatabaseUnavailable(error)
        ? new DomainError(
            'service_unavailable',
            `The ${service} cannot reach its database right now; try again shortly.`,
          )
        : undefined,
    );
    await migrate(dataSource);
    const app = await NestFactory.createMicroservice(definition.module(config, dataSource), {
      strategy: new BusServer({
        url: definition.addresses(config).AMQP_URL,
        owner: definition.owner,
        queueType: definition.addresses(config).BUS_QUEUE_TYPE,
      }),
      bufferLogs: true,
    });
    const logger: LoggerService = app.get(Logger);
    app.useLogger(logger);
    guardProcess(service, logger);
    closeOnSignals(app, service, logger);
    await app.init();
    await definition.prepare?.(app);
    await app.listen();
    const probePort = definition.addresses(config).PROBE_PORT;
    if (probePort)
      await serveProbes(probePort, app.get<HealthCheck[]>(HEALTH_CHECKS), service, logger);
    logger.log(`${service} ready (pid ${process.pid})`, 'Bootstrap');
  };
  start().catch((error: unknown) => {
    process.stderr.write(
      `${service} failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  });
}
