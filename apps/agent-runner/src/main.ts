import 'reflect-metadata';
import { runBusService } from '@athenic/bootstrap';
import { AppModule } from './app.module';
import { loadEnv } from './config/env';
import { agentDataSource } from './database/data-source';

runBusService({
  owner: 'agent',
  loadConfig: loadEnv,
  addresses: (env) => env,
  dataSource: (env) => agentDataSource(env.DATABASE_URL),
  module: (env, dataSource) => AppModule.register(env, dataSource),
});
