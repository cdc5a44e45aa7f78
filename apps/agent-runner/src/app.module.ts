import { serviceModuleMetadata } from '@athenic/bootstrap';
import { AgentHealthGet } from '@athenic/contracts';
import { type DynamicModule, Module } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { AgentEnv } from './config/env';

@Module({})
export class AppModule {
  static register(env: AgentEnv, dataSource: DataSource): DynamicModule {
    return {
      module: AppModule,
      ...serviceModuleMetadata({ owner: 'agent', env, dataSource, health: AgentHealthGet }),
    };
  }
}
