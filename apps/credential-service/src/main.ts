import 'reflect-metadata';
import { runBusService } from '@athenic/bootstrap';
import { AppModule } from './app.module';
import { loadConfig } from './config/env';
import { credentialDataSource } from './database/data-source';
import { KeyringService } from './keys/keyring.service';
import { RotationService } from './keys/rotation.service';
import { TransportKeyService } from './keys/transport-key.service';

runBusService({
  owner: 'credential',
  loadConfig,
  addresses: (config) => config.env,
  dataSource: (config) => credentialDataSource(config.env.DATABASE_URL),
  module: (config, dataSource) => AppModule.register(config, dataSource),
  // Before the first message: the master keys must match the stored data, the transport key
  // must be loaded, and an interrupted rotation carries on.
  prepare: async (app) => {
    await app.get(KeyringService).verifyAtStart();
    await app.get(TransportKeyService).load();
    app.get(RotationService).resume();
  },
});
