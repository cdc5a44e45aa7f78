import { DEAD_LETTER_QUEUE } from '@athenic/messaging';
import {
  ApiClient,
  type ApiResponse,
  connectMcpClient,
  createTestInfrastructure,
  customServerType,
  queryDatabase,
  RawAmqpClient,
  type TestInfrastructure,
  TestPlatform,
  tinyMcpServer,
  waitForStatus,
} from '@athenic/testing';
import { randomUUID } from 'node:crypto';

/** Every REST response the test receives, to search them afterwards. */
class RecordingClient extends ApiClient {
  constructor(
    baseUrl: string,
    key: string,
    private readonly seen: string[],
  ) {
    super(baseUrl, key);
  }

  override async request<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiResponse<T>> {
    const res = await super.request<T>(method, path, body, headers);
    const seenHeaders: Record<string, string> = {};
    res.headers.forEach((value, name) => (seenHeaders[name] = value));
    this.seen.push(JSON.stringify({ headers: seenHeaders, body: res.body }));
    return res;
  }
}

// A server that prints its secret on stderr and stdout (as a log line), as careless servers do.
const PRINTS_ITS_SECRET = `
process.stderr.write('starting with token ' + process.env.CANARY_TOKEN + '\\n');
process.stdout.write('debug: token=' + process.env.CANARY_TOKEN + '\\n');
`;

describe('the canary: a credential appears nowhere in plaintext outside the sandbox that needs it', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let amqp: RawAmqpClient;
  const responses: string[] = [];
  const canary = `canary-${randomUUID()}`;
  const replacement = `canary-two-${randomUUID()}`;

  beforeAll(async () => {
    infra = await createTestInfrastructure('canary');
    platform = await new TestPlatform(infra).start();
    amqp = await RawAmqpClient.connect(infra.amqpUrl);
  });

  afterAll(async () => {
    await amqp?.close();
    await platform?.stop();
    await infra?.dispose();
  });

  it('stores, reveals, deploys, logs, replaces and deletes without leaking it', async () => {
    const everything = await amqp.tap('bus', '#');
    const api = new RecordingClient(platform.baseUrl, platform.serviceRoleKey, responses);

    // A server type that prints its credential.
    const type = customServerType('prints-secret', tinyMcpServer(PRINTS_ITS_SECRET), {
      launch: {
        command: 'node',
        args: ['-e', tinyMcpServer(PRINTS_ITS_SECRET)],
        env: { CANARY_TOKEN: 'credential:token' },
      },
      credential_schema: {
        type: 'object',
        additionalProperties: false,
        required: ['token'],
        properties: { token: { type: 'string', maxLength: 200, writeOnly: true } },
      },
    });
    expect((await api.post('/functions/v1/mcp-servers', type)).status).toBe(201);

    // Stored through the REST API (plaintext in, sealed at the gateway), revealed for the deploy.
    const installed = await api.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: 'prints-secret',
      account_id: 'acct-canary',
      title: 'Canary',
      provided_credential_schema: { token: canary },
    });
    expect(installed.status).toBe(202);
    const id = installed.body.id;
    await waitForStatus(api, id, 'mcpRunning');
    // Also through the guide's github-server, and a failed validation carrying the canary.
    const github = await api.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: 'github-server',
      account_id: 'acct-canary',
      title: 'GitHub',
      provided_credential_schema: { github_token: canary },
    });
    await waitForStatus(api, github.body.id, 'mcpRunning');
    const invalid = await api.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: 'github-server',
      account_id: 'acct-canary',
      title: 'x',
      provided_credential_schema: { github_token: canary, unknown_key: canary },
    });
    expect(invalid.status).toBe(400);

    // The server printed it: the logs show it masked.
    await new Promise((r) => setTimeout(r, 500));
    const logs = await api.get(`/functions/v1/mcp-connections/${id}/logs?tail=50`);
    const lines = logs.body.data.map((l: { line: string }) => l.line);
    expect(lines).toEqual(
      expect.arrayContaining(['starting with token [secret]', 'debug: token=[secret]']),
    );

    // Replaced (redeploy), used through MCP, then everything deleted.
    expect(
      (
        await api.put(`/functions/v1/mcp-connections/${id}/credentials`, {
          provided_credential_schema: { token: replacement },
        })
      ).status,
    ).toBe(202);
    await waitForStatus(api, id, 'mcpRunning');
    const client = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`,
      platform.serviceRoleKey,
    );
    await client.listTools();
    await client.close();
    await api.get(`/functions/v1/mcp-connections/${id}`);
    await api.get(`/functions/v1/mcp-connections/${id}/events`);
    await api.get(`/functions/v1/mcp-connections?account_id=acct-canary`);
    await api.get(`/functions/v1/mcp-connections/health?account_id=acct-canary`);
    expect((await api.delete(`/functions/v1/mcp-connections/${github.body.id}`)).status).toBe(204);
    await new Promise((r) => setTimeout(r, 1500)); // outbox events and log batches settle
    await everything.close();

    for (const secret of [canary, replacement]) {
      const forms = [
        secret,
        Buffer.from(secret).toString('base64'),
        Buffer.from(secret).toString('hex'),
      ];
      const found = (haystack: string) => forms.some((form) => haystack.includes(form));

      // Every table of every schema.
      const columns = await queryDatabase<{
        table_schema: string;
        table_name: string;
        column_name: string;
      }>(
        infra.databaseUrl,
        `SELECT table_schema, table_name, column_name FROM information_schema.columns WHERE table_schema IN ('registry', 'credential', 'sandbox', 'agent', 'public')`,
      );
      expect(columns.length).toBeGreaterThan(30);
      const hits: string[] = [];
      for (const c of columns) {
        const rows = await queryDatabase<{ v: string }>(
          infra.databaseUrl,
          `SELECT "${c.column_name}"::text AS v FROM "${c.table_schema}"."${c.table_name}" WHERE "${c.column_name}" IS NOT NULL`,
        );
        if (rows.some((r) => found(r.v)))
          hits.push(`${c.table_schema}.${c.table_name}.${c.column_name}`);
      }
      expect(hits).toEqual([]);

      // Every log line of every service.
      expect(platform.allLogLines().filter(found)).toEqual([]);
      // Every message that crossed the bus, and the dead letters.
      expect(everything.messages.length).toBeGreaterThan(20);
      expect(
        everything.messages.filter((m) => found(m.body) || found(JSON.stringify(m.headers))),
      ).toEqual([]);
      expect((await amqp.drain(DEAD_LETTER_QUEUE)).filter((m) => found(m.body))).toEqual([]);
      // Every REST response.
      expect(responses.filter(found)).toEqual([]);
    }
  });
});
