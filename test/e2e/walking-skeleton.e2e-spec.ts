import {
  ApiClient,
  eventually,
  createTestInfrastructure,
  REPO_ROOT,
  SERVICE_NAMES,
  type TestInfrastructure,
  TestPlatform,
} from '@athenic/testing';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const BUILTIN_IDS = [
  'calendar-server',
  'custom-api-server',
  'email-server',
  'everything-server',
  'filesystem-server',
  'github-server',
  'google-calendar-server',
  'google-drive-server',
  'jira-server',
  'memory-server',
  'postgres-server',
  'slack-server',
];

describe('the platform as a whole: registry through the REST API, health, errors', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let api: ApiClient;

  beforeAll(async () => {
    infra = await createTestInfrastructure('skeleton');
    platform = await new TestPlatform(infra, { env: { REQUEST_TIMEOUT_MS: '2000' } }).start();
    api = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
  });

  afterAll(async () => {
    await platform?.stop();
    await infra?.dispose();
  });

  it('lists the nine shipped server types through gateway, bus, registry service and Postgres', async () => {
    const res = await api.get('/functions/v1/mcp-servers');
    expect(res.status).toBe(200);
    expect(res.body.data.map((s: { id: string }) => s.id)).toEqual(BUILTIN_IDS);
    const memory = res.body.data.find((s: { id: string }) => s.id === 'memory-server');
    expect(memory).toEqual({
      id: 'memory-server',
      name: 'Memory',
      description: expect.any(String),
      category: 'knowledge',
      transport: 'stdio',
      remote: null,
      isolation: 'sandbox',
      visibility: 'public',
      account_id: null,
      builtin: true,
      package: '@modelcontextprotocol/server-memory',
      version: '2026.8.31',
      launch: {
        command: 'mcp-server-memory',
        args: [],
        env: { MEMORY_FILE_PATH: 'workdir:memory.jsonl' },
      },
      credential_schema: expect.objectContaining({ type: 'object', additionalProperties: false }),
      config_schema: expect.objectContaining({ type: 'object' }),
      egress: [],
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
  });

  it('marks secret credential fields of the catalog as writeOnly', async () => {
    const res = await api.get('/functions/v1/mcp-servers/slack-server');
    expect(res.status).toBe(200);
    const props = res.body.credential_schema.properties;
    expect(props.slack_bot_token.writeOnly).toBe(true);
    expect(props.slack_team_id.writeOnly).toBeUndefined();
    expect(res.body.credential_schema.required).toEqual(['slack_bot_token', 'slack_team_id']);
  });

  it('answers 404 with the error body for an unknown server type', async () => {
    const res = await api.get('/functions/v1/mcp-servers/no-such-server');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      statusCode: 404,
      error: 'not_found',
      message: expect.stringContaining('no-such-server'),
    });
  });

  it('lets the service role add a server type, visible to every caller, and refuses a duplicate id with 409', async () => {
    const type = {
      id: 'echo-tool',
      name: 'Echo',
      description: 'A command-only test server type.',
      category: 'testing',
      transport: 'stdio',
      launch: {
        command: 'node',
        args: ['-e', 'process.stdin.pipe(process.stdout)'],
        env: { GREETING: 'config:greeting' },
      },
      credential_schema: { type: 'object', additionalProperties: false, properties: {} },
      config_schema: {
        type: 'object',
        additionalProperties: false,
        properties: { greeting: { type: 'string' } },
      },
      egress: [],
    };
    const created = await api.post('/functions/v1/mcp-servers', type);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: 'echo-tool',
      package: null,
      version: null,
      egress: [],
    });
    expect((await api.get('/functions/v1/mcp-servers/echo-tool')).status).toBe(200);
    const again = await api.post('/functions/v1/mcp-servers', type);
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('already_exists');
  });

  it('refuses a server type whose package is not installed, naming the package', async () => {
    const res = await api.post('/functions/v1/mcp-servers', {
      id: 'not-installed',
      name: 'Missing',
      description: '',
      category: 'testing',
      transport: 'stdio',
      package: '@example/not-installed-mcp@1.0.0',
      launch: { command: 'node', args: [], env: {} },
      credential_schema: { type: 'object', additionalProperties: false, properties: {} },
      config_schema: { type: 'object', additionalProperties: false, properties: {} },
      egress: [],
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('validation_failed');
    expect(res.body.message).toContain('@example/not-installed-mcp@1.0.0 is not installed');
    expect((await api.get('/functions/v1/mcp-servers/not-installed')).status).toBe(404);
  });

  it('refuses a launch spec that refers to an undeclared credential', async () => {
    const res = await api.post('/functions/v1/mcp-servers', {
      id: 'bad-reference',
      name: 'Bad',
      description: '',
      category: 'testing',
      transport: 'stdio',
      launch: { command: 'node', args: [], env: { TOKEN: 'credential:token' } },
      credential_schema: { type: 'object', additionalProperties: false, properties: {} },
      config_schema: { type: 'object', additionalProperties: false, properties: {} },
      egress: [],
    });
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('launch.env.TOKEN refers to credential "token"');
  });

  describe('bad input at the REST edge', () => {
    it('malformed JSON gives 400', async () => {
      const res = await api.post('/functions/v1/mcp-servers', '{"id": ');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        statusCode: 400,
        error: 'validation_failed',
        message: 'The request body is not valid JSON.',
      });
    });

    it('an unknown field gives 400 naming it', async () => {
      const res = await api.post('/functions/v1/mcp-servers', { surprise: true });
      expect(res.status).toBe(400);
      expect(res.body.details).toContain('surprise is not a known field');
    });

    it('a wrong type gives 400 naming the field', async () => {
      const res = await api.post('/functions/v1/mcp-servers', {
        id: 'wrong-types',
        name: 42,
        description: '',
        category: 'testing',
        transport: 'stdio',
        launch: { command: 'node', args: 'not-a-list', env: {} },
        credential_schema: {},
        config_schema: {},
        egress: [],
      });
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/^Invalid request: name/);
      expect(res.body.details).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^name must be a string/),
          expect.stringMatching(/^launch\.args must be an array/),
        ]),
      );
    });

    it('a missing field gives 400 saying it is required', async () => {
      const { launch: _launch, ...rest } = {
        id: 'no-launch',
        name: 'x',
        description: '',
        category: 'testing',
        transport: 'stdio',
        launch: {},
        credential_schema: {},
        config_schema: {},
        egress: [],
      };
      const res = await api.post('/functions/v1/mcp-servers', rest);
      expect(res.status).toBe(400);
      expect(res.body.message).toBe('Invalid request: launch is required.');
    });

    it('a body over 256 KiB gives 413', async () => {
      const res = await api.post('/functions/v1/mcp-servers', {
        description: 'x'.repeat(300 * 1024),
      });
      expect(res.status).toBe(413);
      expect(res.body.error).toBe('payload_too_large');
    });

    it('checks the key before reading the body: no key and malformed JSON gives 401', async () => {
      const res = await api.withKey(undefined).post('/functions/v1/mcp-servers', '{"id": ');
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('unauthorized');
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
    });

    it('a wrong key gives 401', async () => {
      const res = await api.withKey('sk_wrong_key').get('/functions/v1/mcp-servers');
      expect(res.status).toBe(401);
    });

    it('an unknown route gives the 404 error body', async () => {
      const res = await api.get('/functions/v1/nowhere');
      expect(res.status).toBe(404);
      expect(res.body.error).toBe('not_found');
    });
  });

  it('serves the OpenAPI document and its UI without a key', async () => {
    const anonymous = api.withKey(undefined);
    const doc = await anonymous.get('/docs-json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/functions/v1/mcp-servers',
        '/functions/v1/mcp-servers/{id}',
        '/health',
      ]),
    );
    // launch is required for a stdio server only, remote for a remote one (registry.dto.ts).
    expect(doc.body.components.schemas.CreateMcpServerCommand.required).toEqual(
      expect.arrayContaining(['id', 'transport']),
    );
    expect(Object.keys(doc.body.components.schemas.CreateMcpServerCommand.properties)).toEqual(
      expect.arrayContaining(['launch', 'remote']),
    );
    const ui = await anonymous.get('/docs');
    expect(ui.status).toBe(200);
    expect(String(ui.body)).toContain('swagger');
  });

  it("carries the caller's correlation id into the logs of every service that handled the request", async () => {
    const correlationId = `corr-${Date.now()}`;
    const res = await api.get('/functions/v1/mcp-servers/memory-server', {
      'x-correlation-id': correlationId,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-correlation-id')).toBe(correlationId);
    const carrying = (name: 'api-gateway' | 'registry-service') =>
      platform.service(name).waitForLog((l) => l.json?.correlation_id === correlationId, 5000);
    await expect(carrying('api-gateway')).resolves.toBeUndefined();
    await expect(carrying('registry-service')).resolves.toBeUndefined();
  });

  it.each(SERVICE_NAMES)(
    'passes the container health check of %s (a plain AMQP client or HTTP)',
    async (name) => {
      const { stdout } = await execFileAsync(process.execPath, ['scripts/healthcheck.js', name], {
        cwd: REPO_ROOT,
        env: {
          PATH: process.env.PATH,
          AMQP_URL: infra.amqpUrl,
          PORT: new URL(platform.baseUrl).port,
        },
      });
      expect(stdout.trim()).toBe(`${name}: healthy`);
    },
  );

  it('reports every service healthy, then names the one that stopped with a 503, and its routes answer 503 quickly', async () => {
    const healthy = await api.withKey(undefined).get('/health');
    expect(healthy.status).toBe(200);
    expect(Object.keys(healthy.body.checks).sort()).toEqual(
      [
        'agent-runner',
        'api-gateway',
        'credential-service',
        'postgres',
        'rabbitmq',
        'registry-service',
        'sandbox-service',
      ].sort(),
    );

    await platform.service('registry-service').stop();
    try {
      // The health answer is shared for 2 s: within that, it names the stopped service.
      const down = await eventually(
        async () => {
          const res = await api.withKey(undefined).get('/health');
          expect(res.status).toBe(503);
          return res;
        },
        { timeoutMs: 10000, intervalMs: 250 },
      );
      expect(down.body.status).toBe('error');
      expect(down.body.checks['registry-service']).toEqual({
        status: 'error',
        error: expect.stringContaining('did not answer'),
      });
      // The sandbox service also says which isolation its sandboxes get.
      expect(down.body.checks['sandbox-service']).toEqual({
        status: 'ok',
        detail: expect.stringMatching(/^isolation: (bubblewrap|none|e2b): /),
      });

      const started = Date.now();
      const route = await api.get('/functions/v1/mcp-servers');
      expect(route.status).toBe(503);
      expect(route.body.error).toBe('service_unavailable');
      expect(route.body.message).toContain('registry-service did not answer');
      expect(Date.now() - started).toBeLessThan(10000);
    } finally {
      await platform.service('registry-service').start();
    }
    await platform.waitHealthy();
    expect((await api.get('/functions/v1/mcp-servers')).status).toBe(200);
  });
});
