import {
  DomainError,
  type McpServerEntry,
  RemoteTemplateError,
  isRemoteTransport,
  resolveRemoteHeaders,
  resolveRemoteUrl,
} from '@athenic/contracts';
import { type EgressTarget, TargetParseError, egressTargets } from '@athenic/egress';
import type { ExitInfo } from '@athenic/mcp-bridge';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { constants as osConstants } from 'node:os';
import { SANDBOX_CONFIG, type SandboxConfig } from '../config/env';
import { ConnectionStore } from '../connections/connection-store';
import { CLOCK, type Clock } from '../lifecycle/clock';
import { Lifecycle } from '../lifecycle/lifecycle';
import type { ConnectionEntity } from '../connections/connection.entity';
import { SecretMasker } from '@athenic/platform-crypto';
import { LogStore } from '../logs/log-store';
import {
  DeployError,
  SANDBOX_PROVIDER,
  type SandboxHooks,
  type SandboxProvider,
  tailSummary,
} from '../providers/sandbox-provider';
import { REMOTE_REF_PREFIX, RemoteConnector } from '../providers/remote-connector';
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
  /** Failed attempts to take a connection back after a restart, per connection. */
  private readonly adoptionAttempts = new Map<string, number>();

  constructor(
    @Inject(SANDBOX_CONFIG) private readonly config: SandboxConfig,
    @Inject(SANDBOX_PROVIDER) private readonly provider: SandboxProvider,
    private readonly store: ConnectionStore,
    private readonly lifecycle: Lifecycle,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly runtime: SandboxRuntime,
    private readonly types: ServerTypes,
    private readonly credentials: CredentialsClient,
    private readonly logs: LogStore,
    private readonly remote: RemoteConnector,
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
    // deploy() records its own failures; a failure to record one (the database gone) is logged.
    entry.deploying = this.deploy(connection, abort.signal).catch((error: unknown) =>
      this.log.error(`Could not record the deploy of ${connection.id}: ${describe(error)}`),
    );
  }

  private async deploy(connection: ConnectionEntity, signal: AbortSignal): Promise<void> {
    const { id, generation } = connection;
    const deadline =
      connection.deployDeadlineAt?.getTime() ??
      this.clock.now() + this.config.env.DEPLOY_TIMEOUT_MS;
    this.logs.append(id, 'system', `Deploying ${connection.mcpServerId} (attempt ${generation})`);
    // Masks the credentials in everything the server says, failure reasons included.
    let masker = new SecretMasker([]);
    try {
      const entry = await this.types.get(connection.mcpServerId);
      const credentials = await this.credentials.reveal(connection.accountId, id);
      masker = new SecretMasker(Object.values(credentials));
      const remaining = deadline - this.clock.now();
      if (remaining <= 0)
        throw new DeployError(
          `Deploy timeout: the deadline of ${this.config.env.DEPLOY_TIMEOUT_MS / 1000} s passed before the server started.`,
        );
      const runtimeEntry = this.runtime.get(id);
      if (runtimeEntry) runtimeEntry.masker = masker;
      const handle = isRemoteTransport(entry.transport)
        ? await this.remote.start(
            {
              connectionId: id,
              accountId: connection.accountId,
              transport: entry.transport,
              ...remoteTarget(entry, connection.config, credentials),
            },
            remaining,
            this.hooks(id, generation, masker),
            signal,
          )
        : await this.provider.start(
            {
              connectionId: id,
              accountId: connection.accountId,
              ...resolveLaunch({
                entry,
                installed: await this.types.installed(entry),
                credentials,
                config: connection.config,
                paths: this.provider.paths(id),
              }),
              egress: entry.egress,
              egressTargets: userTargets(entry, connection.config, credentials),
              persistentStorage: connection.config.persistent_storage === true,
            },
            remaining,
            this.hooks(id, generation, masker),
            signal,
          );
      const current = this.runtime.get(id);
      if (signal.aborted || current?.generation !== generation) {
        // Stopped or redeployed while the sandbox came up: it is not wanted.
        await handle.stop();
        return;
      }
      current.handle = handle;
      const running = await this.lifecycle.apply(
        id,
        'deployed',
        {
          tools: handle.ready.tools,
          isolation: handle.isolation,
          bridgeUrl: handle.bridgeUrl,
          sandboxRef: handle.ref,
        },
        { generation },
      );
      if (!running) {
        // Stopped, deleted or redeployed meanwhile: this sandbox is not wanted.
        await handle.stop();
        return;
      }
      this.logs.append(
        id,
        'system',
        handle.isolation === 'remote'
          ? `Connected to the remote server with ${handle.ready.tools} tool(s)`
          : `Running in a ${handle.isolation} sandbox with ${handle.ready.tools} tool(s)`,
      );
    } catch (error) {
      if (signal.aborted) return;
      const reason = masker.mask(error instanceof DeployError ? error.reason : describe(error));
      this.logs.append(id, 'system', `Deploy failed: ${reason}`);
      this.log.warn(`Deploy of ${id} failed: ${reason}`);
      await this.lifecycle.apply(id, 'deployFailed', { reason }, { generation });
      const current = this.runtime.get(id);
      if (current?.generation === generation) this.runtime.delete(id);
    }
  }

  /**
   * After a restart of this service: takes a running connection's sandbox back (providers whose
   * sandboxes survive a restart), with its credentials revealed again for the log masker: "gone"
   * when its sandbox is (the connection is then redeployed), "unavailable" when that cannot be
   * told right now (E2B or the credential service away): tried again later, a few times, before
   * it counts as gone; "elsewhere" when another replica took it over first.
   */
  async adopt(row: ConnectionEntity): Promise<'adopted' | 'gone' | 'unavailable' | 'elsewhere'> {
    // A remote connection has no sandbox to take back: it connects again.
    if (!this.provider.adopt || !row.sandboxRef || row.sandboxRef.startsWith(REMOTE_REF_PREFIX))
      return 'gone';
    // Taken over first (from this replica before a restart, or one that is gone), so two
    // replicas never both adopt it.
    if (!(await this.lifecycle.claim(row))) return 'elsewhere';
    let handle;
    try {
      const masker = new SecretMasker(
        Object.values(await this.credentials.reveal(row.accountId, row.id)),
      );
      handle = await this.provider.adopt(
        row.id,
        row.sandboxRef,
        row.config.persistent_storage === true,
        this.hooks(row.id, row.generation, masker),
      );
      if (handle)
        this.runtime.set(row.id, {
          generation: row.generation,
          abort: new AbortController(),
          handle,
          masker,
        });
    } catch (error) {
      const attempts = (this.adoptionAttempts.get(row.id) ?? 0) + 1;
      this.adoptionAttempts.set(row.id, attempts);
      this.log.warn(`Taking ${row.id} back failed (attempt ${attempts}): ${describe(error)}`);
      if (attempts < ADOPTION_ATTEMPTS) return 'unavailable';
    }
    this.adoptionAttempts.delete(row.id);
    if (!handle) return 'gone';
    this.logs.append(
      row.id,
      'system',
      'Found the running sandbox again after a restart of the sandbox service',
    );
    return 'adopted';
  }

  private hooks(id: string, generation: number, masker: SecretMasker): SandboxHooks {
    return {
      onLog: (stream, line) => this.logs.append(id, stream, masker.mask(line)),
      onExit: (info) => void this.exited(id, generation, info, masker),
    };
  }

  /**
   * The server of a connection exited. After a stop there is nothing to do; after a crash the
   * server is restarted with exponential back-off until the crash budget is spent, then the
   * connection is left in mcpError with the exit and the last lines of stderr.
   */
  private async exited(
    id: string,
    generation: number,
    info: ExitInfo,
    masker: SecretMasker,
  ): Promise<void> {
    const current = this.runtime.get(id);
    if (!current || current.generation !== generation || !current.handle) return; // a stop, or a failed start
    // The entry stays until the exit is recorded, so reconciliation does not take the connection
    // for lost meanwhile (and redeploy it past the back-off and the crash budget).
    const how = current.unhealthy ?? info.reason ?? describeExit(info);
    const tail = masker.mask(tailSummary(current.handle.stderrTail()));
    this.logs.append(id, 'system', masker.mask(`The server ${how}`));
    try {
      const row = await this.store.findOptional(id);
      if (!row || row.generation !== generation || row.status !== 'mcpRunning') return;
      // A server that ran a good while before crashing starts a fresh budget.
      const stable =
        row.runningSince !== null && this.clock.now() - row.runningSince.getTime() > STABLE_RUN_MS;
      const restarts = stable ? 0 : row.restartCount;
      const { CRASH_BUDGET: budget, RESTART_BACKOFF_MS: backoff } = this.config.env;
      if (row.desiredState === 'running' && restarts < budget) {
        const delayMs = backoff * 2 ** restarts;
        const restarting = await this.lifecycle.apply(
          id,
          'crashed',
          { how, restarts, budget, delayMs },
          { generation },
        );
        if (restarting) this.later(delayMs, restarting.id, restarting.generation);
        return;
      }
      await this.lifecycle.apply(id, 'crashBudgetSpent', { how, restarts, tail }, { generation });
    } catch (error) {
      this.log.error(`Could not record the exit of ${id}: ${describe(error)}`);
    } finally {
      if (this.runtime.get(id) === current) this.runtime.delete(id);
    }
  }

  /** Deploys again after a back-off, unless the connection moved on meanwhile. */
  private later(delay: number, id: string, generation: number): void {
    this.clock.after(delay, () => {
      void this.store.findOptional(id).then(
        (row) => {
          if (
            row &&
            row.status === 'mcpDeploying' &&
            row.generation === generation &&
            !this.runtime.get(id)
          )
            this.begin(row);
        },
        (error: unknown) => {
          // The database is away: try again, so the connection is not left waiting for ever.
          const retry = Math.min(Math.max(delay * 2, 1000), 30_000);
          this.log.warn(`Restart of ${id} postponed ${retry} ms: ${describe(error)}`);
          this.later(retry, id, generation);
        },
      );
    });
  }
}

