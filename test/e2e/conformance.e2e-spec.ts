import {
  ApiClient,
  AuthProxy,
  CONFORMANCE_SERVER_FIXTURE,
  type ConformanceRun,
  createTestInfrastructure,
  customServerType,
  runConformance,
  type ScenarioResult,
  startSupergateway,
  type TestInfrastructure,
  type TestPackage,
  TestPackagesDir,
  TestPlatform,
  waitForStatus,
} from '@athenic/testing';

/**
 * A whole run of the suite is stopped after this long: through supergateway, which starts a
 * server process per session, it takes about 30 s here, 45 s on a loaded machine.
 */
const RUN_TIMEOUT_MS = 60_000;
/**
 * A scenario through the gateway may take up to twice its time through supergateway in the same
 * run, plus this: a fixed allowance for the CLI's start-up, which the first scenario's time
 * includes, and for scheduling noise on a small machine where each scenario is a second or two
 * of loopback round trips. The bound is a ratio against a baseline measured seconds before, on
 * the same machine and load, not a wall-clock threshold.
 */
const STARTUP_ALLOWANCE_S = 2;
/**
 * What the conformance server (libs/testing/fixtures/conformance-server) implements: every active
 * server scenario of the suite but dns-rebinding-protection, which is about the HTTP server in
 * front of it (supergateway checks no origin; the gateway must). Through supergateway all of them
 * pass, or the fixture is wrong.
 */
const CONFORMANCE_SERVER_SCENARIOS = [
  'server-initialize',
  'logging-set-level',
  'ping',
  'completion-complete',
  'tools-list',
  'tools-call-simple-text',
  'tools-call-image',
  'tools-call-audio',
  'tools-call-embedded-resource',
  'tools-call-mixed-content',
  'tools-call-with-logging',
  'tools-call-error',
  'tools-call-with-progress',
  'tools-call-sampling',
  'tools-call-elicitation',
  'elicitation-sep1034-defaults',
  'server-sse-multiple-streams',
  'elicitation-sep1330-enums',
  'resources-list',
  'resources-read-text',
  'resources-read-binary',
  'resources-templates-read',
  'resources-subscribe',
  'resources-unsubscribe',
  'prompts-list',
  'prompts-get-simple',
  'prompts-get-with-args',
  'prompts-get-embedded-resource',
  'prompts-get-with-image',
];

function table(baseline: ConformanceRun, gateway: ConformanceRun): string {
  const byName = new Map(gateway.scenarios.map((s) => [s.scenario, s]));
  const cell = (s: ScenarioResult | undefined) =>
    s
      ? `${s.passed ? 'pass' : 'FAIL'} ${s.seconds.toFixed(1).padStart(5)} s${s.checks.warnings ? ` (${s.checks.warnings} warning${s.checks.warnings > 1 ? 's' : ''})` : ''}`
      : '-';
  const names = [...new Set([...baseline.scenarios, ...gateway.scenarios].map((s) => s.scenario))];
  const width = Math.max(...names.map((n) => n.length));
  return [
    `${'scenario'.padEnd(width)}  ${'supergateway'.padEnd(26)}  gateway`,
    ...names.map(
      (name) =>
        `${name.padEnd(width)}  ${cell(baseline.scenarios.find((s) => s.scenario === name)).padEnd(26)}  ${cell(byName.get(name))}`,
    ),
    `${'total'.padEnd(width)}  ${`${baseline.seconds.toFixed(1).padStart(10)} s`.padEnd(26)}  ${gateway.seconds.toFixed(1).padStart(10)} s`,
  ].join('\n');
}

describe('MCP conformance: the gateway passes what supergateway passes, at most twice as slowly', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let proxy: AuthProxy;
  let packages: TestPackagesDir;
  let conformanceServer: TestPackage;
  let gatewayUrl: string;
  let baseline: ConformanceRun;

  beforeAll(async () => {
    // The conformance server runs as an installed package, from a packages dir of this test's
    // own: the shipped packages linked in, the fixture copied with its dependencies.
    packages = TestPackagesDir.create();
    conformanceServer = packages.install(CONFORMANCE_SERVER_FIXTURE);
    // The suite's CLI cannot send headers: a loopback proxy adds the key. Its origin is what the
    // suite sends as the valid Origin in dns-rebinding-protection (`http://<host of the URL>`),
    // so the gateway allows that one origin (PUBLIC_BASE_URL stays the default, on loopback).
    proxy = await AuthProxy.start();
    infra = await createTestInfrastructure('conformance');
    platform = await new TestPlatform(infra, {
      env: { ALLOWED_ORIGINS: proxy.origin, MCP_PACKAGES_DIR: packages.dir },
    }).start();
    proxy.forwardTo(platform.baseUrl, platform.serviceRoleKey);
    const admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    // A public server type running the package's executable, as an operator would add one.
    const type = await admin.post(
      '/functions/v1/mcp-servers',
      customServerType('conformance-server', '', {
        package: conformanceServer.spec,
        launch: { command: 'athenic-conformance-server', args: [], env: {} },
      }),
    );
    expect(type.status).toBe(201);
    const installed = await admin.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: 'conformance-server',
      account_id: 'conformance-account',
      title: 'Conformance',
    });
    expect(installed.status).toBe(202);
    const running = await waitForStatus(admin, installed.body.id, 'mcpRunning');
    // A real sandbox, mounting the package's install folder alone.
    expect(running.isolation).toBe('bubblewrap');
    gatewayUrl = proxy.url(`/functions/v1/mcp-connections/${installed.body.id}/mcp`);
  }, 60_000);

  afterAll(async () => {
    await proxy?.close();
    await platform?.stop();
    await infra?.dispose();
    packages?.dispose();
  });

  it('passes every scenario the conformance server implements through supergateway around the same package copy (the baseline)', async () => {
    const supergateway = await startSupergateway([
      process.execPath,
      conformanceServer.bins['athenic-conformance-server'],
    ]);
    try {
      baseline = await runConformance(supergateway.url, { timeoutMs: RUN_TIMEOUT_MS });
    } finally {
      await supergateway.stop();
    }
    expect(baseline.timedOut).toBe(false);
    // Otherwise the fixture is wrong (or the suite changed): the comparison would prove less.
    expect(baseline.scenarios.map((s) => s.scenario)).toEqual(
      expect.arrayContaining(CONFORMANCE_SERVER_SCENARIOS),
    );
    const failing = baseline.scenarios
      .filter((s) => CONFORMANCE_SERVER_SCENARIOS.includes(s.scenario) && !s.passed)
      .map((s) => ({ scenario: s.scenario, failures: s.failures }));
    expect(failing).toEqual([]);
  }, 80_000);

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
  }, 80_000);
});
