import { serviceModuleMetadata } from '@athenic/bootstrap';
import { CredentialHealthGet } from '@athenic/contracts';
import { Outbox } from '@athenic/messaging';
import { type DynamicModule, Module } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { ApiKeysHandler } from './api-keys/api-keys.handler';
import { ApiKeysService } from './api-keys/api-keys.service';
import { AuditService } from './audit/audit.service';
import { CREDENTIAL_CONFIG, type CredentialConfig } from './config/env';
import { CredentialSetsHandler } from './credentials/credential-sets.handler';
import { CredentialSetsService } from './credentials/credential-sets.service';
import { KeyringService } from './keys/keyring.service';
import { KeysHandler } from './keys/keys.handler';
import { RotationService } from './keys/rotation.service';
import { TransportKeyService } from './keys/transport-key.service';
import { CredentialSchemas } from './registry/credential-schemas';
import { EgressGuard, createEgressGuard } from '@athenic/egress';

@Module({})
export class AppModule {
  static register(config: CredentialConfig, dataSource: DataSource): DynamicModule {
    return {
      module: AppModule,
      ...serviceModuleMetadata({
        owner: 'credential',
        env: config.env,
        dataSource,
        health: CredentialHealthGet,
        controllers: [CredentialSetsHandler, ApiKeysHandler, KeysHandler],
        providers: [
          { provide: CREDENTIAL_CONFIG, useValue: config },
          Outbox,
          AuditService,
          KeyringService,
          TransportKeyService,
          CredentialSchemas,
          {
            // Credentials that name a place to connect to are checked against the egress rule.
            provide: EgressGuard,
            useFactory: () => createEgressGuard(config.env),
          },
          CredentialSetsService,
          ApiKeysService,
          RotationService,
        ],
      }),
    };
  }
}
