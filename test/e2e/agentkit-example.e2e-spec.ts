import { AthenicApiError, buildMcpServersConfig } from '@athenic/client';
import {
  ApiClient,
  connectMcpClient,
  createTestInfrastructure,
  FakeOpenAi,
  lastToolResult,
  REPO_ROOT,
  resultText,
  type TestInfrastructure,
  TestPlatform,
  waitForStatus,
} from '@athenic/testing';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const EXAMPLE = path.join(REPO_ROOT, 'examples/agentkit');
/** How AgentKit 0.13.2's own mcpServers path fails (inngest/agent-kit#312). */
const UPSTREAM_BUG = "Cannot read properties of undefined (reading 'def')";

/**
 * The guide's AgentKit example as a user runs it: examples/agentkit is a project of its own (its
 * own package.json and lockfile, AgentKit from npm, @athenic/client installed from libs/client as
 * a packed package), run as a separate node process against the platform and a local
 * OpenAI-compatible model; what its agent did is read back by an independent MCP client.
 */
describe("the guide's AgentKit example, from a user's own project", () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let admin: ApiClient;
  let key: string;
  let memory: string;
  const model = new FakeOpenAi([]);

  async function example(
    args: string[],
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await run(process.execPath, ['agent.mjs', ...args], {
        cwd: EXAMPLE,
        timeout: 60000,
        env: {
          PATH: process.env.PATH,
          ATHENIC_URL: platform.baseUrl,
          ATHENIC_API_KEY: key,
          ACCOUNT_ID: 'acct-example',
          OPENAI_API_KEY: model.apiKey,
          OPENAI_BASE_URL: model.baseUrl,
          OPENAI_MODEL: 'gpt-test',
        },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: failed.code ?? 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  }

  beforeAll(async () => {
    await model.start();
    infra = await createTestInfrastructure('agentkit-example');
    platform = await new TestPlatform(infra).start();
    admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    key = (
      await admin.post('/functions/v1/api-keys', { account_id: 'acct-example', name: 'example' })
    ).body.key;
    memory = (
      await admin.install({
        mcp_server_id: 'memory-server',
        account_id: 'acct-example',
        title: 'memory',
      })
    ).id;
    await waitForStatus(admin, memory, 'mcpRunning');
  });

  afterAll(async () => {
    await platform?.stop();
    await infra?.dispose();
    await model.stop();
  });

  it('runs an agent over the account’s servers: the tool call really happened in the server', async () => {
    model.play([
      () => ({
        toolCalls: [
          {
            name: '-create_entities',
            arguments: {
              entities: [{ name: 'Ada', entityType: 'person', observations: ['first program'] }],
            },
          },
        ],
      }),
      (request) => ({ content: `Remembered. ${lastToolResult(request).slice(0, 300)}` }),
    ]);
    const result = await example(['Remember that Ada wrote the first program']);
    expect(result.stderr).not.toContain('Error');
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout.trim().split('\n').pop()!);
    expect(printed.output).toMatch(/^Remembered\. .*Ada/s);
    expect(printed.toolCalls).toEqual([
      {
        tool: 'create_entities',
        server: `memory-server-${memory.replace(/-/g, '').slice(0, 8)}`,
        arguments: {
          entities: [{ name: 'Ada', entityType: 'person', observations: ['first program'] }],
        },
      },
    ]);
    // The model saw the server's tools with their JSON Schemas.
    const create = model.requests[0].tools!.find((t) =>
      t.function.name.endsWith('create_entities'),
    );
    expect(JSON.stringify(create)).toContain('observations');
    const client = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${memory}/mcp`,
      platform.serviceRoleKey,
    );
    expect(resultText(await client.callTool({ name: 'read_graph', arguments: {} }))).toContain(
      'first program',
    );
    await client.close();
  });

  it('goes on to an answer when the model asks for a tool that does not exist', async () => {
    model.play([
      () => ({ toolCalls: [{ name: 'delete_everything', arguments: {} }] }),
      (request) => ({ content: `Told: ${lastToolResult(request)}` }),
    ]);
    const result = await example(['Delete everything']);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout.trim().split('\n').pop()!);
    expect(printed.toolCalls).toEqual([]);
    expect(printed.output).toContain('there is no tool named \\"delete_everything\\"');
  });

  it("tells which path is in force: AgentKit's own mcpServers option, or mcpTools while AgentKit has inngest/agent-kit#312", async () => {
    model.play([
      () => ({ toolCalls: [{ name: '-read_graph', arguments: {} }] }),
      (request) => ({ content: `Graph: ${lastToolResult(request).slice(0, 200)}` }),
    ]);
    const result = await example(['--plain-mcp-servers', 'What do you remember?']);
    if (result.code === 0) {
      // The upstream fix is in: the guide's plain way works, and must keep working.
      expect(JSON.parse(result.stdout.trim().split('\n').pop()!).output).toContain('Ada');
      process.stdout.write(
        "agentkit-example: AgentKit's own mcpServers path works (inngest/agent-kit#312 fixed); mcpTools is optional\n",
      );
    } else {
      // Exactly the known failure, nothing else: mcpTools is the path in force.
      expect(result.stderr).toContain(UPSTREAM_BUG);
      process.stdout.write(
        "agentkit-example: AgentKit's own mcpServers path still fails (inngest/agent-kit#312); mcpTools is the path in force\n",
      );
    }
  });

  it('buildMcpServersConfig gives the route’s shape, and refusals as AthenicApiError with the API’s code', async () => {
    const config = await buildMcpServersConfig('acct-example', {
      baseUrl: platform.baseUrl,
      apiKey: key,
      connectionIds: [memory],
      ttlS: 60,
    });
    expect(Object.keys(config).sort()).toEqual(['expires_at', 'mcp_servers']);
    expect(config.mcp_servers).toHaveLength(1);
    expect(config.mcp_servers[0].transport.requestInit.headers.Authorization).toMatch(
      /^Bearer rt_/,
    );
    const refusal = (promise: Promise<unknown>) =>
      promise.then(
        () => {
          throw new Error('expected a refusal');
        },
        (error: unknown) => {
          expect(error).toBeInstanceOf(AthenicApiError);
          return error as AthenicApiError;
        },
      );
    const wrongKey = await refusal(
      buildMcpServersConfig('acct-example', { baseUrl: platform.baseUrl, apiKey: 'ak_wrong' }),
    );
    expect([wrongKey.status, wrongKey.code]).toEqual([401, 'unauthorized']);
    const badTtl = await refusal(
      buildMcpServersConfig('acct-example', { baseUrl: platform.baseUrl, apiKey: key, ttlS: 5 }),
    );
    expect([badTtl.status, badTtl.code]).toEqual([400, 'validation_failed']);
    const nowhere = await refusal(
      buildMcpServersConfig('acct-example', { baseUrl: 'http://127.0.0.1:9', apiKey: key }),
    );
    expect(nowhere.code).toBe('unreachable');
    expect(JSON.stringify(nowhere.message)).not.toContain(key);
  });
});
