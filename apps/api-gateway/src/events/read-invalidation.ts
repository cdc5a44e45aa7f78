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
import { McpProxy } from '../mcp/mcp-proxy';
import { WorkerPeers } from '../cluster/worker-peers';
import { ConnectionStreams } from '../streams/connection-streams';
import { GatewayReads } from '../cache/gateway-reads';

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
  /** The sockets to a server that stopped, closed in every worker of the gateway. */
  private readonly release: (id: string) => void;

  constructor(
    private readonly reads: GatewayReads,
    proxy: McpProxy,
    peers: WorkerPeers,
    private readonly streams: ConnectionStreams,
  ) {
    this.release = peers.shared('mcp.release', (id: string) => proxy.release(id));
  }

  @Handle(SandboxConnectionStatusChanged, { everyReplica: true })
  changed(event: ConnectionStatusChangedEvent): void {
    // Its cached reads and route, in every worker (GatewayReads shares the drop).
    this.reads.connectionChanged(event.connection_id, event.account_id);
    if (event.from === 'mcpRunning') this.release(event.connection_id);
    this.streams.statusChanged(event);
  }

  @Handle(SandboxConnectionDeleted, { everyReplica: true })
  deleted(event: ConnectionDeletedEvent): void {
    this.reads.connectionChanged(event.connection_id, event.account_id);
    this.release(event.connection_id);
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
