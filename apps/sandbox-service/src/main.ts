import 'reflect-metadata';
import { runBusService } from '@athenic/bootstrap';
import { AppModule } from './app.module';
import { SANDBOX_CONFIG, type SandboxConfig, loadConfig } from './config/env';
import { sandboxDataSource } from './database/data-source';
import { Reconciler } from './deploy/reconciler';
import { Scheduler } from './deploy/scheduler';
import { Supervisor } from './deploy/supervisor';
import { BridgeHost } from './providers/bridge-host';
import { LocalProvider } from './providers/local.provider';

runBusService({
  owner: 'sandbox',
  loadConfig,
  addresses: (config) => config.env,
  dataSource: (config) => sandboxDataSource(config.env.DATABASE_URL),
  module: (config, dataSource) => AppModule.register(config, dataSource),
  // Before the first message: the bridges' HTTP server, the sandbox files, and a reconciliation
  // of what the database says runs with what really does.
  prepare: async (app) => {
    const { env } = app.get<SandboxConfig>(SANDBOX_CONFIG);
    await app.get(BridgeHost).listen(env.BRIDGE_HOST, env.BRIDGE_PORT, env.BRIDGE_PUBLIC_URL);
    await app.get(LocalProvider).prepare();
    await app.get(Reconciler).atStart();
    app.get(Scheduler).start();
    app.get(Supervisor).start();
  },
});
