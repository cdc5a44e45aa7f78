import {
  ApiClient,
  connectMcpClient,
  createTestInfrastructure,
  queryDatabase,
  type TestInfrastructure,
  TestPlatform,
  waitForStatus,
} from '@athenic/testing';
import { createServer, type Server } from 'node:http';

describe('sandbox limits, activity, and the shipped types offline', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let admin: ApiClient;

  beforeAll(async () => {
    infra = await createTestInfrastructure('capacity');
    platform = await new TestPlatform(infra, {
      // The local API of custom-api-server listens on 127.0.0.2, opened as an on-premise API.
      env: {
        MAX_SANDBOXES: '3',
        MAX_SANDBOXES_PER_ACCOUNT: '1',
        MAX_CONNECTIONS_PER_ACCOUNT: '3',
        EGRESS_ALLOW_PRIVATE: '127.0.0.2',
      },
    }).start();
    admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
  });

  afterAll(async () => {
    await platform?.stop();
    await infra?.dispose();
  });

  it('keeps installs beyond the account limit waiting in mcpPending with their queue position, then runs them', async () => {
    const install = async (title: string) =>
      (
        await admin.install({
          mcp_server_id: 'memory-server',
          account_id: 'acct-limited',
          title,
        })
      ).id as string;
    const first = await install('first');
    await waitForStatus(admin, first, 'mcpRunning');
    const second = await install('second');
    const third = await install('third');
    await new Promise((r) => setTimeout(r, 2500));
    const waiting = (await admin.get(`/functions/v1/mcp-connections/${second}`)).body;
    expect(waiting.status).toBe('mcpPending');
    expect(waiting.status_reason).toBe(
      'Waiting for a sandbox slot: position 1 in the queue (the account already runs its limit of 1 sandboxes); it starts by itself when one frees up.',
    );
    expect(
      (await admin.get(`/functions/v1/mcp-connections/${third}`)).body.status_reason,
    ).toContain('position 2 in the queue');
    // Another account is not held up.
    const other = (
      await admin.install({
        mcp_server_id: 'memory-server',
        account_id: 'acct-other',
        title: 'other',
      })
    ).id;
    await waitForStatus(admin, other, 'mcpRunning');
    // A slot frees up: the next in line runs, by itself.
    await admin.post(`/functions/v1/mcp-connections/${first}/stop`);
    await waitForStatus(admin, second, 'mcpRunning');
    expect((await admin.get(`/functions/v1/mcp-connections/${third}`)).body.status).toBe(
      'mcpPending',
    );
    await admin.delete(`/functions/v1/mcp-connections/${second}`);
    await waitForStatus(admin, third, 'mcpRunning');
    for (const id of [third, other]) await admin.delete(`/functions/v1/mcp-connections/${id}`);
  });

  it('refuses installs beyond MAX_CONNECTIONS_PER_ACCOUNT, exactly, even when they race', async () => {
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        admin.post('/functions/v1/mcp-connections/install', {
          mcp_server_id: 'memory-server',
          account_id: 'acct-quota',
          title: `quota ${i}`,
        }),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([202, 202, 202, 409, 409]);
    expect(answers.find((a) => a.status === 409)!.body).toMatchObject({
      error: 'quota_exceeded',
      message: expect.stringContaining('MAX_CONNECTIONS_PER_ACCOUNT=3'),
    });
    const listed = await admin.get('/functions/v1/mcp-connections?account_id=acct-quota');
    expect(listed.body.data).toHaveLength(3);
    // Nothing of a refused install stays behind: its credentials row went with it.
    const orphans = await queryDatabase(
      infra.databaseUrl,
      `SELECT count(*)::int AS n FROM credential.credential_sets
        WHERE account_id = 'acct-quota' AND NOT (connection_id = ANY($1::uuid[]))`,
      [listed.body.data.map((c: { id: string }) => c.id)],
    );
    expect(orphans).toEqual([{ n: 0 }]);
    for (const { id } of listed.body.data as { id: string }[])
      await admin.delete(`/functions/v1/mcp-connections/${id}`);
  });

  it('records MCP use as activity (last_active_at), in batches', async () => {
    const { id } = await admin.install({
      mcp_server_id: 'memory-server',
      account_id: 'acct-active',
      title: 'active',
    });
    await waitForStatus(admin, id, 'mcpRunning');
    expect((await admin.get(`/functions/v1/mcp-connections/${id}`)).body.last_active_at).toBeNull();
    const client = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`,
      platform.serviceRoleKey,
    );
    const used = Date.now();
    await client.listTools();
    await client.close();
    const seen = await waitFor(
      async () => (await admin.get(`/functions/v1/mcp-connections/${id}`)).body.last_active_at,
      10000,
    );
    expect(Date.parse(seen)).toBeGreaterThanOrEqual(used - 1000);
    await admin.delete(`/functions/v1/mcp-connections/${id}`);
  });

  describe('the shipped types that reach mcpRunning offline', () => {
    let api: Server;
    let apiUrl: string;

    beforeAll(async () => {
      // A local REST API with its OpenAPI document, for custom-api-server.
      api = createServer((req, res) => {
        if (req.url === '/openapi.json') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              openapi: '3.0.0',
              info: { title: 'pets', version: '1' },
              paths: {
                '/pets': {
                  get: { operationId: 'listPets', responses: { '200': { description: 'ok' } } },
                },
              },
            }),
          );
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify([{ name: 'Rex', header: req.headers['x-api-key'] ?? null }]));
      });
      await new Promise<void>((resolve) => api.listen(0, '127.0.0.2', resolve));
      apiUrl = `http://127.0.0.2:${(api.address() as { port: number }).port}`;
    });

    afterAll(() => api?.close());

    it.each([
      ['slack-server', { slack_bot_token: 'xoxb-offline', slack_team_id: 'T000' }, {}],
      ['filesystem-server', {}, {}],
      [
        'jira-server',
        {
          atlassian_site_name: 'example',
          atlassian_user_email: 'a@example.com',
          atlassian_api_token: 'token',
        },
        {},
      ],
    ])('%s', async (type, credentials, config) => {
      const { id } = await admin.install({
        mcp_server_id: type,
        account_id: `acct-${type}`,
        title: type,
        provided_credential_schema: credentials,
        config,
      });
      const running = await waitForStatus(admin, id, ['mcpRunning', 'mcpError']);
      expect({ type, status: running.status, reason: running.status_reason }).toEqual({
        type,
        status: 'mcpRunning',
        reason: expect.stringContaining('tool(s)'),
      });
      await admin.delete(`/functions/v1/mcp-connections/${id}`);
    });

    it('custom-api-server against a local API, its headers credential passed on', async () => {
      const { id } = (
        await admin.post('/functions/v1/mcp-connections/install', {
          mcp_server_id: 'custom-api-server',
          account_id: 'acct-custom',
          title: 'pets',
          provided_credential_schema: { api_headers: JSON.stringify({ 'X-API-Key': 'k-123' }) },
          config: { api_base_url: apiUrl, openapi_spec_url: `${apiUrl}/openapi.json` },
        })
      ).body;
      await waitForStatus(admin, id, 'mcpRunning');
      const client = await connectMcpClient(
        `${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`,
        platform.serviceRoleKey,
      );
      const tools = (await client.listTools()).tools;
      expect(tools).toHaveLength(1);
      const result = await client.callTool({ name: tools[0].name, arguments: {} });
      await client.close();
      expect(JSON.stringify(result.content)).toContain('k-123');
      const rows = await queryDatabase(
        infra.databaseUrl,
        `SELECT isolation FROM sandbox.connections WHERE id = $1`,
        [id],
      );
      expect(rows).toEqual([{ isolation: 'bubblewrap' }]);
    });
  });
});

async function waitFor<T>(
  probe: () => Promise<T | null | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}
