import { serviceModuleMetadata } from '@athenic/bootstrap';
import { SandboxHealthGet } from '@athenic/contracts';
import { EgressGuard, createEgressGuard } from '@athenic/egress';
import { SessionBudget } from '@athenic/mcp-bridge';
import { Outbox } from '@athenic/messaging';
import { type DynamicModule, Module } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { SANDBOX_CONFIG, type SandboxConfig } from './config/env';
import { ConnectionStore } from './connections/connection-store';
import { CredentialsClient } from './deploy/credentials-client';
import { Deployer } from './deploy/deployer';
import { Reconciler } from './deploy/reconciler';
import { ReleaseListener } from './deploy/release-listener';
import { SandboxRuntime } from './deploy/sandbox-runtime';
import { Scheduler } from './deploy/scheduler';
import { Supervisor } from './deploy/supervisor';
import { CLOCK, systemClock } from './lifecycle/clock';
import { Lifecycle } from './lifecycle/lifecycle';
import { Replicas } from './lifecycle/replicas';
import { LogStore } from './logs/log-store';
import { ConnectionsHandler } from './operations/connections.handler';
import { ConnectionsService } from './operations/connections.service';
import { BridgeHost } from './providers/bridge-host';
import { E2bProvider, e2bSettings } from './providers/e2b.provider';
import { LocalProvider } from './providers/local.provider';
import { RemoteConnector } from './providers/remote-connector';
import { SANDBOX_PROVIDER } from './providers/sandbox-provider';
import { ServerTypes } from './registry/server-types';

@Module({})
export class AppModule {
  static register(config: SandboxConfig, dataSource: DataSource): DynamicModule {
    return {
      module: AppModule,
      ...serviceModuleMetadata({
        owner: 'sandbox',
        env: config.env,
        dataSource,
        health: SandboxHealthGet,
        healthChecks: {
          inject: [SANDBOX_CONFIG, LocalProvider],
          useFactory: (settings: SandboxConfig, local: LocalProvider) => [
            {
              // The isolation servers get (docs/security/egress.md), reported by GET /health.
              name: 'isolation',
              check: async () =>
                settings.env.SANDBOX_PROVIDER === 'e2b'
                  ? {
                      status: 'ok' as const,
                      detail: 'e2b: an E2B sandbox per connection, with an egress allow-list',
                    }
                  : local.isolationHealth(),
            },
          ],
        },
        controllers: [ConnectionsHandler, ReleaseListener],
        providers: [
          { provide: SANDBOX_CONFIG, useValue: config },
          Outbox,
          BridgeHost,
          {
            // The egress rule of every sandbox of this service (docs/security/egress.md).
            provide: EgressGuard,
            inject: [SANDBOX_CONFIG],
            useFactory: (settings: SandboxConfig) => createEgressGuard(settings.env),
          },
          {
            // The MCP sessions of one account across all the bridges of this process.
            provide: SessionBudget,
            inject: [SANDBOX_CONFIG],
            useFactory: (settings: SandboxConfig) =>
              new SessionBudget({ limit: settings.env.MCP_SESSIONS_PER_ACCOUNT }),
          },
          LocalProvider,
          RemoteConnector,
          {
            provide: SANDBOX_PROVIDER,
            inject: [SANDBOX_CONFIG, LocalProvider],
            useFactory: (settings: SandboxConfig, local: LocalProvider) =>
              settings.env.SANDBOX_PROVIDER === 'e2b'
                ? new E2bProvider(e2bSettings(settings))
                : local,
          },
          ServerTypes,
          CredentialsClient,
          LogStore,
          { provide: CLOCK, useValue: systemClock },
          ConnectionStore,
          Replicas,
          Lifecycle,
          SandboxRuntime,
          Deployer,
          Scheduler,
          Reconciler,
          Supervisor,
          ConnectionsService,
        ],
      }),
    };
  }
}
