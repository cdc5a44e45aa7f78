import {
  ApiClient,
  connectMcpClient,
  connectionProcesses,
  createTestInfrastructure,
  customServerType,
  eventually,
  FakeE2b,
  fakeE2bEnv,
  type TestInfrastructure,
  TestPlatform,
  tinyMcpServer,
  waitForStatus,
} from '@athenic/testing';
import * as path from 'node:path';

/** The server itself: a node process of the connection (not bubblewrap, not an E2B bridge). */
function serverPids(connectionId: string): number[] {
  return connectionProcesses(connectionId)
    .filter(
      (p) =>
        path.basename(p.argv[0] ?? '') === 'node' &&
        !p.argv.some((arg) => arg.endsWith('serve.js')),
    )
    .map((p) => p.pid);
}

// The same suite for both sandbox providers (one spec file each, so they run in parallel): local (bubblewrap) and E2B (against the fake E2B,
// which runs each sandbox's processes on this machine).
export function lifecycleSuite(provider: 'local' | 'e2b'): void {
  describe(`a lifecycle that survives (${provider} sandboxes): idle stop, crash restarts, health checks`, () => {
    let e2b: FakeE2b | undefined;
    let infra: TestInfrastructure;
    let platform: TestPlatform;
    let admin: ApiClient;

    const events = async (id: string) =>
      (await admin.get(`/functions/v1/mcp-connections/${id}/events`)).body.data as {
        to: string;
        reason: string;
      }[];

    const sandboxesOf = (connectionId: string) =>
      e2b!.sandboxes({ athenic_connection_id: connectionId });

    beforeAll(async () => {
      infra = await createTestInfrastructure(`lifecycle-${provider}`);
      if (provider === 'e2b') e2b = await new FakeE2b().start();
      platform = await new TestPlatform(infra, {
        env: {
          ...(e2b ? fakeE2bEnv(e2b) : {}),
          IDLE_TIMEOUT_MS: '10000',
          HEALTH_CHECK_INTERVAL_MS: '400',
          HEALTH_CHECK_TIMEOUT_MS: '2000',
          RESTART_BACKOFF_MS: '300',
          CRASH_BUDGET: '2',
          RECONCILE_INTERVAL_MS: '1000',
          DEPLOY_TIMEOUT_MS: '20000',
        },
      }).start();
      admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    });

    afterAll(async () => {
      await platform?.stop();
      await e2b?.stop();
      await infra?.dispose();
    });

    it('stops an idle connection (reason "idle", desired stopped) and keeps a used one running; start brings it back', async () => {
      const install = async (title: string) =>
        (
          await admin.install({
            mcp_server_id: 'memory-server',
            account_id: 'acct-idle',
            title,
          })
        ).id as string;
      const [idle, used] = [await install('idle'), await install('used')];
      await waitForStatus(admin, idle, 'mcpRunning');
      await waitForStatus(admin, used, 'mcpRunning');
      const client = await connectMcpClient(
        `${platform.baseUrl}/functions/v1/mcp-connections/${used}/mcp`,
        platform.serviceRoleKey,
      );
      const started = Date.now();
      while (Date.now() - started < 12000) {
        await client.callTool({ name: 'read_graph', arguments: {} });
        await new Promise((r) => setTimeout(r, 500));
      }
      await client.close();
      const stopped = await waitForStatus(admin, idle, 'mcpStopped', 15000);
      expect(stopped).toMatchObject({
        desired_state: 'stopped',
        status_reason: expect.stringContaining('idle'),
      });
      expect(serverPids(idle)).toEqual([]);
      if (e2b) {
        // The idle connection's sandbox is gone; the used one's was kept alive (its timeout extended).
        expect(sandboxesOf(idle)).toEqual([]);
        const [box] = sandboxesOf(used);
        expect(
          e2b.requests.some((r) => r.sandboxId === box.id && r.path.endsWith('/timeout')),
        ).toBe(true);
      }
      expect((await admin.get(`/functions/v1/mcp-connections/${used}`)).body.status).toBe(
        'mcpRunning',
      );
      expect((await admin.post(`/functions/v1/mcp-connections/${idle}/start`)).status).toBe(202);
      await waitForStatus(admin, idle, 'mcpRunning');
      for (const id of [idle, used]) await admin.delete(`/functions/v1/mcp-connections/${id}`);
    });

    it('restarts a crashing server with back-off, then gives up in mcpError with its exit code and stderr', async () => {
      const crashes = tinyMcpServer(
        `setTimeout(() => { process.stderr.write('fatal: out of cheese\\n'); process.exit(7); }, 1200);`,
      );
      await admin.post('/functions/v1/mcp-servers', customServerType('crashes-soon', crashes));
      const { id } = await admin.install({
        mcp_server_id: 'crashes-soon',
        account_id: 'acct-crash',
        title: 'crashes',
      });
      const failed = await waitForStatus(admin, id, 'mcpError', 30000);
      expect(failed.status_reason).toBe(
        'The server exited with code 7 after 2 automatic restart(s): fatal: out of cheese. Fix the cause, then start it again.',
      );
      const history = await events(id);
      expect(history.map((e) => e.to)).toEqual([
        'mcpPending',
        'mcpDeploying',
        'mcpRunning',
        'mcpDeploying',
        'mcpRunning',
        'mcpDeploying',
        'mcpRunning',
        'mcpError',
      ]);
      expect(history[3].reason).toBe(
        'The server exited with code 7; restarting in 300 ms (restart 1 of 2).',
      );
      expect(history[5].reason).toBe(
        'The server exited with code 7; restarting in 600 ms (restart 2 of 2).',
      );
      expect(serverPids(id)).toEqual([]);
      if (e2b) expect(sandboxesOf(id)).toEqual([]);
    });

    it('treats a server that stops answering MCP pings as crashed', async () => {
      const hangs = tinyMcpServer(`setTimeout(() => { for (;;) {} }, 1000);`);
      await admin.post('/functions/v1/mcp-servers', customServerType('hangs', hangs));
      const { id } = await admin.install({
        mcp_server_id: 'hangs',
        account_id: 'acct-hang',
        title: 'hangs',
      });
      const failed = await waitForStatus(admin, id, 'mcpError', 40000);
      expect(failed.status_reason).toContain('stopped answering MCP pings');
      expect(serverPids(id)).toEqual([]);
    });

    it('brings back a server whose process was killed from outside', async () => {
      const { id } = await admin.install({
        mcp_server_id: 'memory-server',
        account_id: 'acct-kill',
        title: 'killed',
      });
      await waitForStatus(admin, id, 'mcpRunning');
      const [pid] = serverPids(id);
      process.kill(pid, 'SIGKILL');
      // The restart: a second deploy after the first.
      await eventually(
        async () =>
          expect((await events(id)).filter((e) => e.to === 'mcpDeploying')).toHaveLength(2),
        { timeoutMs: 10000 },
      );
      await waitForStatus(admin, id, 'mcpRunning');
      const client = await connectMcpClient(
        `${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`,
        platform.serviceRoleKey,
      );
      expect((await client.listTools()).tools).toHaveLength(9);
      await client.close();
      expect((await events(id)).map((e) => e.reason)).toContain(
        'The server was killed (SIGKILL); restarting in 300 ms (restart 1 of 2).',
      );
      await admin.delete(`/functions/v1/mcp-connections/${id}`);
    });

    it('keeps what a server with persistent storage wrote across stop and start', async () => {
      const { id } = await admin.install({
        mcp_server_id: 'memory-server',
        account_id: 'acct-keep',
        title: 'kept',
        config: { persistent_storage: true },
      });
      await waitForStatus(admin, id, 'mcpRunning');
      const url = `${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`;
      const writer = await connectMcpClient(url, platform.serviceRoleKey);
      await writer.callTool({
        name: 'create_entities',
        arguments: {
          entities: [{ name: 'kept-entity', entityType: 'test', observations: ['persisted'] }],
        },
      });
      await writer.close();
      expect((await admin.post(`/functions/v1/mcp-connections/${id}/stop`)).status).toBe(202);
      await waitForStatus(admin, id, 'mcpStopped');
      expect(serverPids(id)).toEqual([]);
      // E2B: paused (its files kept), not killed.
      if (e2b) expect(sandboxesOf(id).map((box) => box.state)).toEqual(['paused']);
      expect((await admin.post(`/functions/v1/mcp-connections/${id}/start`)).status).toBe(202);
      await waitForStatus(admin, id, 'mcpRunning');
      if (e2b) expect(sandboxesOf(id).map((box) => box.state)).toEqual(['running']);
      const reader = await connectMcpClient(url, platform.serviceRoleKey);
      const graph = await reader.callTool({ name: 'read_graph', arguments: {} });
      expect(JSON.stringify(graph.content)).toContain('kept-entity');
      await reader.close();
      expect((await admin.delete(`/functions/v1/mcp-connections/${id}`)).status).toBe(204);
      if (e2b) await eventually(() => expect(sandboxesOf(id)).toEqual([]));
    });

    it('ends a deploy that does not finish by its deadline in mcpError with reason "timeout", leaving nothing', async () => {
      // Runs, but never answers initialize.
      await admin.post(
        '/functions/v1/mcp-servers',
        customServerType('never-ready', 'setInterval(() => {}, 1000);'),
      );
      const { id } = await admin.install({
        mcp_server_id: 'never-ready',
        account_id: 'acct-deadline',
        title: 'never ready',
      });
      const failed = await waitForStatus(admin, id, 'mcpError', 40000);
      expect(failed.status_reason).toMatch(/^Deploy timeout/);
      expect(failed.status_reason).toContain('timeout');
      expect(serverPids(id)).toEqual([]);
      if (e2b) expect(sandboxesOf(id)).toEqual([]);
    });
  });
}
