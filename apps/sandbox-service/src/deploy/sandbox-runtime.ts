import { Injectable } from '@nestjs/common';
import type { SecretMasker } from '@athenic/platform-crypto';
import type { SandboxHandle } from '../providers/sandbox-provider';

export interface RuntimeEntry {
  generation: number;
  abort: AbortController;
  handle?: SandboxHandle;
  masker?: SecretMasker;
  /** Settles when the deploy attempt finished (either way). */
  deploying?: Promise<void>;
}

/**
 * What this process runs right now, per connection: the current deploy attempt or the running
 * sandbox. Decrypted values live only inside the sandbox and in the log masker while it runs.
 */
@Injectable()
export class SandboxRuntime {
  private readonly entries = new Map<string, RuntimeEntry>();

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
