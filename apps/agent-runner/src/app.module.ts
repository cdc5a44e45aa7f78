import { serviceModuleMetadata } from '@athenic/bootstrap';
import { AgentHealthGet } from '@athenic/contracts';
import { type DynamicModule, Module } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { AGENT_CONFIG, type AgentConfig } from './config/env';
import { Models } from './models/models';
import { RunExecutor } from './runs/run-executor';
import { RunsHandler } from './runs/runs.handler';
import { RunsService } from './runs/runs.service';

@Module({})
export class AppModule {
  static register(config: AgentConfig, dataSource: DataSource): DynamicModule {
    return {
      module: AppModule,
      ...serviceModuleMetadata({
        owner: 'agent',
        env: config.env,
        dataSource,
        health: AgentHealthGet,
        controllers: [RunsHandler],
        providers: [{ provide: AGENT_CONFIG, useValue: config }, Models, RunExecutor, RunsService],
      }),
    };
  }
}
