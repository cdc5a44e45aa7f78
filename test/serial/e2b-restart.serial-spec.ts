import {
  ApiClient,
  connectMcpClient,
  createTestInfrastructure,
  eventually,
  FakeE2b,
  fakeE2bEnv,
  queryDatabase,
  type TestInfrastructure,
  TestPlatform,
  waitForStatus,
} from '@athenic/testing';

// E2B sandboxes outlive the sandbox service: after SIGTERM or kill -9 and a restart they are
// found again (same sandbox, no redeploy); sandboxes no connection claims are killed.
describe('E2B sandboxes across restarts of the sandbox service', () => {
  let e2b: FakeE2b;
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let admin: ApiClient;
  const sandboxesOf = (connectionId: string) =>
    e2b.sandboxes({ athenic_connection_id: connectionId });
  const install = async (title: string) =>
    (await admin.install({ mcp_server_id: 'memory-server', account_id: 'acct-e2b-restart', title }))
      .id as string;
  const events = async (id: string) =>
    (
      (await admin.get(`/functions/v1/mcp-connections/${id}/events`)).body.data as { to: string }[]
    ).map((e) => e.to);

  beforeAll(async () => {
    e2b = await new FakeE2b().start();
    infra = await createTestInfrastructure('e2b-restart');
    platform = await new TestPlatform(infra, {
      // Orphans are sandboxes older than the deploy deadline plus 5 s that no one holds.
      env: { ...fakeE2bEnv(e2b), RECONCILE_INTERVAL_MS: '1000', DEPLOY_TIMEOUT_MS: '10000' },
    }).start();
    admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
  });

  afterAll(async () => {
    await platform?.stop();
    await e2b?.stop();
    await infra?.dispose();
  });

  it.each(['SIGTERM', 'kill -9'] as const)(
    '%s: the running sandbox is left running and taken back, its tools never redeployed',
    async (how) => {
      const id = await install(`through ${how}`);
      await waitForStatus(admin, id, 'mcpRunning');
      const [before] = sandboxesOf(id);
      const client = await connectMcpClient(
        `${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`,
        platform.serviceRoleKey,
      );
      await client.callTool({
        name: 'create_entities',
        arguments: { entities: [{ name: how, entityType: 'test', observations: ['kept'] }] },
      });
      await client.close();
      const service = platform.service('sandbox-service');
      if (how === 'SIGTERM') expect(await service.stop()).toBe(0);
      else await service.kill();
      // Still there while the service is down.
      expect(sandboxesOf(id).map((b) => [b.id, b.state])).toEqual([[before.id, 'running']]);
      await service.start();
      const after = await waitForStatus(admin, id, 'mcpRunning');
      expect(after.status_reason).toMatch(/^Running/);
      expect(sandboxesOf(id).map((b) => b.id)).toEqual([before.id]);
      expect(await events(id)).toEqual(['mcpPending', 'mcpDeploying', 'mcpRunning']);
      // The same server process: what it held in memory is still there.
      const again = await connectMcpClient(
        `${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`,
        platform.serviceRoleKey,
      );
      const graph = await again.callTool({ name: 'read_graph', arguments: {} });
      expect(JSON.stringify(graph.content)).toContain('kept');
      await again.close();
      const logs = (await admin.get(`/functions/v1/mcp-connections/${id}/logs`)).body;
      expect(JSON.stringify(logs)).toContain('Found the running sandbox again');
      expect((await admin.delete(`/functions/v1/mcp-connections/${id}`)).status).toBe(204);
      await eventually(() => expect(sandboxesOf(id)).toEqual([]));
    },
  );

  it('kills a sandbox of this platform that no connection claims', async () => {
    const id = await install('orphan to be');
    await waitForStatus(admin, id, 'mcpRunning');
    const [box] = sandboxesOf(id);
    await platform.service('sandbox-service').kill();
    // The connection is deleted in the database while the service is down.
    await queryDatabase(infra.databaseUrl, `DELETE FROM sandbox.connections WHERE id = $1`, [id]);
    await platform.service('sandbox-service').start();
    await eventually(() => expect(e2b.sandbox(box.id)).toBeUndefined(), { timeoutMs: 40000 });
  });
});
