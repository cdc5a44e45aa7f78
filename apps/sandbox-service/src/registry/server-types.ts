import { type McpServerEntry, RegistryServerGet } from '@athenic/contracts';
import { BusClient } from '@athenic/messaging';
import { findInstalledPackage, type InstalledPackage } from '@athenic/mcp-packages';
import { Inject, Injectable } from '@nestjs/common';
import { SANDBOX_CONFIG, type SandboxConfig } from '../config/env';

const CACHE_MS = 30_000;

/**
 * Server types from the registry (cached briefly) and where their packages are installed. A
 * connection's deploy finds its type even once it is deleted (`include_deleted`): a template's
 * installs keep working until they are deleted themselves (docs/adr/0010-account-templates.md).
 */
@Injectable()
export class ServerTypes {
  private readonly cache = new Map<string, { entry: McpServerEntry; at: number }>();

  constructor(
    private readonly bus: BusClient,
    @Inject(SANDBOX_CONFIG) private readonly config: SandboxConfig,
  ) {}

  async get(id: string): Promise<McpServerEntry> {
    const cached = this.cache.get(id);
    if (cached && Date.now() - cached.at < CACHE_MS) return cached.entry;
    const entry = await this.bus.send(RegistryServerGet, { id, include_deleted: true });
    this.cache.set(id, { entry, at: Date.now() });
    return entry;
  }

  /**
   * The type an account may install now: public, or its own template, and not deleted; anything
   * else is `not_found` (asked afresh, never from the cache).
   */
  async forInstall(id: string, accountId: string): Promise<McpServerEntry> {
    const entry = await this.bus.send(RegistryServerGet, { id, account_id: accountId });
    this.cache.set(id, { entry, at: Date.now() });
    return entry;
  }

  installed(entry: McpServerEntry): Promise<InstalledPackage | undefined> {
    return entry.package
      ? findInstalledPackage(this.config.packagesDir, entry.package)
      : Promise.resolve(undefined);
  }
}
