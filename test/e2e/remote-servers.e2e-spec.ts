import {
  ApiClient,
  connectMcpClient,
  createTestInfrastructure,
  FakeOpenAi,
  lastToolResult,
  RemoteMcpServer,
  resultText,
  runAgent,
  type TestInfrastructure,
  TestPlatform,
  waitForStatus,
} from '@athenic/testing';
import { randomBytes } from 'node:crypto';

const ACCOUNT = 'acct-remote';
const TYPE = 'remote-echo';

/** A remote server type: the port and the tenant come from the config, the token is a credential. */
const remoteType = (overrides: Record<string, unknown> = {}) => ({
  id: TYPE,
  name: 'Remote echo',
  description: 'An MCP server that already runs elsewhere, reached over Streamable HTTP',
  category: 'custom',
  transport: 'streamable-http',
  remote: {
    url: 'http://127.0.0.1:{port}/{tenant}/mcp',
    headers: { Authorization: 'Bearer {credential:token}', 'X-Tenant': '{tenant}' },
  },
  credential_schema: {
    type: 'object',
    properties: { token: { type: 'string', writeOnly: true, maxLength: 200 } },
    required: ['token'],
    additionalProperties: false,
  },
  config_schema: {
    type: 'object',
    properties: {
      port: { type: 'integer', minimum: 1, maximum: 65535 },
      tenant: { type: 'string', pattern: '^[a-z]{1,20}$' },
    },
    required: ['port', 'tenant'],
    additionalProperties: false,
  },
  egress: [],
  ...overrides,
});

