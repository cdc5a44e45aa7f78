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
  type ReplaceCredentialsCommand,
} from '@athenic/contracts';
import { EgressGuard, refuseDeniedTargets } from '@athenic/egress';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { SANDBOX_CONFIG, type SandboxConfig } from '../config/env';
import { CredentialsClient } from '../deploy/credentials-client';
import { Deployer } from '../deploy/deployer';
import { SandboxRuntime } from '../deploy/sandbox-runtime';
import { Scheduler } from '../deploy/scheduler';
import { LogStore } from '../logs/log-store';
import { SANDBOX_PROVIDER, type SandboxProvider } from '../providers/sandbox-provider';
import { ServerTypes } from '../registry/server-types';
import { checkConfig } from './config-rules';
import { ConnectionStore } from './connection-store';
import { toView } from './connection-view';
import type { ConnectionEntity } from './connection.entity';
import { assertCanStart, assertCanStop } from './lifecycle';

const QUEUED = 'Queued: waiting for a sandbox slot.';
const PING_TIMEOUT_MS = 3000;

/** What users (through the gateway) and other services ask of connections. */
@Injectable()
export class ConnectionsService {
  private readonly log = new Logger('ConnectionsService');
  /** Connections with a user operation in flight: a second one gets operation_in_progress. */
  private readonly busy = new Set<string>();

  constructor(
    @Inject(SANDBOX_CONFIG) private readonly config: SandboxConfig,
    @Inject(SANDBOX_PROVIDER) private readonly provider: SandboxProvider,
    private readonly store: ConnectionStore,
    private readonly types: ServerTypes,
    private readonly credentials: CredentialsClient,
    private readonly runtime: SandboxRuntime,
    private readonly scheduler: Scheduler,
    private readonly deployer: Deployer,
    private readonly logs: LogStore,
    private readonly guard: EgressGuard,
  ) {}

