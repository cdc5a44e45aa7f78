import { GatewayHealthGet } from '@athenic/contracts';
import { loggerParams } from '@athenic/logging';
import { BusModule, HEALTH_CHECKS, ServiceHealthController } from '@athenic/messaging';
import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { GATEWAY_CONFIG, type GatewayConfig } from './config/env';
import { gatewayHealthChecks } from './health/gateway-health';
import { HealthController } from './health/health.controller';
import { HealthService } from './health/health.service';
import { PostgresProbe } from './health/postgres-probe';
import { AdminOnlyGuard } from './http/admin-only.guard';
import { ApiExceptionFilter } from './http/api-exception.filter';
import { JsonBodyGuard } from './http/json-body.guard';
import { apiValidationPipe } from './http/validation.pipe';
import { McpServersController } from './mcp-servers/mcp-servers.controller';
import { CredentialKeysController } from './admin/credential-keys.controller';
import { ApiKeysController } from './api-keys/api-keys.controller';
import { ApiKeyRevocationListener, Authenticator } from './auth/authenticator';
import { PublicKeyController } from './credentials/public-key.controller';
import { ConnectionsController } from './connections/connections.controller';
import { AgentRunsController } from './agents/agent-runs.controller';
import { WhoAmIController } from './auth/whoami.controller';
import { RunProgressListener, RunStreams } from './streams/run-streams';
import { CredentialSealer } from './credentials/credential-sealer';
import { ActivityRecorder } from './mcp/activity';
import { GatewayReads } from './cache/gateway-reads';
import { ReadInvalidationListener } from './events/read-invalidation';
import { McpProxy } from './mcp/mcp-proxy';
import { RateLimits } from './limits/rate-limits';
import { RefusalHold } from './limits/refusal-hold';
import { WorkerPeers } from './cluster/worker-peers';
import { ConnectionStreams } from './streams/connection-streams';

@Module({})
export class AppModule {
  static register(config: GatewayConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        LoggerModule.forRoot(
          // Every MCP message is a request: log those only when they fail.
          loggerParams({
            service: 'api-gateway',
            level: config.env.LOG_LEVEL,
            quietPaths: /\/mcp-connections\/[^/]+\/mcp(\?|$)/,
          }),
        ),
        BusModule.forRoot({
          url: config.env.AMQP_URL,
          owner: 'gateway',
          requestTimeoutMs: config.env.REQUEST_TIMEOUT_MS,
        }),
      ],
      controllers: [
        HealthController,
        McpServersController,
        ApiKeysController,
        PublicKeyController,
        CredentialKeysController,
        ConnectionsController,
        AgentRunsController,
        WhoAmIController,
        ApiKeyRevocationListener,
        ReadInvalidationListener,
        RunProgressListener,
        ServiceHealthController(GatewayHealthGet),
      ],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
        { provide: APP_PIPE, useFactory: apiValidationPipe },
        // Global guards run in this order: who may call the route, then its body is read.
        { provide: APP_GUARD, useClass: AdminOnlyGuard },
        { provide: APP_GUARD, useClass: JsonBodyGuard },
        { provide: HEALTH_CHECKS, useFactory: gatewayHealthChecks, inject: [PostgresProbe] },
        PostgresProbe,
        HealthService,
        Authenticator,
        CredentialSealer,
        ActivityRecorder,
        McpProxy,
        RateLimits,
        { provide: RefusalHold, useValue: new RefusalHold(config) },
        GatewayReads,
        RunStreams,
        WorkerPeers,
        ConnectionStreams,
      ],
    };
  }
}
