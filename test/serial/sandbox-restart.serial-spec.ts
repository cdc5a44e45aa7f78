import {
  ApiClient,
  connectMcpClient,
  connectionProcesses,
  createTestInfrastructure,
  customServerType,
  eventually,
  type TestInfrastructure,
  TestPlatform,
  tinyMcpServer,
  waitForStatus,
} from '@athenic/testing';
import { readFileSync } from 'node:fs';

/** Pids of live processes that belong to a connection (its id is in their environment). */
const serverProcesses = (connectionId: string) =>
  connectionProcesses(connectionId).map((p) => p.pid);

// Answers initialize only after a while, so a deploy can be caught in the middle.
const SLOW_START = `const started = Date.now(); const until = started + 3000; while (Date.now() < until) {}`;

describe('kill -9 of the sandbox service', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let admin: ApiClient;

  beforeAll(async () => {
    infra = await createTestInfrastructure('sandbox-kill');
    platform = await new TestPlatform(infra, { env: { DEPLOY_TIMEOUT_MS: '20000' } }).start();
    admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    expect(
      (
        await admin.post(
          '/functions/v1/mcp-servers',
          customServerType('slow-start', tinyMcpServer(SLOW_START)),
        )
      ).status,
    ).toBe(201);
  });

  afterAll(async () => {
    await platform?.stop();
    await infra?.dispose();
  });

  it('while an install is deploying: no connection stays mcpDeploying, no server process is orphaned, it ends running', async () => {
    const { id } = await admin.install({
      mcp_server_id: 'slow-start',
      account_id: 'acct-k',
      title: 'slow',
    });
    await waitForStatus(admin, id, 'mcpDeploying');
    await eventually(() => expect(serverProcesses(id).length).toBeGreaterThan(0));
    await platform.service('sandbox-service').kill();
    // The sandbox dies with its parent.
    await eventually(() => expect(serverProcesses(id)).toEqual([]), { timeoutMs: 5000 });
    await platform.service('sandbox-service').start();
    const after = await waitForStatus(admin, id, ['mcpRunning', 'mcpError'], 30000);
    expect(after.status).toBe('mcpRunning');
    const events = (await admin.get(`/functions/v1/mcp-connections/${id}/events`)).body.data;
    expect(events.map((e: { to: string }) => e.to)).toEqual([
      'mcpPending',
      'mcpDeploying',
      'mcpPending',
      'mcpDeploying',
      'mcpRunning',
    ]);
    expect(events[2].reason).toContain('restarted');
    // One sandbox: one server process (beside bubblewrap's own).
    const servers = serverProcesses(id).filter((pid) =>
      readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(process.execPath),
    );
    expect(servers).toHaveLength(1);
  });

  it('while connections run: they come back running by themselves and serve MCP again', async () => {
    const { id } = await admin.install({
      mcp_server_id: 'memory-server',
      account_id: 'acct-k',
      title: 'memory',
    });
    await waitForStatus(admin, id, 'mcpRunning');
    await platform.service('sandbox-service').kill();
    await eventually(() => expect(serverProcesses(id)).toEqual([]), { timeoutMs: 5000 });
    await platform.service('sandbox-service').start();
    await waitForStatus(admin, id, 'mcpRunning', 30000);
    const client = await eventually(
      () =>
        connectMcpClient(
          `${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`,
          platform.serviceRoleKey,
        ),
      { timeoutMs: 10000 },
    );
    expect((await client.listTools()).tools).toHaveLength(9);
    await client.close();
  });
});
