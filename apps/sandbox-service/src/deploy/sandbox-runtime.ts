import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { SecretMasker } from '@athenic/platform-crypto';
import type { ConnectionEntity } from '../connections/connection.entity';
import {
  SANDBOX_PROVIDER,
  type SandboxHandle,
  type SandboxProvider,
} from '../providers/sandbox-provider';

export interface RuntimeEntry {
  generation: number;
  abort: AbortController;
  handle?: SandboxHandle;
  masker?: SecretMasker;
  /** Settles when the deploy attempt finished (either way). */
  deploying?: Promise<void>;
  /** Set when the platform itself stops an unhealthy server, to say why when it exits. */
  unhealthy?: string;
  /** MCP pings that failed in a row. */
  failedPings?: number;
}

/**
 * What this process runs right now, per connection: the current deploy attempt or the running
 * sandbox. Decrypted values live only inside the sandbox and in the log masker while it runs.
 */
@Injectable()
export class SandboxRuntime implements OnApplicationShutdown {
  private readonly log = new Logger('SandboxRuntime');
  private readonly entries = new Map<string, RuntimeEntry>();

  constructor(@Inject(SANDBOX_PROVIDER) private readonly provider: SandboxProvider) {}

  entriesList(): [string, RuntimeEntry][] {
    return [...this.entries.entries()];
  }

  /**
   * On SIGTERM: local sandboxes are stopped cleanly (their connections are redeployed at the next
   * start); sandboxes that survive a restart (E2B) are left running, to be found again.
   */
  async onApplicationShutdown(): Promise<void> {
    if (!this.provider.survivesRestart) await this.stopAll();
  }

  get(connectionId: string): RuntimeEntry | undefined {
    return this.entries.get(connectionId);
  }

  set(connectionId: string, entry: RuntimeEntry): void {
    this.entries.set(connectionId, entry);
  }

  delete(connectionId: string): void {
    this.entries.delete(connectionId);
  }

  ids(): Set<string> {
    return new Set(this.entries.keys());
  }

  /** Which provider runs this process's sandboxes (recorded on each connection). */
  get providerName(): SandboxProvider['name'] {
    return this.provider.name;
  }

  /**
   * Stops what runs for a connection that is being stopped or deleted, and removes its working
   * dir unless the user asked for persistent storage (always on delete).
   */
  async release(
    row: Pick<ConnectionEntity, 'id' | 'config'>,
    options: { discardFiles?: boolean } = {},
  ): Promise<void> {
    await this.stop(row.id);
    if (options.discardFiles || row.config.persistent_storage !== true)
      await this.provider.discardFiles(row.id);
  }

  /**
   * Kills what the provider runs that this process does not, except sandboxes of `spared`
   * connections (another live replica's, or waiting to be taken back); returns whose were killed.
   */
  async killOrphans(spared: Iterable<string>): Promise<string[]> {
    const killed = await this.provider.killOrphans(this.ids(), new Set(spared));
    if (killed.length > 0)
      this.log.warn(`Killed ${killed.length} orphaned sandbox(es): ${killed.join(', ')}`);
    return killed;
  }

  /** Cancels a deploy in progress and stops a running sandbox; forgets the connection. */
  async stop(connectionId: string): Promise<void> {
    const entry = this.entries.get(connectionId);
    if (!entry) return;
    this.entries.delete(connectionId);
    entry.abort.abort();
    await entry.deploying?.catch(() => undefined);
    await entry.handle?.stop();
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.entries.keys()].map((id) => this.stop(id)));
  }
}
