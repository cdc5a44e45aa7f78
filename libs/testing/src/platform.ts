import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { createServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestInfrastructure } from './infrastructure';
import { REPO_ROOT } from './repo';
import { SERVICE_NAMES, type ServiceName, ServiceProcess } from './service-process';

export interface PlatformOptions {
  services?: readonly ServiceName[];
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** Extra environment for one service (its own DATABASE_URL and AMQP_URL, say). */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * The platform as real processes on a test's own database and vhost: the services start in
 * parallel; `ready` resolves when the gateway reports every one of them healthy.
 */
export class TestPlatform {
  readonly services = new Map<ServiceName, ServiceProcess>();
  readonly serviceRoleKey = `sk_test_${randomBytes(24).toString('base64url')}`;
  readonly internalSecret = randomBytes(32).toString('base64url');
  readonly credentialKeys = `v1:${randomBytes(32).toString('base64')}`;
  readonly dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'athenic-test-'));
  baseUrl = '';
  private port = 0;

  constructor(
    readonly infra: TestInfrastructure,
    private readonly options: PlatformOptions = {},
  ) {}

  get env(): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      NODE_ENV: 'test',
      LOG_LEVEL: 'debug',
      DATABASE_URL: this.infra.databaseUrl,
      AMQP_URL: this.infra.amqpUrl,
      PORT: String(this.port),
      GATEWAY_URL: `http://127.0.0.1:${this.port}`,
      SERVICE_ROLE_KEY: this.serviceRoleKey,
      INTERNAL_SECRET: this.internalSecret,
      CREDENTIAL_KEYS: this.credentialKeys,
      DATA_DIR: this.dataDir,
      MCP_PACKAGES_DIR: path.join(REPO_ROOT, 'mcp-packages'),
      // One gateway process per test platform: dozens of platforms run side by side on two
      // cores. Tests that are about workers set more (the replica test does).
      GATEWAY_WORKERS: '1',
      ...this.options.env,
    };
  }

  async start(): Promise<this> {
    this.port = await freePort();
    this.baseUrl = `http://127.0.0.1:${this.port}`;
    const names = this.options.services ?? SERVICE_NAMES;
    for (const name of names)
      this.services.set(
        name,
        new ServiceProcess(name, { ...this.env, ...this.options.serviceEnv?.[name] }),
      );
    const started = await Promise.allSettled([...this.services.values()].map((s) => s.start()));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      // Leave nothing running behind a failed start.
      await this.stop();
      throw failed.reason;
    }
    if (names.length === SERVICE_NAMES.length) await this.waitHealthy();
    return this;
  }

  service(name: ServiceName): ServiceProcess {
    const service = this.services.get(name);
    if (!service) throw new Error(`${name} is not part of this test platform`);
    return service;
  }

  async waitHealthy(timeoutMs = 20000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`${this.baseUrl}/health`);
        last = await res.text();
        if (res.status === 200) return;
      } catch (error) {
        last = String(error);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`The platform did not become healthy within ${timeoutMs} ms: ${last}`);
  }

  /** Every log line of every service, for searches across the platform. */
  allLogLines(): string[] {
    return [...this.services.values()].flatMap((s) => s.lines.map((l) => l.raw));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.services.values()].map((s) => s.stop()));
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}
