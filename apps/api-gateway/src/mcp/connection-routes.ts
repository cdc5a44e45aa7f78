import { type ConnectionRouteReply, SandboxConnectionRouteGet } from '@athenic/contracts';
import { BusClient } from '@athenic/messaging';
import { Injectable } from '@nestjs/common';

const TTL_MS = 5000;

/**
 * Where each connection's MCP traffic goes, and whose it is: cached, so the MCP path does not ask
 * the bus per message; a status change or deletion drops the entry at once
 * (cache/read-invalidation.ts).
 */
@Injectable()
export class ConnectionRoutes {
  private readonly cache = new Map<string, { route: ConnectionRouteReply; until: number }>();

  constructor(private readonly bus: BusClient) {}

  async get(id: string): Promise<ConnectionRouteReply> {
    const cached = this.cache.get(id);
    if (cached && cached.until > Date.now()) return cached.route;
    const route = await this.bus.send(SandboxConnectionRouteGet, { id });
    this.cache.set(id, { route, until: Date.now() + TTL_MS });
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
    return route;
  }

  forget(id: string): void {
    this.cache.delete(id);
  }
}
