import 'reflect-metadata';
import { runBusService } from '@athenic/bootstrap';
import { AppModule } from './app.module';
import { loadEnv } from './config/env';
import { credentialDataSource } from './database/data-source';

runBusService({
  owner: 'credential',
  loadEnv,
  dataSource: (env) => credentialDataSource(env.DATABASE_URL),
  module: (env, dataSource) => AppModule.register(env, dataSource),
});
