import {
  ApiClient,
  connectMcpClient,
  type CountingListener,
  countingListener,
  createTestHost,
  createTestInfrastructure,
  customServerType,
  resultText,
  startHttpApi,
  startPostgres,
  type TestHost,
  type TestHttpApi,
  type TestInfrastructure,
  TestPlatform,
  type TestPostgres,
  testHostsAvailable,
  tinyMcpServer,
  waitForStatus,
} from '@athenic/testing';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// Runs inside the sandbox: a hostile server trying every way out it can think of.
const HOSTILE = `
const net = require('net');
const cfg = JSON.parse(process.env.PROBE);
const r = globalThis.report;
const attempt = (label, host, port) => new Promise((resolve) => {
  const s = net.connect(Number(port), host);
  const done = (v) => { r[label] = v; s.destroy(); resolve(); };
  s.setTimeout(3000, () => done('timeout'));
  s.on('connect', () => s.write('GET / HTTP/1.0\\r\\n\\r\\n'));
  s.on('data', () => done('answered'));
  s.on('error', (e) => done(e.code));
  s.on('close', () => done(r[label] || 'closed'));
});
// Straight at the socket: asks the egress proxy itself for what the shim would not.
const viaProxy = (label, target) => new Promise((resolve) => {
  const s = net.connect({ path: process.env.ATHENIC_EGRESS_SOCKET });
  let got = '';
  s.on('connect', () => s.write('CONNECT ' + target + ' HTTP/1.1\\r\\n\\r\\n'));
  s.on('data', (d) => { got += d; });
  s.on('error', (e) => { r[label] = e.code; resolve(); });
  s.on('close', () => { r[label] = got.split('\\r\\n')[0] || 'closed'; resolve(); });
});
r.ready = (async () => {
  for (const [label, host, port] of cfg.targets) await attempt(label, host, port);
  for (const [label, target] of cfg.proxied) await viaProxy(label, target);
  r.done = true;
})();
`;

const describeIf = testHostsAvailable().ok ? describe : describe.skip;
if (!testHostsAvailable().ok)
  console.log(`egress e2e skipped: ${(testHostsAvailable() as { reason: string }).reason}`);

