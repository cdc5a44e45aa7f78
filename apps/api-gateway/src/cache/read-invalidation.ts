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
import { GatewayReads } from './gateway-reads';

/** The services' events that make what the gateway keeps stale: each drops what it changed. */
@Controller()
export class ReadInvalidationListener {
  constructor(
    private readonly routes: ConnectionRoutes,
    private readonly reads: GatewayReads,
  ) {}

  @Handle(SandboxConnectionStatusChanged)
  changed(event: ConnectionStatusChangedEvent): void {
    this.routes.forget(event.connection_id);
    this.reads.connectionChanged(event.connection_id, event.account_id);
  }

  @Handle(SandboxConnectionDeleted)
  deleted(event: ConnectionDeletedEvent): void {
    this.routes.forget(event.connection_id);
    this.reads.connectionChanged(event.connection_id, event.account_id);
  }

  @Handle(RegistryServerCreated)
  serverCreated(): void {
    this.reads.catalogChanged();
  }
}
