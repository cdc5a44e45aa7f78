import {
  ApiClient,
  connectMcpClient,
  createTestInfrastructure,
  type TestInfrastructure,
  TestPlatform,
  waitForStatus,
} from '@athenic/testing';

// Real E2B, when a key is given to the test run (E2B_API_KEY, optionally E2B_TEMPLATE). Without
// one, jest reports this test as skipped.
const apiKey = process.env.E2B_API_KEY;
const withKey = apiKey ? describe : describe.skip;
if (!apiKey) {
  process.stdout.write('real-E2B smoke test skipped: set E2B_API_KEY to run it against E2B\n');
}

withKey('a server deployed into a real E2B sandbox', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;

  beforeAll(async () => {
    infra = await createTestInfrastructure('real-e2b');
    platform = await new TestPlatform(infra, {
      env: {
        SANDBOX_PROVIDER: 'e2b',
        E2B_API_KEY: apiKey!,
        ...(process.env.E2B_TEMPLATE ? { E2B_TEMPLATE: process.env.E2B_TEMPLATE } : {}),
        DEPLOY_TIMEOUT_MS: '180000',
      },
    }).start();
  }, 120_000);

  afterAll(async () => {
    await platform?.stop();
    await infra?.dispose();
  });

  it('installs, answers tool calls through the gateway, and is killed on delete', async () => {
    const admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    const { id } = await admin.install({
      mcp_server_id: 'memory-server',
      account_id: 'acct-real-e2b',
      title: 'memory in E2B',
    });
    const running = await waitForStatus(admin, id, 'mcpRunning', 180_000);
    expect(running.isolation).toBe('e2b');
    const client = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`,
      platform.serviceRoleKey,
    );
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('read_graph');
    expect((await client.callTool({ name: 'read_graph', arguments: {} })).isError).toBeFalsy();
    await client.close();
    expect((await admin.delete(`/functions/v1/mcp-connections/${id}`)).status).toBe(204);
  }, 300_000);
});
