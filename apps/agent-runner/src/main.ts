import 'reflect-metadata';
import { runBusService } from '@athenic/bootstrap';
import { AppModule } from './app.module';
import { loadConfig } from './config/env';
import { agentDataSource } from './database/data-source';
import { RunsService } from './runs/runs.service';

runBusService({
  owner: 'agent',
  loadConfig,
  addresses: (config) => config.env,
  dataSource: (config) => agentDataSource(config.env.DATABASE_URL),
  module: (config, dataSource) => AppModule.register(config, dataSource),
  // Runs that were in progress when the runner stopped cannot resume mid-conversation: say so.
  prepare: (app) => app.get(RunsService).failInterrupted(),
});
