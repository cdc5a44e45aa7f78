import {
  type CommandDef,
  type Empty,
  type Owner,
  SERVICE_OF_OWNER,
  type ServiceHealthReply,
} from '@athenic/contracts';
import { DatabaseModule, checkDatabase } from '@athenic/database';
import { loggerParams } from '@athenic/logging';
import {
  BusModule,
  HEALTH_CHECKS,
  type HealthCheck,
  ServiceHealthController,
} from '@athenic/messaging';
import type { DynamicModule, InjectionToken, Provider, Type } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { DataSource } from 'typeorm';

export interface ServiceModuleOptions {
  owner: Owner;
  env: { AMQP_URL: string; LOG_LEVEL: string };
  dataSource: DataSource;
  health: CommandDef<string, Empty, ServiceHealthReply>;
  controllers?: Type<unknown>[];
  providers?: Provider[];
  /** The service's own health checks, beside the database's, made from its providers. */
  healthChecks?: {
    inject: InjectionToken[];
    useFactory: (...deps: never[]) => HealthCheck[];
  };
}

/**
 * What every bus service is made of: pino logging, its migrated data source, the bus client, and
 * the handler of its health query (which checks Postgres). The service adds its own features.
 */
export function serviceModuleMetadata(
  options: ServiceModuleOptions,
): Omit<DynamicModule, 'module'> {
  return {
    imports: [
      LoggerModule.forRoot(
        loggerParams({ service: SERVICE_OF_OWNER[options.owner], level: options.env.LOG_LEVEL }),
      ),
      DatabaseModule.forDataSource(options.dataSource),
      BusModule.forRoot({ url: options.env.AMQP_URL, owner: options.owner }),
    ],
    controllers: [ServiceHealthController(options.health), ...(options.controllers ?? [])],
    providers: [
      {
        provide: HEALTH_CHECKS,
        useFactory: (ds: DataSource, ...deps: never[]): HealthCheck[] => [
          { name: 'postgres', check: () => checkDatabase(ds) },
          ...(options.healthChecks?.useFactory(...deps) ?? []),
        ],
        inject: [DataSource, ...(options.healthChecks?.inject ?? [])],
      },
      ...(options.providers ?? []),
    ],
  };
}
