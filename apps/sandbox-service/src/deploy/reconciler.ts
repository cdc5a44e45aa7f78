import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConnectionStore } from '../connections/connection-store';
import { Lifecycle } from '../lifecycle/lifecycle';
import { Replicas } from '../lifecycle/replicas';
import { SANDBOX_PROVIDER, type SandboxProvider } from '../providers/sandbox-provider';
import { Deployer } from './deployer';
import { SandboxRuntime } from './sandbox-runtime';

/**
 * Brings what runs in line with what users want after this service (re)starts, for the
 * connections this replica held and those of replicas that are gone (docs/lifecycle.md): its
 * lease is taken first; sandboxes that survive a restart are taken back; other connections that
 * were deploying or running there have lost their sandbox, so those wanted running are requeued
 * (never left in mcpDeploying) and servers that belong to no live connection are killed.
 */
@Injectable()
export class Reconciler {
  private readonly log = new Logger('Reconciler');

  constructor(
    @Inject(SANDBOX_PROVIDER) private readonly provider: SandboxProvider,
    private readonly store: ConnectionStore,
    private readonly lifecycle: Lifecycle,
    private readonly replicas: Replicas,
    private readonly runtime: SandboxRuntime,
    private readonly deployer: Deployer,
  ) {}

  async atStart(): Promise<void> {
    await this.replicas.join();
    // Another live replica's connections are its own business.
    const { ours: rows, elsewhere: heldElsewhere } = await this.replicas.split(
      await this.store.inStatus(['mcpDeploying', 'mcpRunning']),
    );
    // Sandboxes that outlived the restart (E2B) are taken back first, so they are not orphans.
    // Those the provider cannot tell about right now stay as they are; the supervisor tries again.
    let adopted = 0;
    const adopting = new Set<string>();
    if (this.provider.survivesRestart) {
      for (const row of rows) {
        if (row.status !== 'mcpRunning' || row.desiredState !== 'running') continue;
        const outcome = await this.deployer.adopt(row);
        if (outcome === 'adopted') adopted++;
        if (outcome === 'unavailable') adopting.add(row.id);
        if (outcome === 'elsewhere') heldElsewhere.add(row.id);
      }
      if (adopted > 0) this.log.log(`Found ${adopted} running sandbox(es) again`);
    }
    await this.runtime.killOrphans([...adopting, ...heldElsewhere]);
    for (const row of rows) {
      if (this.runtime.get(row.id) || adopting.has(row.id) || heldElsewhere.has(row.id)) continue;
      const cause =
        row.ownerId === this.replicas.id || !row.ownerId ? 'service-restarted' : 'replica-gone';
      await this.lifecycle.lose(row, cause, { generation: row.generation, owner: row.ownerId });
    }
  }
}
