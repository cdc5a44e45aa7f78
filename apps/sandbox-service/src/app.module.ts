import { serviceModuleMetadata } from '@athenic/bootstrap';
import { SandboxHealthGet } from '@athenic/contracts';
import { type DynamicModule, Module } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { SandboxEnv } from './config/env';

@Module({})
export class AppModule {
  static register(env: SandboxEnv, dataSource: DataSource): DynamicModule {
    return {
      module: AppModule,
      ...serviceModuleMetadata({ owner: 'sandbox', env, dataSource, health: SandboxHealthGet }),
    };
  }
}
