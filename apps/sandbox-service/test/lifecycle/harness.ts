import type { ConnectionView, McpServerEntry } from '@athenic/contracts';
import { Logger } from '@nestjs/common';
import { migrate } from '@athenic/database';
import { createEgressGuard, type EgressGuard } from '@athenic/egress';
import { BusClient, Outbox } from '@athenic/messaging';
import { SessionBudget } from '@athenic/mcp-bridge';
import { createTestInfrastructure, eventually, type TestInfrastructure } from '@athenic/testing';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { DataSource } from 'typeorm';
import { loadConfig, type SandboxConfig } from '../../src/config/env';
import { ConnectionStore } from '../../src/connections/connection-store';
import type { ConnectionEntity } from '../../src/connections/connection.entity';
import { sandboxDataSource } from '../../src/database/data-source';
import type { CredentialsClient } from '../../src/deploy/credentials-client';
import { Deployer } from '../../src/deploy/deployer';
import { Reconciler } from '../../src/deploy/reconciler';
import { SandboxRuntime } from '../../src/deploy/sandbox-runtime';
import { Scheduler } from '../../src/deploy/scheduler';
import { Supervisor } from '../../src/deploy/supervisor';
import { Lifecycle } from '../../src/lifecycle/lifecycle';
import { Replicas } from '../../src/lifecycle/replicas';
import { LogStore } from '../../src/logs/log-store';
import { BridgeHost } from '../../src/providers/bridge-host';
import { RemoteConnector } from '../../src/providers/remote-connector';
import { ConnectionsService } from '../../src/operations/connections.service';
import type { ServerTypes } from '../../src/registry/server-types';
import { FakeProvider } from './fake-provider';
import { ManualClock } from './manual-clock';

export const CANARY = 'canary-lifecycle-9d2e';

/** A command-only server type: nothing to install, one credential. */
export const FAKE_TYPE: McpServerEntry = {
  id: 'fake-server',
  name: 'Fake server',
  description: 'A server type for the lifecycle tests',
  category: 'testing',
  transport: 'stdio',
  package: null,
  version: null,
  launch: { command: 'node', args: ['server.js'], env: { TOKEN: 'credential:token' } },
  credential_schema: {},
  config_schema: {},
  egress: [],
  builtin: false,
  created_at: '',
  updated_at: '',
} as unknown as McpServerEntry;

/**
 * The registry and the credential service, as the sandbox service's clients of them see them
 * (their own behaviour is tested against the real services elsewhere).
 */
class FakeRegistry {
  async get(id: string): Promise<McpServerEntry> {
    if (id !== FAKE_TYPE.id) throw new Error(`no type ${id}`);
    return FAKE_TYPE;
  }

  async forInstall(id: string): Promise<McpServerEntry> {
    return this.get(id);
  }

  async installed(): Promise<undefined> {
    return undefined;
  }
}

class FakeCredentials {
  readonly stored = new Map<string, Record<string, string>>();
  /** Every store and delete, in order: `store <connection id>`, `delete <connection id>`. */
  readonly calls: string[] = [];
  /** While set, a store waits for it (an install held mid-way). */
  gate: Promise<void> | undefined;
  /** The next store fails with it (values the credential service refuses). */
  failNext: Error | undefined;

  async store(
    _account: string,
    connectionId: string,
    _type: string,
    sealed: Record<string, string>,
  ) {
    this.calls.push(`store ${connectionId}`);
    await this.gate;
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure) throw failure;
    this.stored.set(connectionId, sealed);
    return { connection_id: connectionId, fields: Object.keys(sealed) };
  }

  async reveal(_account: string, connectionId: string): Promise<Record<string, string>> {
    return this.stored.get(connectionId) ?? { token: CANARY };
  }

  async delete(_account: string, connectionId: string): Promise<void> {
    this.calls.push(`delete ${connectionId}`);
    this.stored.delete(connectionId);
  }
}

export interface LifecycleParts {
  clock: ManualClock;
  provider: FakeProvider;
  store: ConnectionStore;
  lifecycle: Lifecycle;
  runtime: SandboxRuntime;
  deployer: Deployer;
  scheduler: Scheduler;
  supervisor: Supervisor;
  reconciler: Reconciler;
  connections: ConnectionsService;
  logs: LogStore;
  config: SandboxConfig;
  replicas: Replicas;
}

/**
 * The sandbox service's lifecycle, assembled as its module does, on a real Postgres (a database
 * of its own) and a real RabbitMQ vhost for the outbox, with a fake provider, fake registry and
 * credential clients and a manual clock. `restart()` builds a second process's worth of the
 * same parts on the same database (a restart of the service, or another replica).
 */
export class LifecycleHarness {
  infra!: TestInfrastructure;
  dataSource!: DataSource;
  bus!: BusClient;
  outbox!: Outbox;
  clock = new ManualClock();
  provider = new FakeProvider();
  credentials = new FakeCredentials();
  parts!: LifecycleParts;
  private guard!: EgressGuard;
  private dataDir = mkdtempSync(path.join(tmpdir(), 'lifecycle-'));
  private readonly extra: LogStore[] = [];
  private readonly replicaSets: Replicas[] = [];

