import {
  ApiClient,
  connectMcpClient,
  connectionProcesses,
  createTestInfrastructure,
  eventually,
  FakeE2b,
  fakeE2bEnv,
  freePort,
  queryDatabase,
  type TestInfrastructure,
  TestPlatform,
  waitForStatus,
} from '@athenic/testing';
import * as path from 'node:path';

// Two replicas of every service (two full sets of processes with their own ports and data
// dirs) on one Postgres and one RabbitMQ vhost (docs/lifecycle.md, "Replicas"): installs through
// both gateways run exactly once, MCP state is the same through either gateway, and a kill -9 of
// one sandbox-service replica mid-deploy leaves every connection running again on the survivor,
// none deployed twice: local sandboxes (which die with their replica) redeployed, E2B ones (the
// fake E2B, shared by both replicas) adopted in place, the very same server processes. One spec
// file per provider, so they run in parallel.

const ACCOUNTS = ['acct-r1', 'acct-r2', 'acct-r3', 'acct-r4'];
const LEASE_MS = 6000;

/** The node processes of a connection's server (not the sandbox's init or bwrap). */
function serverProcesses(id: string) {
  return connectionProcesses(id).filter(
    (p) => path.basename(p.argv[0] ?? '') === 'node' && !p.argv.some((a) => a.endsWith('serve.js')),
  );
}

