import { DomainError } from '@athenic/contracts';
import type { ExitInfo } from '@athenic/mcp-bridge';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { SANDBOX_CONFIG, type SandboxConfig } from '../config/env';
import { ConnectionStore } from '../connections/connection-store';
import type { ConnectionEntity } from '../connections/connection.entity';
import { SecretMasker } from '@athenic/platform-crypto';
import { LogStore } from '../logs/log-store';
import { DeployError, SANDBOX_PROVIDER, type SandboxProvider } from '../providers/sandbox-provider';
import { ServerTypes } from '../registry/server-types';
import { CredentialsClient } from './credentials-client';
import { resolveLaunch } from './launch-resolver';
import { SandboxRuntime } from './sandbox-runtime';

/**
 * Takes a connection from mcpDeploying to mcpRunning: its server type, its credentials (revealed
 * for this deploy only), the sandbox, the server's MCP handshake, then the status change, or
 * mcpError with the reason. A result that arrives after the connection moved on (stopped,
 * deleted, redeployed) is thrown away and its sandbox stopped.
 */
@Injectable()
export class Deployer {
  private readonly log = new Logger('Deployer');

  constructor(
    @Inject(SANDBOX_CONFIG) private readonly config: SandboxConfig,
    @Inject(SANDBOX_PROVIDER) private readonly provider: SandboxProvider,
    private readonly store: ConnectionStore,
    private readonly runtime: SandboxRuntime,
    private readonly types: ServerTypes,
    private readonly credentials: CredentialsClient,
    private readonly logs: LogStore,
  ) {}

  /** Starts a deploy attempt of a connection that just became mcpDeploying. */
  begin(connection: ConnectionEntity): void {
    const abort = new AbortController();
    const entry = {
      generation: connection.generation,
      abort,
      deploying: undefined as Promise<void> | undefined,
    };
    this.runtime.set(connection.id, entry);
    entry.deploying = this.deploy(connection, abort.signal);
  }

  private async deploy(connection: ConnectionEntity, signal: AbortSignal): Promise<void> {
    const { id, generation } = connection;
    const deadline =
      connection.deployDeadlineAt?.getTime() ?? Date.now() + this.config.env.DEPLOY_TIMEOUT_MS;
    this.logs.append(id, 'system', `Deploying ${connection.mcpServerId} (attempt ${generation})`);
    try {
      const entry = await this.types.get(connection.mcpServerId);
      const installed = await this.types.installed(entry);
      const credentials = await this.credentials.reveal(connection.accountId, id);
      const masker = new SecretMasker(Object.values(credentials));
      const launch = resolveLaunch({
        entry,
        installed,
        credentials,
        config: connection.config,
        paths: this.provider.paths(id),
      });
      const remaining = deadline - Date.now();
      if (remaining <= 0)
        throw new DeployError(
          `Deploy timeout: the deadline of ${this.config.env.DEPLOY_TIMEOUT_MS / 1000} s passed before the server started.`,
        );
      const runtimeEntry = this.runtime.get(id);
      if (runtimeEntry) runtimeEntry.masker = masker;
      const handle = await this.provider.start(
        {
          connectionId: id,
          accountId: connection.accountId,
          ...launch,
          egress: entry.egress,
          persistentStorage: connection.config.persistent_storage === true,
        },
        remaining,
        {
          onLog: (stream, line) => this.logs.append(id, stream, masker.mask(line)),
          onExit: (info) => void this.exited(id, generation, info, masker),
        },
        signal,
      );
      const current = this.runtime.get(id);
      if (current?.generation === generation) current.handle = handle;
      const running = await this.store.transition(
        id,
        'mcpRunning',
        `Running: the server answered MCP initialize and lists ${handle.ready.tools} tool(s).`,
        {
          from: ['mcpDeploying'],
          generation,
          patch: {
            isolation: handle.isolation,
            bridgeUrl: handle.bridgeUrl,
            sandboxRef: handle.ref,
            deployDeadlineAt: null,
          },
        },
      );
      if (!running) {
        // Stopped, deleted or redeployed meanwhile: this sandbox is not wanted.
        await handle.stop();
        return;
      }
      this.logs.append(
        id,
        'system',
        `Running in a ${handle.isolation} sandbox with ${handle.ready.tools} tool(s)`,
      );
    } catch (error) {
      if (signal.aborted) return;
      const reason = error instanceof DeployError ? error.reason : describe(error);
      this.logs.append(id, 'system', `Deploy failed: ${reason}`);
      this.log.warn(`Deploy of ${id} failed: ${reason}`);
      await this.store.transition(id, 'mcpError', reason, {
        from: ['mcpDeploying'],
        generation,
        patch: { deployDeadlineAt: null },
      });
      const current = this.runtime.get(id);
      if (current?.generation === generation) this.runtime.delete(id);
    }
  }

  /** The server of a connection exited: a crash if it was running. */
  private async exited(
    id: string,
    generation: number,
    info: ExitInfo,
    masker: SecretMasker,
  ): Promise<void> {
    const current = this.runtime.get(id);
    if (!current || current.generation !== generation || !current.handle) return; // a stop, or a failed start
    this.runtime.delete(id);
    const how = info.signal ? `was killed (${info.signal})` : `exited with code ${info.code}`;
    this.logs.append(id, 'system', masker.mask(`The server ${how}`));
    await this.store
      .transition(
        id,
        'mcpError',
        `The server ${how} while running; see the logs, then start it again.`,
        { from: ['mcpRunning'], generation },
      )
      .catch((error: unknown) =>
        this.log.error(`Could not record the exit of ${id}: ${describe(error)}`),
      );
  }
}

function describe(error: unknown): string {
  if (error instanceof DomainError) {
    return error.code === 'service_unavailable'
      ? `A platform service was unavailable: ${error.message}`
      : error.message;
  }
  return `Unexpected failure: ${error instanceof Error ? error.message : String(error)}`;
}
