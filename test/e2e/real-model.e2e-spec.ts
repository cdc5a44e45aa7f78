import {
  ApiClient,
  createTestInfrastructure,
  type TestInfrastructure,
  TestPlatform,
  waitForRun,
  waitForStatus,
} from '@athenic/testing';

// A real model, when a key is given to the test run (OPENAI_API_KEY, optionally OPENAI_BASE_URL
// and AGENT_MODEL; or ANTHROPIC_API_KEY). Without one, jest reports these tests as skipped.
const openai = process.env.OPENAI_API_KEY;
const anthropic = process.env.ANTHROPIC_API_KEY;
const model =
  process.env.AGENT_MODEL ?? (openai ? 'openai:gpt-4o-mini' : 'anthropic:claude-3-5-haiku-latest');
const withKey = openai || anthropic ? describe : describe.skip;
if (!openai && !anthropic) {
  process.stdout.write(
    'real-model smoke test skipped: set OPENAI_API_KEY (or ANTHROPIC_API_KEY) to run it against a real model\n',
  );
}

withKey('a real model uses a real MCP server through the platform', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;

  beforeAll(async () => {
    infra = await createTestInfrastructure('real-model');
    platform = await new TestPlatform(infra, {
      env: {
        AGENT_MODEL: model,
        ...(openai ? { OPENAI_API_KEY: openai } : {}),
        ...(process.env.OPENAI_BASE_URL ? { OPENAI_BASE_URL: process.env.OPENAI_BASE_URL } : {}),
        ...(anthropic ? { ANTHROPIC_API_KEY: anthropic } : {}),
      },
    }).start();
  });

  afterAll(async () => {
    await platform?.stop();
    await infra?.dispose();
  });

  it('remembers a fact with the memory server and says so', async () => {
    const api = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    const { id } = (
      await api.post('/functions/v1/mcp-connections/install', {
        mcp_server_id: 'memory-server',
        account_id: 'smoke',
        title: 'memory',
      })
    ).body;
    await waitForStatus(api, id, 'mcpRunning');
    const started = await api.post('/functions/v1/agent-runs', {
      account_id: 'smoke',
      messages: [
        {
          role: 'user',
          content:
            'Use your memory tools to remember that Ada Lovelace wrote the first program, then confirm.',
        },
      ],
    });
    const run = await waitForRun(api, started.body.id, 120000);
    expect(run.status).toBe('completed');
    expect(run.tool_calls.length).toBeGreaterThan(0);
  }, 180000);
});