export function replicasSuite(provider: 'local' | 'e2b'): void {
  describe(`two replicas of every service (${provider} sandboxes)`, () => {
    let infra: TestInfrastructure;
    let e2b: FakeE2b | undefined;
    let a: TestPlatform;
    let b: TestPlatform;
    let probePort: number;

    beforeAll(async () => {
      infra = await createTestInfrastructure(`replicas-${provider}`);
      if (provider === 'e2b') e2b = await new FakeE2b().start();
      const env = {
        ...(e2b ? fakeE2bEnv(e2b) : {}),
        REPLICA_LEASE_MS: String(LEASE_MS),
        RECONCILE_INTERVAL_MS: '1000',
        // 24 installs of four accounts within a minute are the point here, not a rate to refuse.
        RATE_LIMIT_INSTALLS_PER_MINUTE: '1000',
      };
      // Replica A's gateway runs as workers (node:cluster), as it does by default in production.
      a = await new TestPlatform(infra, { env: { ...env, GATEWAY_WORKERS: '2' } }).start();
      // The second set shares the platform's secrets, as replicas of one deployment do; its
      // sandbox service has the probe port an orchestrator checks it on.
      probePort = await freePort();
      b = await new TestPlatform(infra, {
        serviceEnv: { 'sandbox-service': { PROBE_PORT: String(probePort) } },
        env: {
          ...env,
          SERVICE_ROLE_KEY: a.serviceRoleKey,
          INTERNAL_SECRET: a.internalSecret,
          CREDENTIAL_KEYS: a.credentialKeys,
        },
      }).start();
    }, 180_000);

    afterAll(async () => {
      await b?.stop();
      await a?.stop();
      await e2b?.stop();
      await infra?.dispose();
    });

    it('runs each connection once, reaches it through either gateway, and survives a kill -9 of a sandbox-service replica', async () => {
      const apiA = new ApiClient(a.baseUrl, a.serviceRoleKey);
      const apiB = new ApiClient(b.baseUrl, a.serviceRoleKey);
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const api = i % 2 === 0 ? apiA : apiB;
        const { id } = await api.install({
          mcp_server_id: 'memory-server',
          account_id: ACCOUNTS[i % ACCOUNTS.length],
          title: `replica ${i}`,
        });
        ids.push(id);
      }
      for (const [i, id] of ids.entries())
        await waitForStatus(i % 2 === 0 ? apiB : apiA, id, 'mcpRunning', 90_000);
      // Exactly one server per connection, whichever replica deployed it; both replicas hold some.
      for (const id of ids) expect(serverProcesses(id)).toHaveLength(1);
      const owners = await queryDatabase<{ owner_id: string; n: number }>(
        infra.databaseUrl,
        `SELECT owner_id, count(*)::int AS n FROM sandbox.connections GROUP BY owner_id`,
      );
      expect(owners.map((o) => o.owner_id).sort()).toHaveLength(2);

      // The same server state through either gateway.
      for (const id of ids.slice(0, 4)) {
        const writer = await connectMcpClient(
          `${a.baseUrl}/functions/v1/mcp-connections/${id}/mcp`,
          a.serviceRoleKey,
        );
        await writer.callTool({
          name: 'create_entities',
          arguments: {
            entities: [{ name: `seen-${id}`, entityType: 'test', observations: ['x'] }],
          },
        });
        await writer.close();
        const reader = await connectMcpClient(
          `${b.baseUrl}/functions/v1/mcp-connections/${id}/mcp`,
          a.serviceRoleKey,
        );
        const graph = await reader.callTool({ name: 'read_graph', arguments: {} });
        await reader.close();
        expect(JSON.stringify(graph.content)).toContain(`seen-${id}`);
      }

      // kill -9 replica B's sandbox service with deploys of its own under way.
      const late: string[] = [];
      for (let i = 0; i < 4; i++)
        late.push(
          (
            await apiB.install({
              mcp_server_id: 'memory-server',
              account_id: ACCOUNTS[i],
              title: `late ${i}`,
            })
          ).id,
        );
      // What a kubelet sees of that replica: live and ready, then gone.
      const probe = (route: string) =>
        fetch(`http://127.0.0.1:${probePort}${route}`).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as { status: string; checks?: { name: string }[] },
        }));
      expect(await probe('/livez')).toEqual({
        status: 200,
        body: { service: 'sandbox-service', status: 'ok' },
      });
      const ready = await probe('/readyz');
      expect(ready).toMatchObject({ status: 200, body: { status: 'ok' } });
      expect(ready.body.checks!.map((c) => c.name)).toEqual(
        expect.arrayContaining(['postgres', 'isolation']),
      );
      const pidsBefore = new Map(ids.map((id) => [id, serverProcesses(id).map((p) => p.pid)]));
      await b.service('sandbox-service').kill();
      await expect(probe('/livez')).rejects.toThrow();
      const all = [...ids, ...late];
      // Within the lease (and a reconciliation) every connection runs again on A, once.
      await eventually(
        async () => {
          const rows = await queryDatabase<{ id: string; status: string; owner_id: string }>(
            infra.databaseUrl,
            `SELECT id, status, owner_id FROM sandbox.connections`,
          );
          expect(rows).toHaveLength(all.length);
          for (const row of rows)
            expect(row).toMatchObject({ status: 'mcpRunning', owner_id: ownerOf(a) });
        },
        { timeoutMs: 90_000, intervalMs: 500 },
      );
      // Once: a sandbox B had started for a deploy still under way when it was killed is an
      // orphan, swept only once it is older than the deploy deadline plus 5 s (DEPLOY_TIMEOUT_MS,
      // default 60 s: a younger one may be a live replica's deploy; docs/lifecycle.md), so this
      // waits for that sweep.
      await eventually(
        () => {
          for (const id of all) expect(serverProcesses(id)).toHaveLength(1);
        },
        { timeoutMs: 120_000, intervalMs: 500 },
      );
      if (e2b) {
        // Adopted in place: the same sandbox and the same server process as before the kill.
        for (const id of ids) {
          expect(serverProcesses(id).map((p) => p.pid)).toEqual(pidsBefore.get(id));
          expect(
            e2b.sandboxes({ athenic_connection_id: id }).filter((x) => x.state === 'running'),
          ).toHaveLength(1);
        }
      }
      // Still usable through B's gateway, which routes to A's bridges.
      const client = await connectMcpClient(
        `${b.baseUrl}/functions/v1/mcp-connections/${late[0]}/mcp`,
        a.serviceRoleKey,
      );
      const listed = await client.listTools();
      await client.close();
      expect(listed.tools.length).toBeGreaterThan(0);
    }, 300_000);

    /** A's sandbox-service replica id, as it announced it. */
    function ownerOf(platform: TestPlatform): string {
      const line = platform
        .service('sandbox-service')
        .lines.map((l) => l.raw)
        .find((raw) => raw.includes('joined (lease'));
      const match = /Replica (\S+) joined/.exec(line ?? '');
      if (!match) throw new Error('the sandbox service did not say which replica it is');
      return match[1];
    }
  });
}