/**
 * How a server ended. Under bubblewrap a signal reaches us as the exit code 128 + n of the
 * sandbox's init: reported as the signal it was.
 */
export function describeExit(info: ExitInfo): string {
  const signal =
    info.signal ??
    (info.code !== null && info.code > 128 && info.code < 160
      ? signalName(info.code - 128)
      : undefined);
  return signal ? `was killed (${signal})` : `exited with code ${info.code}`;
}

function signalName(n: number): string | undefined {
  return Object.entries(osConstants.signals).find(([, value]) => value === n)?.[0];
}

/** Attempts to take a sandbox back that fail for want of an answer before it counts as gone. */
const ADOPTION_ATTEMPTS = 5;

/** Runs longer than this before a crash reset the restart count. */
const STABLE_RUN_MS = 60_000;

function describe(error: unknown): string {
  if (error instanceof DomainError) {
    return error.code === 'service_unavailable'
      ? `A platform service was unavailable: ${error.message}`
      : error.message;
  }
  return `Unexpected failure: ${error instanceof Error ? error.message : String(error)}`;
}

/** The places the connection's user gave it (its config and credential fields marked as targets). */
function userTargets(
  entry: McpServerEntry,
  config: Record<string, unknown>,
  credentials: Record<string, string>,
): EgressTarget[] {
  try {
    return [
      ...egressTargets(entry.config_schema, config, 'config'),
      ...egressTargets(entry.credential_schema, credentials, 'provided_credential_schema'),
    ];
  } catch (error) {
    if (error instanceof TargetParseError) throw new DeployError(`${error.message}.`);
    throw error;
  }
}

/** A remote entry's URL and headers for this connection (the headers may hold credentials). */
function remoteTarget(
  entry: McpServerEntry,
  config: Record<string, unknown>,
  credentials: Record<string, string>,
): { url: URL; headers: Record<string, string> } {
  if (!entry.remote) throw new DeployError(`The server type ${entry.id} has no remote URL.`);
  try {
    return {
      url: resolveRemoteUrl(entry.remote.url, config),
      headers: resolveRemoteHeaders(entry.remote.headers, config, credentials),
    };
  } catch (error) {
    if (error instanceof RemoteTemplateError) throw new DeployError(error.message);
    throw error;
  }
}
