import { serviceModuleMetadata } from '@athenic/bootstrap';
import { CredentialHealthGet } from '@athenic/contracts';
import { type DynamicModule, Module } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { CredentialEnv } from './config/env';

@Module({})
export class AppModule {
  static register(env: CredentialEnv, dataSource: DataSource): DynamicModule {
    return {
      module: AppModule,
      ...serviceModuleMetadata({
        owner: 'credential',
        env,
        dataSource,
        health: CredentialHealthGet,
      }),
    };
  }
}
