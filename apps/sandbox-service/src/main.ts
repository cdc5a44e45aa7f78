import 'reflect-metadata';
import { runBusService } from '@athenic/bootstrap';
import { AppModule } from './app.module';
import { loadEnv } from './config/env';
import { sandboxDataSource } from './database/data-source';

runBusService({
  owner: 'sandbox',
  loadConfig: loadEnv,
  addresses: (env) => env,
  dataSource: (env) => sandboxDataSource(env.DATABASE_URL),
  module: (env, dataSource) => AppModule.register(env, dataSource),
});
