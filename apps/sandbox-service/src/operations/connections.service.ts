import {
  type AccountHealthReply,
  type ConnectionCommand,
  type ConnectionEventList,
  type ConnectionList,
  type ConnectionLogList,
  type ConnectionLogsQuery,
  type ConnectionQuery,
  type ConnectionRouteReply,
  type ConnectionView,
  DomainError,
  type InstallConnectionCommand,
  type InstallConnectionReply,
  type McpServerEntry,
  type ReplaceCredentialsCommand,
  RemoteTemplateError,
  resolveRemoteUrl,
} from '@athenic/contracts';
import { EgressGuard, refuseDeniedTargets } from '@athenic/egress';
import { installConnectionId } from '@athenic/platform-crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { SANDBOX_CONFIG, type SandboxConfig } from '../config/env';
import { CredentialsClient } from '../deploy/credentials-client';
import { Deployer } from '../deploy/deployer';
import { SandboxRuntime } from '../deploy/sandbox-runtime';
import { Scheduler } from '../deploy/scheduler';
import { LogStore } from '../logs/log-store';
import { ServerTypes } from '../registry/server-types';
import { checkConfig } from '../connections/config-rules';
import { ConnectionStore } from '../connections/connection-store';
import { toView } from '../connections/connection-view';
import type { ConnectionEntity } from '../connections/connection.entity';
import { Lifecycle } from '../lifecycle/lifecycle';

const PING_TIMEOUT_MS = 3000;
/**
 * How long an install waits for another install with its key to answer: under the gateway's
 * request timeout (REQUEST_TIMEOUT_MS, 5 s), so the caller hears operation_in_progress, not a
 * timeout.
 */
const INSTALL_WAIT_MS = 4000;
const INSTALL_POLL_MS = 50;

/** What users (through the gateway) and other services ask of connections. */
@Injectable()
export class ConnectionsService {
  private readonly log = new Logger('ConnectionsService');

  constructor(
    @Inject(SANDBOX_CONFIG) private readonly config: SandboxConfig,
    private readonly store: ConnectionStore,
    private readonly lifecycle: Lifecycle,
    private readonly types: ServerTypes,
    private readonly credentials: CredentialsClient,
    private readonly runtime: SandboxRuntime,
    private readonly scheduler: Scheduler,
    private readonly deployer: Deployer,
    private readonly logs: LogStore,
    private readonly guard: EgressGuard,
  ) {}

  /**
   * The connection's id follows from the account and the idempotency key
   * (`installConnectionId`): whoever sealed the credential values knew it and bound them to it,
   * so the credential service stores them for this install's connection and no other. Every
   * install through the gateway has a key, and a bus command without one is keyed by its message
   * id (ConnectionsHandler); only a command with neither gets a random id (and can then carry
   * no sealed value the credential service accepts).
   *
   * One key, one connection: the install claims its key first (the idempotency record without its
   * answer), so an install with the same key meanwhile waits for that answer instead of storing
   * credentials for the same id. A deleted connection takes its record with it, so the key
   * makes the same id again later: acceptable, the old connection, its credentials and history
   * are gone by then. A key whose record expired (24 hours) while its connection still exists is
   * refused (409), since its id is taken.
   */
  async install(command: InstallConnectionCommand): Promise<InstallConnectionReply> {
    const key = command.idempotency_key;
    const deadline = Date.now() + INSTALL_WAIT_MS;
    if (key) {
      const earlier = await this.replay(command, deadline);
      if (earlier) return earlier;
    }
    const entry = await this.types.forInstall(command.mcp_server_id, command.account_id);
    const config = command.config ?? {};
    checkConfig(entry, config);
    await refuseDeniedTargets(this.guard, entry.config_schema, config, 'config');
    await this.refuseDeniedRemote(entry, config);
    if (!key) return this.create(randomUUID(), command, entry, config, undefined);
    const id = installConnectionId(command.account_id, key);
    const idempotency = { key, requestHash: command.request_hash ?? '' };
    while (
      !(await this.lifecycle.claimInstall({
        accountId: command.account_id,
        key,
        requestHash: idempotency.requestHash,
        connectionId: id,
      }))
    ) {
      // Another install with this key holds it: its answer is ours (or it gave up: try again).
      const earlier = await this.replay(command, deadline);
      if (earlier) return earlier;
    }
    try {
      if (await this.store.findOptional(id)) throw keyStillInUse(id);
      return await this.create(id, command, entry, config, idempotency);
    } catch (error) {
      await this.lifecycle
        .releaseInstall(command.account_id, key, id)
        .catch((e: unknown) =>
          this.log.warn(`Could not release the install claim on ${id}: ${String(e)}`),
        );
      throw error;
    }
  }

