import { RegistryHealthGet } from '@athenic/contracts';
import { serviceModuleMetadata } from '@athenic/bootstrap';
import { Outbox } from '@athenic/messaging';
import { type DynamicModule, Module } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { REGISTRY_ENV, type RegistryEnv } from './config/env';
import { McpServersHandler } from './servers/mcp-servers.handler';
import { McpServersRepository } from './servers/mcp-servers.repository';
import { McpServersService } from './servers/mcp-servers.service';

@Module({})
export class AppModule {
  static register(env: RegistryEnv, dataSource: DataSource): DynamicModule {
    return {
      module: AppModule,
      ...serviceModuleMetadata({
        owner: 'registry',
        env,
        dataSource,
        health: RegistryHealthGet,
        controllers: [McpServersHandler],
        providers: [
          { provide: REGISTRY_ENV, useValue: env },
          Outbox,
          McpServersRepository,
          McpServersService,
        ],
      }),
    };
  }
}