  constructor(
    private readonly label: string,
    private readonly env: Record<string, string> = {},
  ) {}

  async start(): Promise<this> {
    // Each transition logs a line; the tests read the rows instead.
    Logger.overrideLogger(['error']);
    this.infra = await createTestInfrastructure(this.label);
    this.dataSource = sandboxDataSource(this.infra.databaseUrl);
    await migrate(this.dataSource);
    this.bus = new BusClient({ url: this.infra.amqpUrl, owner: 'sandbox' });
    await this.bus.connect();
    this.outbox = new Outbox(this.dataSource, this.bus, {
      url: this.infra.amqpUrl,
      owner: 'sandbox',
    });
    this.guard = await createEgressGuard(this.config('replica-a').env);
    this.parts = this.assemble(this.provider);
    await this.parts.replicas.join();
    return this;
  }

  /** The sandbox service's configuration of one replica, as its environment would give it. */
  private config(replica: string): SandboxConfig {
    return loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: this.infra?.databaseUrl,
      AMQP_URL: this.infra?.amqpUrl,
      DATA_DIR: this.dataDir,
      MCP_PACKAGES_DIR: this.dataDir,
      INTERNAL_SECRET: 'lifecycle-tests-internal-secret-0123456789',
      SANDBOX_REPLICA_ID: replica,
      ...this.env,
    });
  }

  /**
   * A process's worth of the lifecycle on the same database and clock: the same replica after a
   * restart (its id), or another replica (another id).
   */
  assemble(provider: FakeProvider, replica = 'replica-a'): LifecycleParts {
    const config = this.config(replica);
    const store = new ConnectionStore(this.dataSource);
    const replicas = new Replicas(this.dataSource, this.clock, config);
    this.replicaSets.push(replicas);
    const lifecycle = new Lifecycle(this.dataSource, this.outbox, this.clock, config, replicas);
    const runtime = new SandboxRuntime(provider);
    const logs = new LogStore(this.dataSource);
    this.extra.push(logs);
    const types = new FakeRegistry() as unknown as ServerTypes;
    const credentials = this.credentials as unknown as CredentialsClient;
    const deployer = new Deployer(
      config,
      provider,
      store,
      lifecycle,
      this.clock,
      runtime,
      types,
      credentials,
      logs,
      new RemoteConnector(
        config,
        new BridgeHost(),
        this.guard,
        new SessionBudget({ limit: config.env.MCP_SESSIONS_PER_ACCOUNT }),
      ),
    );
    const scheduler = new Scheduler(config, store, lifecycle, deployer);
    const supervisor = new Supervisor(
      config,
      provider,
      runtime,
      store,
      lifecycle,
      replicas,
      this.clock,
      deployer,
      scheduler,
      logs,
    );
    const reconciler = new Reconciler(provider, store, lifecycle, replicas, runtime, deployer);
    const connections = new ConnectionsService(
      config,
      store,
      lifecycle,
      types,
      credentials,
      runtime,
      scheduler,
      deployer,
      logs,
      this.guard,
    );
    return {
      clock: this.clock,
      provider,
      store,
      lifecycle,
      runtime,
      deployer,
      scheduler,
      supervisor,
      reconciler,
      connections,
      logs,
      config,
      replicas,
    };
  }

  async stop(): Promise<void> {
    for (const replicas of this.replicaSets) replicas.stop();
    for (const logs of this.extra) await logs.onApplicationShutdown().catch(() => undefined);
    await this.outbox?.onApplicationShutdown().catch(() => undefined);
    await this.bus?.onApplicationShutdown().catch(() => undefined);
    await this.dataSource?.destroy().catch(() => undefined);
    await this.infra?.dispose();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Installs a connection of the fake type for `account`, through one replica's operations. */
  async install(account = 'acct-1', parts = this.parts): Promise<ConnectionView> {
    const reply = await parts.connections.install({
      account_id: account,
      mcp_server_id: FAKE_TYPE.id,
      title: 'fake',
      config: {},
      sealed_credentials: { token: CANARY },
      actor: 'test',
      idempotency_key: randomUUID(),
      request_hash: 'h',
    } as never);
    return reply.connection;
  }

  row(id: string): Promise<ConnectionEntity> {
    return this.parts.store.find(id);
  }

  /** A scheduling pass and those already asked for, then every deploy they began, to its end. */
  async schedule(parts = this.parts): Promise<void> {
    parts.scheduler.kick();
    await parts.scheduler.settled();
    await this.deploysSettled(parts);
  }

  /** Waits for what the clock set off (an exit recorded, a restart begun) to reach `status`. */
  async until(id: string, status: ConnectionEntity['status']): Promise<ConnectionEntity> {
    return eventually(async () => {
      const row = await this.row(id);
      expect(row.status).toBe(status);
      return row;
    });
  }

  async deploysSettled(parts = this.parts): Promise<void> {
    await Promise.all(parts.runtime.entriesList().map(([, entry]) => entry.deploying));
  }

  /** The status history of a connection: [from, to, reason]. */
  async history(id: string): Promise<[string | null, string, string][]> {
    const events = await this.parts.store.events(id);
    return events.map((e) => [e.fromStatus, e.toStatus, e.reason]);
  }
}