  private async create(
    id: string,
    command: InstallConnectionCommand,
    entry: McpServerEntry,
    config: Record<string, unknown>,
    idempotency: { key: string; requestHash: string } | undefined,
  ): Promise<InstallConnectionReply> {
    // Credentials first: they are validated against the type there, and nothing is created if not.
    await this.credentials.store(
      command.account_id,
      id,
      entry.id,
      command.sealed_credentials,
      command.actor,
    );
    let row: ConnectionEntity;
    try {
      row = await this.lifecycle.install(
        {
          id,
          accountId: command.account_id,
          mcpServerId: entry.id,
          title: command.title,
          config,
          provider: this.runtime.providerName,
        },
        idempotency,
        this.config.env.MAX_CONNECTIONS_PER_ACCOUNT,
      );
    } catch (error) {
      // A connection with this id exists after all: its credentials are not ours to delete.
      if (isUniqueViolation(error)) throw keyStillInUse(id);
      // No connection has this id (the install holds its key): the values stored are ours.
      await this.credentials.delete(command.account_id, id, command.actor).catch(() => undefined);
      throw error;
    }
    this.log.log(`Connection ${id} installed (${entry.id}) for account ${command.account_id}`);
    this.scheduler.kick();
    return { connection: toView(row), replayed: false };
  }

  /**
   * A remote server's URL, filled with the connection's config, is its one user-given target:
   * refused before anything is written when the egress rule refuses its address now (a name that
   * does not resolve now passes; the deploy checks again, docs/security/egress.md).
   */
  private async refuseDeniedRemote(
    entry: McpServerEntry,
    config: Record<string, unknown>,
  ): Promise<void> {
    if (!entry.remote) return;
    let url: URL;
    try {
      url = resolveRemoteUrl(entry.remote.url, config);
    } catch (error) {
      if (error instanceof RemoteTemplateError)
        throw new DomainError('validation_failed', error.message, [error.message]);
      throw error;
    }
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    const decision = await this.guard.decide(url.hostname, port);
    if (decision.allowed || decision.unresolved) return;
    const message = `The remote server's URL names ${url.hostname}:${port}, which the platform may not reach: ${decision.reason}.`;
    throw new DomainError('egress_denied', message, [message]);
  }

  /**
   * The answer to an earlier install with this key: its connection, `idempotency_conflict` when
   * it was another request, or undefined when there was none (or it gave up). While it still runs,
   * its answer is waited for until `deadline`, then `operation_in_progress`.
   */
  private async replay(
    command: InstallConnectionCommand,
    deadline: number,
  ): Promise<InstallConnectionReply | undefined> {
    for (;;) {
      const earlier = await this.store.idempotent(command.account_id, command.idempotency_key!);
      if (!earlier) return undefined;
      if (earlier.requestHash !== (command.request_hash ?? '')) {
        throw new DomainError(
          'idempotency_conflict',
          'This Idempotency-Key was used with a different request; use a new key for a new install.',
        );
      }
      if (earlier.response)
        return { connection: earlier.response as ConnectionView, replayed: true };
      if (Date.now() >= deadline)
        throw new DomainError(
          'operation_in_progress',
          'An install with this Idempotency-Key is still in progress; try again in a moment.',
        );
      await new Promise((resolve) => setTimeout(resolve, INSTALL_POLL_MS));
    }
  }

  async list(accountId: string): Promise<ConnectionList> {
    return { data: (await this.store.list(accountId)).map(toView) };
  }

  async get(query: ConnectionQuery): Promise<ConnectionView> {
    return toView(await this.store.find(query.id, query.account_id));
  }

  async stop(command: ConnectionCommand): Promise<ConnectionView> {
    return this.lifecycle.exclusively(command.id, command.account_id, async () => {
      const row = await this.store.find(command.id, command.account_id);
      this.lifecycle.assertCan(row, 'userStop');
      // Wanted stopped first: a sandbox that exits while it is being stopped is not restarted.
      await this.lifecycle.want(row.id, 'stopped');
      await this.runtime.release(row);
      this.logs.append(row.id, 'system', 'Stopped by user');
      const stopped = await this.lifecycle.require(
        row.id,
        command.account_id,
        'userStop',
        undefined,
      );
      this.scheduler.kick();
      return toView(stopped);
    });
  }

  async start(command: ConnectionCommand): Promise<ConnectionView> {
    return this.lifecycle.exclusively(command.id, command.account_id, async () => {
      const pending = await this.lifecycle.require(
        command.id,
        command.account_id,
        'userStart',
        undefined,
      );
      this.scheduler.kick();
      return toView(pending);
    });
  }

