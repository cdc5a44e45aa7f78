import {
  ApiClient,
  connectMcpClient,
  createTestInfrastructure,
  connectionProcesses,
  eventually,
  FakeE2b,
  fakeE2bEnv,
  queryDatabase,
  sandboxRootProcesses,
  type TestInfrastructure,
  TestPlatform,
  waitForStatus,
} from '@athenic/testing';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const CYCLES = 50;
const PARALLEL = 5;

const openFiles = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

// The same churn for both providers (one spec file each, so they run in parallel): local (bubblewrap) and E2B (against the fake E2B).
export function churnSuite(provider: 'local' | 'e2b'): void {
  describe(`churn (${provider} sandboxes): install and delete 50 times`, () => {
    let e2b: FakeE2b | undefined;
    let infra: TestInfrastructure;
    let platform: TestPlatform;

    beforeAll(async () => {
      infra = await createTestInfrastructure(`churn-${provider}`);
      if (provider === 'e2b') e2b = await new FakeE2b().start();
      platform = await new TestPlatform(infra, {
        env: {
          ...(e2b ? fakeE2bEnv(e2b) : {}),
          // 50 installs of one account in a minute is the point here, not a rate to refuse.
          RATE_LIMIT_INSTALLS_PER_MINUTE: '1000',
        },
      }).start();
    });

    afterAll(async () => {
      await platform?.stop();
      await e2b?.stop();
      await infra?.dispose();
    });

    it('leaves no process, sandbox dir, open file, row or log behind', async () => {
      const api = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
      const sandboxService = platform.service('sandbox-service').pid!;
      const root = path.join(platform.dataDir, 'sandboxes');
      // Warm up once, so lazily opened files and connections are counted in the baseline.
      const warm = (
        await api.install({
          mcp_server_id: 'memory-server',
          account_id: 'churn',
          title: 'warm',
        })
      ).id;
      await waitForStatus(api, warm, 'mcpRunning');
      const ids = new Set<string>([warm]);
      await api.delete(`/functions/v1/mcp-connections/${warm}`);
      const filesBefore = openFiles(sandboxService);

      await Promise.all(
        Array.from({ length: PARALLEL }, async (_, lane) => {
          for (let i = 0; i < CYCLES / PARALLEL; i++) {
            const { id } = await api.install({
              mcp_server_id: 'memory-server',
              account_id: 'churn',
              title: `churn ${lane}.${i}`,
            });
            ids.add(id);
            await waitForStatus(api, id, 'mcpRunning');
            if (i % 3 === 0) {
              const client = await connectMcpClient(
                `${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`,
                platform.serviceRoleKey,
              );
              await client.callTool({ name: 'read_graph', arguments: {} });
              await client.close();
            }
            expect((await api.delete(`/functions/v1/mcp-connections/${id}`)).status).toBe(204);
          }
        }),
      );

      expect(ids.size).toBe(CYCLES + 1);
      await eventually(() => expect(sandboxRootProcesses(root)).toEqual([]), { timeoutMs: 10000 });
      await eventually(() => expect(connectionProcesses(ids)).toEqual([]), { timeoutMs: 10000 });
      if (e2b) {
        // No sandbox left, each one's files gone with it.
        expect(e2b.sandboxes()).toEqual([]);
        expect(e2b.ended).toHaveLength(CYCLES + 1);
        const dirs = readdirSync(tmpdir());
        for (const { id } of e2b.ended)
          expect(dirs.filter((d) => d.startsWith(`fake-e2b-${id}-`))).toEqual([]);
      }
      expect(
        readdirSync(root).filter((name) => !['.launcher.cjs', '.egress-shim.cjs'].includes(name)),
      ).toEqual([]);
      expect(
        await queryDatabase(
          infra.databaseUrl,
          `SELECT id FROM sandbox.connections WHERE account_id = 'churn'`,
        ),
      ).toEqual([]);
      expect(
        await queryDatabase(
          infra.databaseUrl,
          `SELECT count(*)::int AS n FROM sandbox.connection_logs`,
        ),
      ).toEqual([{ n: 0 }]);
      expect(
        await queryDatabase(
          infra.databaseUrl,
          `SELECT count(*)::int AS n FROM credential.credential_sets`,
        ),
      ).toEqual([{ n: 0 }]);
      await eventually(
        () => expect(openFiles(sandboxService)).toBeLessThanOrEqual(filesBefore + 5),
        {
          timeoutMs: 10000,
        },
      );
      // Every E2B deploy uploads and unpacks the server's package; the fake does that here.
    }, 240_000);
  });
}
