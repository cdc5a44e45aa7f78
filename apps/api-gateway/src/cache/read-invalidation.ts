import {
  type ConnectionDeletedEvent,
  type ConnectionStatusChangedEvent,
  RegistryServerCreated,
  SandboxConnectionDeleted,
  SandboxConnectionStatusChanged,
} from '@athenic/contracts';
import { Handle } from '@athenic/messaging';
import { Controller } from '@nestjs/common';
import { ConnectionRoutes } from '../mcp/connection-routes';
import { McpProxy } from '../mcp/mcp-proxy';
import { GatewayReads } from './gateway-reads';

/**
 * The services' events that make what the gateway keeps stale: each drops what it changed (a
 * route, cached reads, and the sockets to a server that stopped running).
 */
@Controller()
export class ReadInvalidationListener {
  constructor(
    private readonly routes: ConnectionRoutes,
    private readonly reads: GatewayReads,
    private readonly proxy: McpProxy,
  ) {}

  @Handle(SandboxConnectionStatusChanged)
  changed(event: ConnectionStatusChangedEvent): void {
    this.routes.forget(event.connection_id);
    this.reads.connectionChanged(event.connection_id, event.account_id);
    if (event.from === 'mcpRunning') this.proxy.release(event.connection_id);
  }

  @Handle(SandboxConnectionDeleted)
  deleted(event: ConnectionDeletedEvent): void {
    this.routes.forget(event.connection_id);
    this.reads.connectionChanged(event.connection_id, event.account_id);
    this.proxy.release(event.connection_id);
  }

  @Handle(RegistryServerCreated)
  serverCreated(): void {
    this.reads.catalogChanged();
  }
}
