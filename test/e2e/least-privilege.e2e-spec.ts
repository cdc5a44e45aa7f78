import { provisionLeastPrivilege, type LeastPrivilegeResult } from '@athenic/bootstrap';
import { dropDatabaseRoles } from '@athenic/database';
import { type BrokerAdmin, brokerAdminFor } from '@athenic/messaging';
import {
  ApiClient,
  connectMcpClient,
  createTestInfrastructure,
  RawAmqpClient,
  type TestInfrastructure,
  TestPlatform,
  waitForStatus,
} from '@athenic/testing';
import * as amqp from 'amqplib';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

// The platform on principals of its own (docs/security/least-privilege.md): each service's
// Postgres role owns only its schema, each RabbitMQ user may use only its queues and publish only
// its routing keys; and the database and the broker themselves refuse anything else.
const OWNERS = ['gateway', 'registry', 'credential', 'sandbox', 'agent'];

describe('least privilege on Postgres and RabbitMQ', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let broker: BrokerAdmin;
  let provisioned: LeastPrivilegeResult;
  const prefix = `t${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    infra = await createTestInfrastructure('leastpriv');
    broker = await brokerAdminFor(infra.amqpUrl);
    provisioned = await provisionLeastPrivilege({
      adminDatabaseUrl: infra.databaseUrl,
      adminAmqpUrl: infra.amqpUrl,
      broker,
      prefix,
    });
    platform = await new TestPlatform(infra, { serviceEnv: provisioned.serviceEnv }).start();
  });

  afterAll(async () => {
    await platform?.stop();
    await dropDatabaseRoles(
      infra.databaseUrl,
      OWNERS.map((o) => `${prefix}_${o}`),
    ).catch(() => undefined);
    for (const principal of [...OWNERS, 'integrations'])
      await broker?.deleteUser(`${prefix}-${principal}`);
    await infra?.dispose();
  });

  it('says what it provisioned, and no service connects as the administrator', () => {
    expect(provisioned.report.join('\n')).toContain(
      `role ${prefix}_credential owns schema credential`,
    );
    expect(provisioned.report.join('\n')).toContain(`user ${prefix}-sandbox (sandbox)`);
    for (const env of Object.values(provisioned.serviceEnv)) {
      expect(new URL(env.DATABASE_URL).username).toMatch(new RegExp(`^${prefix}_`));
      expect(new URL(env.AMQP_URL).username).toMatch(new RegExp(`^${prefix}-`));
    }
  });

  it('runs the whole platform on its own principals: install, run, an MCP call', async () => {
    const admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    const { id } = await admin.install({
      mcp_server_id: 'everything-server',
      account_id: 'acct-lp',
      title: 'Least privilege',
      provided_credential_schema: { demo_secret: 'lp-secret' },
    });
    await waitForStatus(admin, id, 'mcpRunning');
    const client = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`,
      platform.serviceRoleKey,
    );
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await client.close();
    expect((await admin.get('/health')).status).toBe(200);
  });

  it('Postgres refuses a service anything outside its own schema', async () => {
    const registry = new Client({
      connectionString: provisioned.serviceEnv['registry-service'].DATABASE_URL,
    });
    await registry.connect();
    try {
      const refused = async (sql: string) =>
        registry.query(sql).then(
          () => 'allowed',
          (error: Error) => error.message,
        );
      expect(await refused('SELECT * FROM credential.credential_sets')).toContain(
        'permission denied',
      );
      expect(await refused('SELECT * FROM sandbox.connections')).toContain('permission denied');
      expect(await refused('CREATE TABLE public.intruder (x int)')).toContain('permission denied');
      expect(await refused('CREATE SCHEMA intruder')).toContain('permission denied');
      expect(await refused(`CREATE ROLE intruder`)).toContain('permission denied');
      const { rows } = await registry.query(
        'SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user',
      );
      expect(rows).toEqual([{ rolsuper: false, rolcreatedb: false, rolcreaterole: false }]);
      // Its own schema is its own.
      expect(await refused('SELECT count(*) FROM registry.servers')).toBe('allowed');
    } finally {
      await registry.end();
    }
  });

  it('RabbitMQ refuses a principal a routing key or queue outside its permissions', async () => {
    const refusal = async (url: string, act: (ch: amqp.ConfirmChannel) => Promise<unknown>) => {
      const connection = await amqp.connect(url);
      connection.on('error', () => undefined);
      try {
        const channel = await connection.createConfirmChannel();
        const closed = new Promise<string>((resolve) => {
          channel.on('error', (error: Error) => resolve(error.message));
          channel.on('close', () => resolve('closed'));
        });
        const outcome = await Promise.race([
          act(channel).then(
            () => 'allowed',
            (e: Error) => e.message,
          ),
          closed,
        ]);
        return outcome === 'allowed' ? outcome : `${outcome} ${await closed}`;
      } finally {
        await connection.close().catch(() => undefined);
      }
    };
    const publish = (key: string) => (ch: amqp.ConfirmChannel) =>
      new Promise<void>((resolve, reject) =>
        ch.publish('bus', key, Buffer.from('{}'), {}, (err) => (err ? reject(err) : resolve())),
      );
    const registryUrl = provisioned.serviceEnv['registry-service'].AMQP_URL;
    // Granting authority is the gateway's alone; storing credentials the sandbox service's.
    expect(await refusal(registryUrl, publish('credential.api-key.create'))).toContain(
      'ACCESS_REFUSED',
    );
    expect(await refusal(registryUrl, publish('credential.credential-set.store'))).toContain(
      'ACCESS_REFUSED',
    );
    // Another service's queue can be neither read nor declared.
    expect(
      await refusal(registryUrl, (ch) => ch.consume('credential-service', () => undefined)),
    ).toContain('ACCESS_REFUSED');
    // Its own event is allowed.
    expect(await refusal(registryUrl, publish('registry.server.created'))).toBe('allowed');
    // The integrations user may send the documented commands, and no others.
    const integrations = provisioned.integrationsAmqpUrl;
    expect(await refusal(integrations, publish('credential.api-key.create'))).toContain(
      'ACCESS_REFUSED',
    );
    const client = await RawAmqpClient.connect(integrations);
    try {
      const list = await client.request('registry.server.list', {});
      expect(list.response.data.length).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });
});