  async replaceCredentials(command: ReplaceCredentialsCommand): Promise<ConnectionView> {
    return this.lifecycle.exclusively(command.id, command.account_id, async () => {
      const row = await this.store.find(command.id, command.account_id);
      await this.credentials.store(
        row.accountId,
        row.id,
        row.mcpServerId,
        command.sealed_credentials,
        command.actor,
      );
      this.logs.append(row.id, 'system', 'Credentials replaced');
      if (row.status !== 'mcpRunning' && row.status !== 'mcpDeploying')
        return toView(await this.store.find(row.id));
      // Running or deploying: deploy again with the new values.
      await this.runtime.stop(row.id);
      const redeploying = await this.lifecycle.apply(row.id, 'credentialsReplaced', undefined);
      if (redeploying) this.deployer.begin(redeploying);
      return toView(redeploying ?? (await this.store.find(row.id)));
    });
  }

  async delete(command: ConnectionCommand): Promise<{ id: string }> {
    return this.lifecycle.exclusively(command.id, command.account_id, async () => {
      const row = await this.store.find(command.id, command.account_id);
      await this.credentials.delete(row.accountId, row.id, command.actor);
      await this.runtime.release(row, { discardFiles: true });
      await this.logs.remove(row.id);
      await this.lifecycle.remove(row);
      this.log.log(`Connection ${row.id} deleted`);
      this.scheduler.kick();
      return { id: row.id };
    });
  }

  async events(query: ConnectionQuery): Promise<ConnectionEventList> {
    await this.store.find(query.id, query.account_id);
    const events = await this.store.events(query.id);
    return {
      data: events.map((e) => ({
        at: e.at.toISOString(),
        from: e.fromStatus,
        to: e.toStatus,
        reason: e.reason,
      })),
    };
  }

  async logsOf(query: ConnectionLogsQuery): Promise<ConnectionLogList> {
    await this.store.find(query.id, query.account_id);
    return this.logs.tail(query.id, query.tail);
  }

  async route(id: string): Promise<ConnectionRouteReply> {
    const row = await this.store.find(id);
    return {
      id: row.id,
      account_id: row.accountId,
      status: row.status,
      bridge_url: row.status === 'mcpRunning' ? row.bridgeUrl : null,
    };
  }

  async touch(ids: string[], at: string): Promise<{ touched: number }> {
    return { touched: await this.lifecycle.touch(ids, new Date(at)) };
  }

  /** The guide's health check: an MCP ping to every running connection of the account. */
  async health(accountId: string): Promise<AccountHealthReply> {
    const rows = await this.store.list(accountId);
    const touched: string[] = [];
    const connections = await Promise.all(
      rows.map(async (row) => {
        const base = { id: row.id, title: row.title, status: row.status };
        if (row.status !== 'mcpRunning') {
          return {
            ...base,
            healthy: null,
            response_time_ms: null,
            error: row.status === 'mcpError' ? row.statusReason : null,
          };
        }
        const handle = this.runtime.get(row.id)?.handle;
        if (!handle)
          return {
            ...base,
            healthy: false,
            response_time_ms: null,
            error: 'The sandbox is not reachable from this sandbox service.',
          };
        try {
          const ms = await handle.ping(PING_TIMEOUT_MS);
          // A health check the user asked for is use of the connection.
          touched.push(row.id);
          return {
            ...base,
            healthy: true,
            response_time_ms: Math.round(ms * 100) / 100,
            error: null,
          };
        } catch (error) {
          return {
            ...base,
            healthy: false,
            response_time_ms: null,
            error: `MCP ping failed: ${error instanceof Error ? error.message : String(error)}`,
          };
        }
      }),
    );
    await this.lifecycle.touch(touched, new Date());
    const unhealthy = connections.some((c) => c.healthy === false || c.status === 'mcpError');
    return {
      status: unhealthy ? 'unhealthy' : 'healthy',
      checked_at: new Date().toISOString(),
      connections,
    };
  }
}

/** The key's record expired (24 hours) while the connection it made lives on with its id. */
function keyStillInUse(id: string): DomainError {
  return new DomainError(
    'idempotency_conflict',
    `This Idempotency-Key made connection ${id}, which still exists (the key is remembered for 24 hours, the connection's id for as long as it exists); use a new key for a new install.`,
  );
}

function isUniqueViolation(error: unknown): boolean {
  return (
    (error as { code?: string })?.code === '23505' ||
    (error as { driverError?: { code?: string } })?.driverError?.code === '23505'
  );
}
