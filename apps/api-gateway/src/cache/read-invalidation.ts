import {
  type ConnectionDeletedEvent,
  type ConnectionStatusChangedEvent,
  RegistryServerChanged,
  RegistryServerCreated,
  SandboxConnectionDeleted,
  SandboxConnectionStatusChanged,
} from '@athenic/contracts';
import { Handle } from '@athenic/messaging';
import { Controller } from '@nestjs/common';
import { ConnectionRoutes } from '../mcp/connection-routes';
import { McpProxy } from '../mcp/mcp-proxy';
import { WorkerPeers } from '../cluster/worker-peers';
import { ConnectionStreams } from '../streams/connection-streams';
import { GatewayReads } from './gateway-reads';

/**
 * The services' events that make what the gateway keeps stale: each drops what it changed (a
 * route, cached reads, and the sockets to a server that stopped running). Every gateway replica
 * gets each of them (`everyReplica`: its own queue), and relays it to its workers. The same
 * events feed the live connection stream (streams/connection-streams.ts): every worker process has
 * its own bus connection and queue (main.ts), so each writes them to its own stream clients and
 * none relays them.
 */
@Controller()
export class ReadInvalidationListener {
  /** The route, and the sockets if the server stopped, dropped in every worker of the gateway. */
  private readonly forgetRoute: (id: string, release: boolean) => void;

  constructor(
    routes: ConnectionRoutes,
    private readonly reads: GatewayReads,
    proxy: McpProxy,
    peers: WorkerPeers,
    private readonly streams: ConnectionStreams,
  ) {
    this.forgetRoute = peers.shared('routes.forget', (id: string, release: boolean) => {
      routes.forget(id);
      if (release) proxy.release(id);
    });
  }

  @Handle(SandboxConnectionStatusChanged, { everyReplica: true })
  changed(event: ConnectionStatusChangedEvent): void {
    this.forgetRoute(event.connection_id, event.from === 'mcpRunning');
    this.reads.connectionChanged(event.connection_id, event.account_id);
    this.streams.statusChanged(event);
  }

  @Handle(SandboxConnectionDeleted, { everyReplica: true })
  deleted(event: ConnectionDeletedEvent): void {
    this.forgetRoute(event.connection_id, true);
    this.reads.connectionChanged(event.connection_id, event.account_id);
    this.streams.deleted(event);
  }

  @Handle(RegistryServerCreated, { everyReplica: true })
  serverCreated(): void {
    this.reads.catalogChanged();
  }

  @Handle(RegistryServerChanged, { everyReplica: true })
  serverChanged(): void {
    this.reads.catalogChanged();
  }
}
