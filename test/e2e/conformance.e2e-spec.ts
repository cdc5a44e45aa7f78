import {
  ApiClient,
  AuthProxy,
  type ConformanceRun,
  createTestInfrastructure,
  REPO_ROOT,
  runConformance,
  type ScenarioResult,
  startSupergateway,
  type TestInfrastructure,
  TestPlatform,
  waitForStatus,
} from '@athenic/testing';
import * as path from 'node:path';

/** The platform's pinned everything-server (the package the sandboxes run). */
const EVERYTHING_ENTRY = path.join(
  REPO_ROOT,
  'mcp-packages/modelcontextprotocol__server-everything/node_modules/@modelcontextprotocol/server-everything/dist/index.js',
);
/** A whole run of the suite (about 30 s here) is stopped after this long. */
const RUN_TIMEOUT_MS = 50_000;
/**
 * A scenario through the gateway may take up to twice its time through supergateway in the same
 * run, plus this: a fixed allowance for the CLI's start-up, which the first scenario's time
 * includes, and for scheduling noise on a small machine where each scenario is a second or two
 * of loopback round trips. The bound is a ratio against a baseline measured seconds before, on
 * the same machine and load, not a wall-clock threshold.
 */
const STARTUP_ALLOWANCE_S = 2;

function table(baseline: ConformanceRun, gateway: ConformanceRun): string {
  const byName = new Map(gateway.scenarios.map((s) => [s.scenario, s]));
  const cell = (s: ScenarioResult | undefined) =>
    s ? `${s.passed ? 'pass' : 'FAIL'} ${s.seconds.toFixed(1).padStart(5)} s` : '-';
  const names = [...new Set([...baseline.scenarios, ...gateway.scenarios].map((s) => s.scenario))];
  const width = Math.max(...names.map((n) => n.length));
  return [
    `${'scenario'.padEnd(width)}  supergateway    gateway`,
    ...names.map(
      (name) =>
        `${name.padEnd(width)}  ${cell(baseline.scenarios.find((s) => s.scenario === name)).padEnd(14)}  ${cell(byName.get(name))}`,
    ),
  ].join('\n');
}

describe('MCP conformance: the gateway passes what supergateway passes, at most twice as slowly', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let proxy: AuthProxy;
  let gatewayUrl: string;
  let baseline: ConformanceRun;

  beforeAll(async () => {
    // The suite's CLI cannot send headers: a loopback proxy adds the key. Its origin is what the
    // suite sends as the valid Origin in dns-rebinding-protection (`http://<host of the URL>`),
    // so the gateway allows that one origin (PUBLIC_BASE_URL stays the default, on loopback).
    proxy = await AuthProxy.start();
    infra = await createTestInfrastructure('conformance');
    platform = await new TestPlatform(infra, { env: { ALLOWED_ORIGINS: proxy.origin } }).start();
    proxy.forwardTo(platform.baseUrl, platform.serviceRoleKey);
    const admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    const installed = await admin.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: 'everything-server',
      account_id: 'conformance-account',
      title: 'Everything',
    });
    expect(installed.status).toBe(202);
    await waitForStatus(admin, installed.body.id, 'mcpRunning');
    gatewayUrl = proxy.url(`/functions/v1/mcp-connections/${installed.body.id}/mcp`);
  }, 60_000);

  afterAll(async () => {
    await proxy?.close();
    await platform?.stop();
    await infra?.dispose();
  });

  it('runs the suite through supergateway around the same server package (the baseline)', async () => {
    const supergateway = await startSupergateway([process.execPath, EVERYTHING_ENTRY, 'stdio']);
    try {
      baseline = await runConformance(supergateway.url, { timeoutMs: RUN_TIMEOUT_MS });
    } finally {
      await supergateway.stop();
    }
    expect(baseline.timedOut).toBe(false);
    const passed = baseline.scenarios.filter((s) => s.passed).map((s) => s.scenario);
    // A sanity floor: the suite ran and the basics pass.
    expect(passed).toEqual(expect.arrayContaining(['server-initialize', 'ping', 'tools-list']));
  }, 70_000);

  it('passes through the gateway every scenario that passes through supergateway, and dns-rebinding-protection', async () => {
    expect(baseline).toBeDefined();
    const gateway = await runConformance(gatewayUrl, { timeoutMs: RUN_TIMEOUT_MS });
    console.log(`MCP conformance, supergateway vs the gateway:\n${table(baseline, gateway)}`);
    expect(gateway.timedOut).toBe(false);
    const results = new Map(gateway.scenarios.map((s) => [s.scenario, s]));
    const regressions = baseline.scenarios
      .filter((s) => s.passed && !results.get(s.scenario)?.passed)
      .map((s) => ({ scenario: s.scenario, failures: results.get(s.scenario)?.failures }));
    expect(regressions).toEqual([]);
    const slow = baseline.scenarios
      .map((s) => ({ s, g: results.get(s.scenario) }))
      .filter(({ s, g }) => g && g.seconds > 2 * s.seconds + STARTUP_ALLOWANCE_S)
      .map(({ s, g }) => `${s.scenario}: ${g!.seconds.toFixed(1)} s vs ${s.seconds.toFixed(1)} s`);
    expect(slow).toEqual([]);
    // supergateway checks no origin; the gateway must refuse a foreign one and take its own.
    expect(results.get('dns-rebinding-protection')).toMatchObject({
      passed: true,
      checks: { passed: 2, failed: 0 },
    });
  }, 70_000);
});