describe('remote MCP servers: a server reached over Streamable HTTP through an opened private address', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let admin: ApiClient;
  // The canary: the one credential of these tests; it must reach the remote server and nothing else.
  const token = `tok_${randomBytes(16).toString('hex')}`;
  const remote = new RemoteMcpServer(token, '/acme/mcp');
  const older = new RemoteMcpServer(token, '/acme/sse', 'sse');
  const model = new FakeOpenAi([]);
  let runningId: string;
  let refusedId: string;
  let sseId: string;

  beforeAll(async () => {
    await remote.start();
    await older.start();
    await model.start();
    infra = await createTestInfrastructure('remote-servers');
    platform = await new TestPlatform(infra, {
      env: {
        // The on-premise server: opened as an operator would (a host address needs its port).
        EGRESS_ALLOW_PRIVATE: `127.0.0.1:${remote.port},127.0.0.1:${older.port}`,
        DEPLOY_TIMEOUT_MS: '15000',
        ...model.platformEnv(),
      },
    }).start();
    admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
  });

  afterAll(async () => {
    await platform?.stop();
    await infra?.dispose();
    await model.stop();
    await remote.stop();
    await older.stop();
  });

  it.each([
    [
      'a URL that is not http(s)',
      { remote: { url: 'ftp://127.0.0.1/{tenant}', headers: {} } },
      'remote.url must start with http:// or https://',
    ],
    [
      'a URL variable the config schema does not declare',
      { remote: { url: 'http://127.0.0.1:{port}/{nope}/mcp', headers: {} } },
      'remote.url refers to config "nope", which config_schema does not declare',
    ],
    [
      'a credential in the URL',
      { remote: { url: 'http://127.0.0.1:{port}/{credential:token}', headers: {} } },
      'remote.url refers to credential "token": credentials go in remote.headers',
    ],
    [
      'a header referring to an undeclared credential',
      {
        remote: {
          url: 'http://127.0.0.1:{port}/{tenant}/mcp',
          headers: { Authorization: 'Bearer {credential:api_key}' },
        },
      },
      'remote.headers.Authorization refers to credential "api_key", which credential_schema does not declare',
    ],
    [
      'a header the MCP client sets itself',
      { remote: { url: 'http://127.0.0.1:{port}/{tenant}/mcp', headers: { Host: 'x' } } },
      'remote.headers.Host is set by the platform',
    ],
    [
      'a launch spec',
      { launch: { command: 'node', args: [], env: {} } },
      'launch is for stdio servers',
    ],
    ['no remote at all', { remote: undefined }, 'remote'],
  ])(
    'refuses a remote server type with %s (400, nothing created)',
    async (_, overrides, message) => {
      const res = await admin.post('/functions/v1/mcp-servers', remoteType(overrides));
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('validation_failed');
      expect(res.body.message).toContain(message);
      expect((await admin.get(`/functions/v1/mcp-servers/${TYPE}`)).status).toBe(404);
    },
  );

  it('registers a remote server type with the service role key; the catalog shows its transport and template', async () => {
    const res = await admin.post('/functions/v1/mcp-servers', remoteType());
    expect(res.status).toBe(201);
    const shown = (await admin.get(`/functions/v1/mcp-servers/${TYPE}`)).body;
    expect(shown).toMatchObject({
      transport: 'streamable-http',
      package: null,
      remote: {
        url: 'http://127.0.0.1:{port}/{tenant}/mcp',
        headers: { Authorization: 'Bearer {credential:token}', 'X-Tenant': '{tenant}' },
      },
    });
  });

  it('installs it: no sandbox, the connection reaches mcpRunning with isolation "remote"', async () => {
    const installed = await admin.install({
      mcp_server_id: TYPE,
      account_id: ACCOUNT,
      title: 'On-premise echo',
      config: { port: remote.port, tenant: 'acme' },
      provided_credential_schema: { token },
    });
    runningId = installed.id;
    const running = await waitForStatus(admin, runningId, 'mcpRunning');
    expect(running.isolation).toBe('remote');
    expect(running.status_reason).toContain('2 tool(s)');
    expect(remote.requests.filter((r) => r.authorized).length).toBeGreaterThan(0);
  });

  it("serves it through the gateway's MCP endpoint, like a sandboxed one", async () => {
    const client = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${runningId}/mcp`,
      platform.serviceRoleKey,
    );
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['add', 'echo']);
    expect(
      resultText(await client.callTool({ name: 'echo', arguments: { text: 'over the wire' } })),
    ).toBe('remote echo: over the wire');
    expect(resultText(await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } }))).toBe(
      '42',
    );
    await client.close();
    const health = await admin.get(`/functions/v1/mcp-connections/health?account_id=${ACCOUNT}`);
    expect(health.body.connections).toEqual([
      expect.objectContaining({ id: runningId, status: 'mcpRunning', healthy: true }),
    ]);
  });

  it('is used by an agent run', async () => {
    model.play([
      () => ({ toolCalls: [{ name: '-echo', arguments: { text: 'from the agent' } }] }),
      (request) => ({ content: `Said: ${lastToolResult(request)}` }),
    ]);
    const run = await runAgent(admin, {
      account_id: ACCOUNT,
      messages: [{ role: 'user', content: 'Echo something.' }],
    });
    expect(run).toMatchObject({ status: 'completed', error: null });
    expect(run.output).toContain('remote echo: from the agent');
    expect(run.tool_calls).toEqual([
      expect.objectContaining({
        connection_id: runningId,
        tool: 'echo',
        state: 'finished',
        is_error: false,
      }),
    ]);
  });

  it('stops and starts it again with the same lifecycle', async () => {
    expect((await admin.post(`/functions/v1/mcp-connections/${runningId}/stop`, {})).status).toBe(
      202,
    );
    await waitForStatus(admin, runningId, 'mcpStopped');
    expect((await admin.post(`/functions/v1/mcp-connections/${runningId}/start`, {})).status).toBe(
      202,
    );
    const running = await waitForStatus(admin, runningId, 'mcpRunning');
    expect(running.isolation).toBe('remote');
  });

  it('puts a connection whose credentials the server refuses (401) in mcpError, saying so; replaced credentials bring it up', async () => {
    const wrong = `tok_wrong_${randomBytes(8).toString('hex')}`;
    const installed = await admin.install({
      mcp_server_id: TYPE,
      account_id: ACCOUNT,
      title: 'Wrong token',
      config: { port: remote.port, tenant: 'acme' },
      provided_credential_schema: { token: wrong },
    });
    refusedId = installed.id;
    const failed = await waitForStatus(admin, refusedId, 'mcpError');
    expect(failed.status_reason).toMatch(/refused the credentials \(HTTP 401\)/);
    expect(failed.status_reason).not.toContain(wrong);
    const logs = await admin.get(`/functions/v1/mcp-connections/${refusedId}/logs?tail=100`);
    expect(JSON.stringify(logs.body)).not.toContain(wrong);

    expect(
      (
        await admin.put(`/functions/v1/mcp-connections/${refusedId}/credentials`, {
          provided_credential_schema: { token },
        })
      ).status,
    ).toBe(202);
    expect((await admin.post(`/functions/v1/mcp-connections/${refusedId}/start`, {})).status).toBe(
      202,
    );
    await waitForStatus(admin, refusedId, 'mcpRunning');
  });

  it('connects an older server over HTTP+SSE (transport "sse") the same way', async () => {
    const created = await admin.post(
      '/functions/v1/mcp-servers',
      remoteType({
        id: 'remote-sse',
        transport: 'sse',
        remote: {
          url: 'http://127.0.0.1:{port}/{tenant}/sse',
          headers: { Authorization: 'Bearer {credential:token}' },
        },
      }),
    );
    expect(created.status).toBe(201);
    const installed = await admin.install({
      mcp_server_id: 'remote-sse',
      account_id: ACCOUNT,
      title: 'Older server',
      config: { port: older.port, tenant: 'acme' },
      provided_credential_schema: { token },
    });
    sseId = installed.id;
    const running = await waitForStatus(admin, sseId, 'mcpRunning');
    expect(running.isolation).toBe('remote');
    const client = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${sseId}/mcp`,
      platform.serviceRoleKey,
    );
    expect(
      resultText(await client.callTool({ name: 'echo', arguments: { text: 'via sse' } })),
    ).toBe('remote echo: via sse');
    await client.close();

    const refused = await admin.install({
      mcp_server_id: 'remote-sse',
      account_id: ACCOUNT,
      title: 'Older server, wrong token',
      config: { port: older.port, tenant: 'acme' },
      provided_credential_schema: { token: 'tok_not_this_one' },
    });
    const failed = await waitForStatus(admin, refused.id, 'mcpError');
    expect(failed.status_reason).toMatch(/refused the credentials \(HTTP 401\)/);
  });

  it('puts a running connection in mcpError when the server starts refusing its credentials (revoked): no endless retries', async () => {
    remote.token = `tok_rotated_${randomBytes(8).toString('hex')}`;
    try {
      const client = await connectMcpClient(
        `${platform.baseUrl}/functions/v1/mcp-connections/${refusedId}/mcp`,
        platform.serviceRoleKey,
      );
      await expect(
        client.callTool({ name: 'echo', arguments: { text: 'after revocation' } }),
      ).rejects.toThrow();
      await client.close();
      const failed = await waitForStatus(admin, refusedId, 'mcpError');
      expect(failed.status_reason).toMatch(/refused the credentials \(HTTP 401\)/);
    } finally {
      remote.token = token;
    }
  });

  it('refuses an install whose URL names an address EGRESS_ALLOW_PRIVATE does not open (400 egress_denied, nothing created)', async () => {
    const before = (await admin.get(`/functions/v1/mcp-connections?account_id=${ACCOUNT}`)).body
      .data.length;
    const res = await admin.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: TYPE,
      account_id: ACCOUNT,
      title: 'Not opened',
      // 127.0.0.1 is opened on the remote server's port only.
      config: { port: remote.port === 65535 ? 65534 : remote.port + 1, tenant: 'acme' },
      provided_credential_schema: { token },
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('egress_denied');
    expect(res.body.message).toContain('EGRESS_ALLOW_PRIVATE');
    expect(
      (await admin.get(`/functions/v1/mcp-connections?account_id=${ACCOUNT}`)).body.data.length,
    ).toBe(before);
  });

  it('refuses a config value that would change the URL (validated against the config schema)', async () => {
    const res = await admin.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: TYPE,
      account_id: ACCOUNT,
      title: 'Bad tenant',
      config: { port: remote.port, tenant: '../admin' },
      provided_credential_schema: { token },
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('validation_failed');
  });

  it('never shows the token: not in logs, events, connections, agent runs, nor any service output', async () => {
    const texts: string[] = [];
    for (const id of [runningId, refusedId, sseId]) {
      for (const path of ['', '/events', '/logs?tail=1000'])
        texts.push(
          JSON.stringify((await admin.get(`/functions/v1/mcp-connections/${id}${path}`)).body),
        );
    }
    texts.push(
      JSON.stringify((await admin.get(`/functions/v1/agent-runs?account_id=${ACCOUNT}`)).body),
    );
    const logs = (await admin.get(`/functions/v1/mcp-connections/${runningId}/logs?tail=1000`)).body
      .data as { line: string }[];
    expect(logs.map((l) => l.line)).toEqual(
      expect.arrayContaining([
        expect.stringContaining('Connected to the remote server with 2 tool(s)'),
      ]),
    );
    texts.push(...platform.allLogLines());
    for (const form of [token, Buffer.from(token).toString('base64')])
      for (const text of texts) expect(text).not.toContain(form);
  });
});
