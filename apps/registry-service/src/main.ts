import 'reflect-metadata';
import { runBusService } from '@athenic/bootstrap';
import { AppModule } from './app.module';
import { loadEnv } from './config/env';
import { registryDataSource } from './database/data-source';
import { McpServersService } from './servers/mcp-servers.service';

runBusService({
  owner: 'registry',
  loadConfig: loadEnv,
  addresses: (env) => env,
  dataSource: (env) => registryDataSource(env.DATABASE_URL),
  module: (env, dataSource) => AppModule.register(env, dataSource),
  prepare: (app) => app.get(McpServersService).seedBuiltins(),
});