  async install(command: InstallConnectionCommand): Promise<InstallConnectionReply> {
    if (command.idempotency_key) {
      const earlier = await this.replay(command);
      if (earlier) return earlier;
    }
    const entry = await this.types.get(command.mcp_server_id);
    const config = command.config ?? {};
    checkConfig(entry, config);
    await refuseDeniedTargets(this.guard, entry.config_schema, config, 'config');
    const id = randomUUID();
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
      row = await this.store.create(
        {
          id,
          accountId: command.account_id,
          mcpServerId: entry.id,
          title: command.title,
          config,
          status: 'mcpPending',
          statusReason: QUEUED,
          desiredState: 'running',
          isolation: null,
          provider: this.provider.name,
          generation: 0,
          sandboxRef: null,
          bridgeUrl: null,
          restartCount: 0,
          queuedAt: new Date(),
          deployDeadlineAt: null,
          lastActiveAt: null,
        } as ConnectionEntity,
        'Installed; queued for a sandbox.',
        command.idempotency_key
          ? { key: command.idempotency_key, requestHash: command.request_hash ?? '' }
          : undefined,
        this.config.env.MAX_CONNECTIONS_PER_ACCOUNT,
      );
    } catch (error) {
      await this.credentials.delete(command.account_id, id, command.actor).catch(() => undefined);
      // Two requests with one Idempotency-Key raced: the other one won.
      if (command.idempotency_key && isUniqueViolation(error)) {
        const earlier = await this.replay(command);
        if (earlier) return earlier;
      }
      throw error;
    }
    this.log.log(`Connection ${id} installed (${entry.id}) for account ${command.account_id}`);
    this.scheduler.kick();
    return { connection: toView(row), replayed: false };
  }

  private async replay(
    command: InstallConnectionCommand,
  ): Promise<InstallConnectionReply | undefined> {
    const earlier = await this.store.idempotent(command.account_id, command.idempotency_key!);
    if (!earlier) return undefined;
    if (earlier.requestHash !== (command.request_hash ?? '')) {
      throw new DomainError(
        'idempotency_conflict',
        'This Idempotency-Key was used with a different request; use a new key for a new install.',
      );
    }
    return { connection: earlier.response as ConnectionView, replayed: true };
  }

  async list(accountId: string): Promise<ConnectionList> {
    return { data: (await this.store.list(accountId)).map(toView) };
  }

  async get(query: ConnectionQuery): Promise<ConnectionView> {
    return toView(await this.store.find(query.id, query.account_id));
  }

  async stop(command: ConnectionCommand): Promise<ConnectionView> {
    return this.exclusively(command.id, async () => {
      const row = await this.store.find(command.id, command.account_id);
      assertCanStop(row.status);
      await this.store.patch(row.id, { desiredState: 'stopped' });
      await this.runtime.stop(row.id);
      if (row.config.persistent_storage !== true) await this.provider.discardFiles(row.id);
      this.logs.append(row.id, 'system', 'Stopped by user');
      const stopped = await this.store.transition(
        row.id,
        'mcpStopped',
        'Stopped by user; start it again when needed.',
        {
          patch: { bridgeUrl: null, sandboxRef: null, deployDeadlineAt: null, queuedAt: null },
        },
      );
      this.scheduler.kick();
      return toView(stopped!);
    });
  }

  /** The idle reaper's stop: like a user's, with "idle" in the reason. */
  async stopIdle(id: string, idleMs: number): Promise<void> {
    await this.exclusively(id, async () => {
      const row = await this.store.find(id);
      if (row.status !== 'mcpRunning') return;
      await this.store.patch(row.id, { desiredState: 'stopped' });
      await this.runtime.stop(row.id);
      if (row.config.persistent_storage !== true) await this.provider.discardFiles(row.id);
      const minutes =
        idleMs >= 60000 ? `${Math.round(idleMs / 60000)} min` : `${Math.round(idleMs / 1000)} s`;
      this.logs.append(row.id, 'system', `Stopped after ${minutes} idle`);
      await this.store.transition(
        row.id,
        'mcpStopped',
        `Stopped after ${minutes} idle (no MCP use); start it again when needed.`,
        {
          from: ['mcpRunning'],
          patch: { bridgeUrl: null, sandboxRef: null, runningSince: null },
        },
      );
      this.scheduler.kick();
    });
  }

  /**
   * A connection the database says runs has no sandbox here (it vanished, or its deploy was
   * lost): redeployed when its user wants it running, else marked stopped. Skipped while another
   * operation on it (a stop, an idle stop) is under way: that one decides.
   */
  async requeueLost(id: string): Promise<void> {
    if (this.busy.has(id)) return;
    await this.exclusively(id, async () => {
      const row = await this.store.findOptional(id);
      if (!row || row.status !== 'mcpRunning' || this.runtime.get(id)?.handle) return;
      const lost = { bridgeUrl: null, sandboxRef: null, runningSince: null };
      if (row.desiredState !== 'running') {
        await this.store.transition(
          id,
          'mcpStopped',
          'Stopped: the sandbox was gone and the connection was meant to be stopped.',
          {
            from: ['mcpRunning'],
            generation: row.generation,
            patch: lost,
          },
        );
        return;
      }
      await this.store.transition(id, 'mcpPending', 'The sandbox was gone; redeploying.', {
        from: ['mcpRunning'],
        generation: row.generation,
        patch: { ...lost, queuedAt: new Date() },
      });
      this.scheduler.kick();
    });
  }

  async start(command: ConnectionCommand): Promise<ConnectionView> {
    return this.exclusively(command.id, async () => {
      const row = await this.store.find(command.id, command.account_id);
      assertCanStart(row.status);
      const pending = await this.store.transition(
        row.id,
        'mcpPending',
        'Started by user; queued for a sandbox.',
        {
          patch: { desiredState: 'running', queuedAt: new Date(), restartCount: 0 },
        },
      );
      this.scheduler.kick();
      return toView(pending!);
    });
  }

  async replaceCredentials(command: ReplaceCredentialsCommand): Promise<ConnectionView> {
    return this.exclusively(command.id, async () => {
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
      const reason = 'Credentials replaced; redeploying.';
      const redeploying =
        row.status === 'mcpRunning'
          ? await this.store.transition(row.id, 'mcpDeploying', reason, {
              patch: {
                generation: () => 'generation + 1',
                deployDeadlineAt: new Date(Date.now() + this.config.env.DEPLOY_TIMEOUT_MS),
                bridgeUrl: null,
              },
            })
          : await this.restartDeploy(row, reason);
      if (redeploying) this.deployer.begin(redeploying);
      return toView(redeploying ?? (await this.store.find(row.id)));
    });
  }

  /** A deploy in progress starts over: same status, a new attempt. */
  private async restartDeploy(row: ConnectionEntity, reason: string): Promise<ConnectionEntity> {
    await this.store.patch(row.id, {
      generation: () => 'generation + 1',
      deployDeadlineAt: new Date(Date.now() + this.config.env.DEPLOY_TIMEOUT_MS),
      statusReason: reason,
    });
    return this.store.find(row.id);
  }

  async delete(command: ConnectionCommand): Promise<{ id: string }> {
    return this.exclusively(command.id, async () => {
      const row = await this.store.find(command.id, command.account_id);
      await this.credentials.delete(row.accountId, row.id, command.actor);
      await this.runtime.stop(row.id);
      await this.provider.discardFiles(row.id);
      await this.logs.remove(row.id);
      await this.store.remove(row);
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
    return { touched: await this.store.touch(ids, new Date(at)) };
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
    await this.store.touch(touched, new Date());
    const unhealthy = connections.some((c) => c.healthy === false || c.status === 'mcpError');
    return {
      status: unhealthy ? 'unhealthy' : 'healthy',
      checked_at: new Date().toISOString(),
      connections,
    };
  }

  private async exclusively<T>(id: string, work: () => Promise<T>): Promise<T> {
    if (this.busy.has(id)) {
      throw new DomainError(
        'operation_in_progress',
        'Another operation on this connection is still in progress; try again in a moment.',
      );
    }
    this.busy.add(id);
    try {
      return await work();
    } finally {
      this.busy.delete(id);
    }
  }
}

function isUniqueViolation(error: unknown): boolean {
  return (
    (error as { code?: string })?.code === '23505' ||
    (error as { driverError?: { code?: string } })?.driverError?.code === '23505'
  );
}