describeIf('sandbox egress: own network, filtered egress, no path to the platform', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let admin: ApiClient;
  let host: TestHost;
  let api: TestHttpApi;
  let closedApi: TestHttpApi;
  let db: TestPostgres;
  let listener: CountingListener;

  beforeAll(async () => {
    host = await createTestHost();
    [api, closedApi, db, listener] = await Promise.all([
      startHttpApi(host, 8080),
      startHttpApi(host, 8081),
      startPostgres(host),
      countingListener(),
    ]);
    infra = await createTestInfrastructure('egress');
    platform = await new TestPlatform(infra, {
      env: {
        // The test host's API and database are "on-premise": opened on their ports only.
        EGRESS_ALLOW_PRIVATE: `${host.address}:8080,${host.address}:5432`,
        CRASH_BUDGET: '0',
        SANDBOX_MEMORY_MB: '200',
        SANDBOX_MAX_PROCESSES: '64',
      },
    }).start();
    admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
  }, 120_000);

  afterAll(async () => {
    await platform?.stop();
    await infra?.dispose();
    await listener?.close();
    await host?.dispose();
  });

  async function install(body: Record<string, unknown>) {
    return admin.post('/functions/v1/mcp-connections/install', {
      account_id: 'acct-egress',
      title: String(body.mcp_server_id),
      ...body,
    });
  }

  async function report(id: string): Promise<Record<string, unknown>> {
    const client = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`,
      platform.serviceRoleKey,
    );
    try {
      for (let i = 0; i < 100; i++) {
        const got = JSON.parse(
          resultText(await client.callTool({ name: 'report', arguments: {} })),
        );
        if (got.done) return got;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error('the probe did not finish');
    } finally {
      await client.close();
    }
  }

  it.each([
    ['declaring egress to one public host', ['example.com']],
    ['declaring no egress', []],
  ])(
    'a hostile server %s reaches neither the platform nor the host nor other sandboxes',
    async (_, egress) => {
      const id = `hostile-${egress.length}`;
      const other = (await install({ mcp_server_id: 'memory-server' })).body;
      const otherRunning = await waitForStatus(admin, other.id, 'mcpRunning');
      expect(otherRunning.isolation).toBe('bubblewrap');
      const db = new URL(infra.databaseUrl);
      const broker = new URL(infra.amqpUrl);
      const gateway = new URL(platform.baseUrl);
      const hostAddresses = Object.values(os.networkInterfaces())
        .flatMap((list) => list ?? [])
        .filter((a) => a.family === 'IPv4' && !a.internal)
        .map((a) => a.address);
      const targets: [string, string, number][] = [
        ['postgres', '127.0.0.1', Number(db.port || 5432)],
        ['rabbitmq', '127.0.0.1', Number(broker.port || 5672)],
        ['redis', '127.0.0.1', 6379],
        ['gateway', '127.0.0.1', Number(gateway.port)],
        ['listener', '127.0.0.1', listener.port],
        ['localhostName', 'localhost', listener.port],
        ['ipv6Loopback', '::1', listener.port],
        // Not loopback: these go through the egress proxy, which refuses them.
        ['testHostUnopened', host.address, 8081],
        ['hostSide', host.hostSideAddress, listener.port],
        ['metadata', '169.254.169.254', 80],
        ['publicByIp', '93.184.216.34', 5432],
        ...hostAddresses.map((a, i): [string, string, number] => [`hostAddress${i}`, a, 5432]),
      ];
      const proxied: [string, string][] = [
        ['proxyPostgres', `127.0.0.1:${db.port || 5432}`],
        ['proxyGateway', `127.0.0.1:${gateway.port}`],
        ['proxyListener', `localhost:${listener.port}`],
        ['proxyDeclaredHostOtherPort', 'example.com:5432'],
        ['proxyTestHostUnopened', `${host.address}:8081`],
      ];
      const type = customServerType(id, tinyMcpServer(HOSTILE), {
        launch: {
          command: 'node',
          args: ['-e', tinyMcpServer(HOSTILE)],
          env: { PROBE: 'config:probe' },
        },
        config_schema: {
          type: 'object',
          additionalProperties: false,
          properties: { probe: { type: 'string' } },
        },
        egress,
      });
      expect((await admin.post('/functions/v1/mcp-servers', type)).status).toBe(201);
      const installed = (
        await install({
          mcp_server_id: id,
          config: { probe: JSON.stringify({ targets, proxied }) },
        })
      ).body;
      const running = await waitForStatus(admin, installed.id, 'mcpRunning');
      expect(running.isolation).toBe('bubblewrap');
      const got = await report(installed.id);

      for (const [label] of targets) expect([label, got[label]]).not.toEqual([label, 'answered']);
      for (const [label] of proxied)
        expect([label, got[label]]).not.toEqual([label, 'HTTP/1.1 200 Connection Established']);
      // Loopback inside the sandbox is its own: nothing listens there.
      expect(got.postgres).toBe('ECONNREFUSED');
      expect(got.proxyPostgres).toBe('HTTP/1.1 403 Forbidden');
      expect(got.proxyTestHostUnopened).toBe('HTTP/1.1 403 Forbidden');
      // The platform's listener never saw a connection, and the test host's closed API no request.
      expect(listener.connections()).toBe(0);
      expect(await closedApi.requests()).toBe(0);
      // Each refusal is in the connection's log, with its reason.
      const logs = await admin.get(`/functions/v1/mcp-connections/${installed.id}/logs?tail=200`);
      const lines = JSON.stringify(logs.body);
      expect(lines).toContain('Egress refused: 127.0.0.1:');
      expect(lines).toContain(`Egress refused: ${host.address}:8081`);
      await admin.delete(`/functions/v1/mcp-connections/${installed.id}`);
      await admin.delete(`/functions/v1/mcp-connections/${other.id}`);
    },
  );

  it('custom-api-server reaches an opened on-premise API and postgres-server an opened database', async () => {
    const apiConn = (
      await install({
        mcp_server_id: 'custom-api-server',
        config: { api_base_url: api.url, openapi_spec_url: `${api.url}/openapi.json` },
      })
    ).body;
    const pg = (
      await install({
        mcp_server_id: 'postgres-server',
        provided_credential_schema: { connection_string: db.connectionString },
      })
    ).body;
    await waitForStatus(admin, apiConn.id, 'mcpRunning');
    await waitForStatus(admin, pg.id, 'mcpRunning');

    const apiClient = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${apiConn.id}/mcp`,
      platform.serviceRoleKey,
    );
    const tools = (await apiClient.listTools()).tools.map((t) => t.name);
    const greeting = tools.find((t) => /greeting/i.test(t))!;
    expect(greeting).toBeDefined();
    const before = await api.requests();
    const answer = resultText(
      await apiClient.callTool({ name: greeting, arguments: { name: 'sandbox' } }),
    );
    expect(answer).toContain('hello sandbox');
    expect(await api.requests()).toBeGreaterThan(before);
    await apiClient.close();

    const pgClient = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${pg.id}/mcp`,
      platform.serviceRoleKey,
    );
    const rows = resultText(
      await pgClient.callTool({
        name: 'query',
        arguments: { sql: 'SELECT count(*)::int AS n FROM widgets' },
      }),
    );
    expect(JSON.parse(rows)).toEqual([{ n: 2 }]);
    await pgClient.close();
    const logs = JSON.stringify(
      (await admin.get(`/functions/v1/mcp-connections/${pg.id}/logs?tail=50`)).body,
    );
    expect(logs).toContain(`Egress: connected to ${host.address}:5432`);
    await admin.delete(`/functions/v1/mcp-connections/${apiConn.id}`);
    await admin.delete(`/functions/v1/mcp-connections/${pg.id}`);
  });

  it('refuses at install, with egress_denied and nothing written, targets no sandbox may reach', async () => {
    const before = (await admin.get('/functions/v1/mcp-connections?account_id=acct-egress')).body
      .data.length;
    const platformDb = new URL(infra.databaseUrl);
    const cases: [Record<string, unknown>, string][] = [
      [
        {
          mcp_server_id: 'postgres-server',
          provided_credential_schema: {
            connection_string: `postgresql://postgres@127.0.0.1:${platformDb.port || 5432}/postgres`,
          },
        },
        'provided_credential_schema.connection_string',
      ],
      [
        {
          mcp_server_id: 'postgres-server',
          provided_credential_schema: {
            connection_string: `postgresql://postgres@localhost:${platformDb.port || 5432}/postgres`,
          },
        },
        'provided_credential_schema.connection_string',
      ],
      [
        {
          mcp_server_id: 'custom-api-server',
          config: { api_base_url: listener.url, openapi_spec_url: `${listener.url}/openapi.json` },
        },
        'config.api_base_url',
      ],
      [
        {
          mcp_server_id: 'custom-api-server',
          config: {
            api_base_url: closedApi.url,
            openapi_spec_url: `${closedApi.url}/openapi.json`,
          },
        },
        'config.api_base_url',
      ],
      [
        {
          mcp_server_id: 'custom-api-server',
          config: {
            api_base_url: 'http://169.254.169.254',
            openapi_spec_url: 'http://169.254.169.254/openapi.json',
          },
        },
        'config.api_base_url',
      ],
    ];
    for (const [body, field] of cases) {
      const res = await install(body);
      expect({ field, status: res.status, body: res.body }).toMatchObject({
        status: 400,
        body: {
          error: 'egress_denied',
          message: expect.stringMatching(new RegExp(`${field}.*EGRESS_ALLOW_PRIVATE`)),
        },
      });
    }
    // A credential update is checked the same way.
    const pg = (
      await install({
        mcp_server_id: 'postgres-server',
        provided_credential_schema: { connection_string: db.connectionString },
      })
    ).body;
    const update = await admin.put(`/functions/v1/mcp-connections/${pg.id}/credentials`, {
      provided_credential_schema: {
        connection_string: 'postgresql://postgres@127.0.0.1:5432/postgres',
      },
    });
    expect(update.status).toBe(400);
    expect(update.body.error).toBe('egress_denied');
    // The secret's host is not repeated back.
    expect(update.body.message).not.toContain('127.0.0.1');
    await admin.delete(`/functions/v1/mcp-connections/${pg.id}`);
    const after = (await admin.get('/functions/v1/mcp-connections?account_id=acct-egress')).body
      .data.length;
    expect(after).toBe(before);
    expect(listener.connections()).toBe(0);
    expect(await closedApi.requests()).toBe(0);
  });

  it('stops a memory hog and a fork bomb with the limit they broke, and the platform stays healthy', async () => {
    const hog = customServerType(
      'memory-hog',
      tinyMcpServer(
        `const kept = []; setInterval(() => { const b = Buffer.alloc(32 * 1024 * 1024, 1); kept.push(b); }, 50);`,
      ),
    );
    const bomb = customServerType(
      'fork-bomb',
      tinyMcpServer(
        `const cp = require('child_process'); setInterval(() => { for (let i = 0; i < 8; i++) { try { cp.spawn('/bin/sleep', ['60']).on('error', () => {}); } catch {} } }, 50);`,
      ),
    );
    for (const type of [hog, bomb])
      expect((await admin.post('/functions/v1/mcp-servers', type)).status).toBe(201);
    const a = (await install({ mcp_server_id: 'memory-hog' })).body;
    const b = (await install({ mcp_server_id: 'fork-bomb' })).body;
    const hogged = await waitForStatus(admin, a.id, 'mcpError', 40_000);
    const bombed = await waitForStatus(admin, b.id, 'mcpError', 40_000);
    expect(hogged.status_reason).toMatch(/Memory limit/);
    expect(bombed.status_reason).toMatch(/Process limit/);
    expect((await admin.get('/health')).status).toBe(200);
    // A server still works beside them.
    const ok = (await install({ mcp_server_id: 'memory-server' })).body;
    await waitForStatus(admin, ok.id, 'mcpRunning');
    for (const id of [a.id, b.id, ok.id]) await admin.delete(`/functions/v1/mcp-connections/${id}`);
  }, 120_000);

  it('gives each sandbox its own uid and a working dir only that uid can enter', async () => {
    const one = (await install({ mcp_server_id: 'memory-server', title: 'one' })).body;
    const two = (await install({ mcp_server_id: 'memory-server', title: 'two' })).body;
    await waitForStatus(admin, one.id, 'mcpRunning');
    await waitForStatus(admin, two.id, 'mcpRunning');
    const stat = (id: string) => fs.statSync(path.join(platform.dataDir, 'sandboxes', id, 'work'));
    if (process.getuid?.() === 0) {
      expect(stat(one.id).uid).not.toBe(stat(two.id).uid);
      expect(stat(one.id).uid).toBeGreaterThanOrEqual(200000);
    }
    expect(stat(one.id).mode & 0o777).toBe(0o700);
    for (const id of [one.id, two.id]) await admin.delete(`/functions/v1/mcp-connections/${id}`);
  });
});
