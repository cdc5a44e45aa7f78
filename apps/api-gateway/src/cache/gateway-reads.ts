import {
  type ConnectionList,
  type ConnectionRouteReply,
  type ConnectionView,
  DomainError,
  type McpServerEntry,
  RegistryServerGet,
  RegistryServerList,
  SandboxConnectionGet,
  SandboxConnectionList,
  SandboxConnectionRouteGet,
} from '@athenic/contracts';
import { BusClient } from '@athenic/messaging';
import { Injectable } from '@nestjs/common';
import { WorkerPeers } from '../cluster/worker-peers';
import { ReadCache } from './read-cache';

/** How stale a connection read may be when an event is missed (`last_active_at` has no event). */
export const CONNECTION_READ_TTL_MS = 1000;
/** The catalog changes only when a type is added, changed or deleted (events) or the registry restarts. */
export const CATALOG_TTL_MS = 10_000;
/** Where a connection's MCP traffic goes: asked once per this long, not per MCP message. */
export const ROUTE_TTL_MS = 5000;

/**
 * The gateway's cached reads: the catalog, connections by id and by account, and each
 * connection's route (where its MCP traffic goes, and whose it is). A read of another account's
 * connection is refused here exactly as the sandbox service would refuse it. The gateway's own
 * writes and the services' events (see events/read-invalidation.ts) drop entries at once;
 * docs/security/limits.md and the README describe the staleness bound.
 */
@Injectable()
export class GatewayReads {
  /** By viewer: `*` (the service role: everything) or an account (public and its templates). */
  private readonly catalog = new ReadCache<{ data: McpServerEntry[] }>(CATALOG_TTL_MS, 1000);
  private readonly servers = new ReadCache<McpServerEntry>(CATALOG_TTL_MS, 1000);
  private readonly connections = new ReadCache<ConnectionView>(CONNECTION_READ_TTL_MS);
  private readonly lists = new ReadCache<ConnectionList>(CONNECTION_READ_TTL_MS);
  private readonly routes = new ReadCache<ConnectionRouteReply>(ROUTE_TTL_MS);
  /** Which account each connection seen belongs to, so a deletion drops that account's list. */
  private readonly accountOf = new Map<string, string>();

  constructor(
    private readonly bus: BusClient,
    peers: WorkerPeers = new WorkerPeers(),
  ) {
    // Every worker of the gateway drops what changed, whichever worker saw the change.
    this.connectionChanged = peers.shared(
      'reads.connectionChanged',
      (id: string, accountId?: string | null) => {
        this.connections.forget(id);
        this.routes.forget(id);
        const account = accountId ?? this.accountOf.get(id);
        if (account) this.lists.forget(account);
      },
    );
    this.catalogChanged = peers.shared('reads.catalogChanged', () => {
      this.catalog.clear();
      this.servers.clear();
    });
  }

  /** The catalog; `accountId` (an account key's own): public types and its own templates. */
  listServers(accountId?: string): Promise<{ data: McpServerEntry[] }> {
    return this.catalog.get(accountId ?? '*', () =>
      this.bus.send(RegistryServerList, accountId === undefined ? {} : { account_id: accountId }),
    );
  }

  /** One type; `accountId`: another account's template is not found, as the registry says. */
  getServer(id: string, accountId?: string): Promise<McpServerEntry> {
    return this.servers.get(`${accountId ?? '*'}\n${id}`, () =>
      this.bus.send(
        RegistryServerGet,
        accountId === undefined ? { id } : { id, account_id: accountId },
      ),
    );
  }

  /** One connection; `accountId` (an account key's own) must own it. */
  async getConnection(id: string, accountId?: string): Promise<ConnectionView> {
    const view = await this.connections.get(id, () =>
      this.bus.send(SandboxConnectionGet, { id }).then((v) => this.learn(v)),
    );
    if (accountId !== undefined && view.account_id !== accountId)
      throw new DomainError('not_found', `No connection ${id} exists.`);
    return view;
  }

  listConnections(accountId: string): Promise<ConnectionList> {
    return this.lists.get(accountId, () =>
      this.bus.send(SandboxConnectionList, { account_id: accountId }).then((list) => {
        for (const view of list.data) this.learn(view);
        return list;
      }),
    );
  }

  /** Where a connection's MCP traffic goes (its bridge), its status and its account. */
  route(id: string): Promise<ConnectionRouteReply> {
    return this.routes.get(id, () => this.bus.send(SandboxConnectionRouteGet, { id }));
  }

  /** This process found the route's server unreachable: ask again at the next message. */
  forgetRoute(id: string): void {
    this.routes.forget(id);
  }

  /** A connection changed (a write through this gateway, or an event). */
  readonly connectionChanged: (id: string, accountId?: string) => void;

  /** A server type or template was added, changed or deleted. */
  readonly catalogChanged: () => void;

  private learn(view: ConnectionView): ConnectionView {
    if (this.accountOf.size >= 100_000) this.accountOf.clear();
    this.accountOf.set(view.id, view.account_id);
    return view;
  }
}
