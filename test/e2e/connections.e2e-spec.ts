import {
  ApiClient,
  connectMcpClient,
  createTestInfrastructure,
  queryDatabase,
  customServerType,
  resultText,
  type TestInfrastructure,
  TestPlatform,
  waitForStatus,
} from '@athenic/testing';
import {
  CONNECTION_CREDENTIALS_PURPOSE,
  installConnectionId,
  seal,
} from '@athenic/platform-crypto';
import { readFileSync } from 'node:fs';

const ACCOUNT = 'user-account-id';

describe('install to running: the local provider, the lifecycle and the MCP endpoint', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let admin: ApiClient;
  let memoryId: string;

  beforeAll(async () => {
    infra = await createTestInfrastructure('connections');
    const db = new URL(infra.databaseUrl);
    platform = await new TestPlatform(infra, {
      env: {
        DEPLOY_TIMEOUT_MS: '4000',
        // postgres-server queries the local Postgres: opened as an operator would an on-premise one.
        EGRESS_ALLOW_PRIVATE: `${db.hostname}:${db.port || 5432}`,
      },
    }).start();
    admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
  });

  afterAll(async () => {
    await platform?.stop();
    await infra?.dispose();
  });

  it("runs the guide's install example for memory-server: 202 pending, then running, isolated", async () => {
    // As the guide writes it (with memory-server, which needs no credentials).
    const res = await admin.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: 'memory-server',
      account_id: ACCOUNT,
      title: 'Memory',
    });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      account_id: ACCOUNT,
      mcp_server_id: 'memory-server',
      title: 'Memory',
      status: 'mcpPending',
      desired_state: 'running',
    });
    // The gateway's endpoint, never the sandbox's own address.
    expect(res.body.mcp_url).toBe(
      `http://localhost:${new URL(platform.baseUrl).port}/functions/v1/mcp-connections/${res.body.id}/mcp`,
    );
    memoryId = res.body.id;
    const running = await waitForStatus(admin, memoryId, 'mcpRunning');
    expect(running.isolation).toBe('bubblewrap');
    expect(running.status_reason).toContain('9 tool(s)');
  });

  it('serves the connection to real MCP clients through the gateway: two independent clients share one server', async () => {
    const url = `${platform.baseUrl}/functions/v1/mcp-connections/${memoryId}/mcp`;
    const a = await connectMcpClient(url, platform.serviceRoleKey, 'client-a');
    const b = await connectMcpClient(url, platform.serviceRoleKey, 'client-b');
    expect((await a.listTools()).tools.map((t) => t.name)).toContain('create_entities');
    await a.callTool({
      name: 'create_entities',
      arguments: {
        entities: [{ name: 'Grace', entityType: 'person', observations: ['found a moth'] }],
      },
    });
    expect(resultText(await b.callTool({ name: 'read_graph', arguments: {} }))).toContain(
      'found a moth',
    );
    await a.close();
    await b.close();
  });

  it("runs the guide's example request exactly as written for github-server", async () => {
    const res = await admin.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: 'github-server',
      account_id: 'user-account-id',
      title: 'GitHub Integration',
      provided_credential_schema: { github_token: 'YOUR_ENCRYPTED_TOKEN' },
    });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('mcpPending');
    const running = await waitForStatus(admin, res.body.id, 'mcpRunning');
    expect(running.status_reason).toContain('26 tool(s)');
  });

  it("injects credentials into the sandbox's environment only: get-env shows it, the sandbox service's own environment does not", async () => {
    const secret = `demo-${Date.now()}`;
    const res = await admin.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: 'everything-server',
      account_id: ACCOUNT,
      title: 'Everything',
      provided_credential_schema: { demo_secret: secret },
    });
    await waitForStatus(admin, res.body.id, 'mcpRunning');
    const client = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${res.body.id}/mcp`,
      platform.serviceRoleKey,
    );
    const env = JSON.parse(resultText(await client.callTool({ name: 'get-env', arguments: {} })));
    await client.close();
    expect(env.DEMO_SECRET).toBe(secret);
    // Nothing of the host's environment: only what the sandbox sets and the type's own variables.
    expect(Object.keys(env).sort()).toEqual([
      'ATHENIC_CONNECTION_ID',
      'ATHENIC_EGRESS_SOCKET',
      'ATHENIC_SANDBOX_ROOT',
      'DEMO_SECRET',
      'HOME',
      'LANG',
      'NODE_OPTIONS',
      'PATH',
      'PWD',
      'TMPDIR',
    ]);
    const own = readFileSync(`/proc/${platform.service('sandbox-service').pid}/environ`, 'utf8');
    expect(own).not.toContain(secret);
  });

  it('runs postgres-server against the local Postgres: a real query', async () => {
    const res = await admin.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: 'postgres-server',
      account_id: ACCOUNT,
      title: 'Database',
      provided_credential_schema: { connection_string: infra.databaseUrl },
    });
    expect(res.status).toBe(202);
    await waitForStatus(admin, res.body.id, 'mcpRunning');
    const client = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${res.body.id}/mcp`,
      platform.serviceRoleKey,
    );
    const result = await client.callTool({
      name: 'query',
      arguments: { sql: 'SELECT 40 + 2 AS answer, current_database() AS db' },
    });
    await client.close();
    expect(JSON.parse(resultText(result))).toEqual([{ answer: 42, db: infra.database }]);
  });

  it('ends a server that exits at start in mcpError with its exit code and the tail of its stderr', async () => {
    const type = customServerType(
      'exits-at-once',
      "process.stderr.write('Please set SLACK_BOT_TOKEN\\n'); process.exit(3)",
    );
    expect((await admin.post('/functions/v1/mcp-servers', type)).status).toBe(201);
    const res = await admin.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: 'exits-at-once',
      account_id: ACCOUNT,
      title: 'Broken',
    });
    const failed = await waitForStatus(admin, res.body.id, 'mcpError');
    expect(failed.status_reason).toBe('The server exited with code 3: Please set SLACK_BOT_TOKEN.');
    const events = (await admin.get(`/functions/v1/mcp-connections/${res.body.id}/events`)).body
      .data;
    expect(events.map((e: { to: string }) => e.to)).toEqual([
      'mcpPending',
      'mcpDeploying',
      'mcpError',
    ]);
    expect(events[0].from).toBeNull();
    const logs = (await admin.get(`/functions/v1/mcp-connections/${res.body.id}/logs?tail=10`)).body
      .data;
    expect(logs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ stream: 'stderr', line: 'Please set SLACK_BOT_TOKEN' }),
      ]),
    );
  });

  it('ends a server that never answers initialize in mcpError after the deploy deadline, with "timeout"', async () => {
    const type = customServerType('never-answers', 'setInterval(() => {}, 1000)');
    await admin.post('/functions/v1/mcp-servers', type);
    const res = await admin.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: 'never-answers',
      account_id: ACCOUNT,
      title: 'Silent',
    });
    const failed = await waitForStatus(admin, res.body.id, 'mcpError', 15000);
    expect(failed.status_reason).toMatch(/timeout/i);
  });

  it('refuses an unknown server type with 404 and missing credentials with 400 naming the key, creating nothing', async () => {
    const before = (await admin.get(`/functions/v1/mcp-connections?account_id=${ACCOUNT}`)).body
      .data.length;
    const unknown = await admin.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: 'nope-server',
      account_id: ACCOUNT,
      title: 'x',
    });
    expect(unknown.status).toBe(404);
    const missing = await admin.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: 'github-server',
      account_id: ACCOUNT,
      title: 'x',
    });
    expect(missing.status).toBe(400);
    expect(missing.body.message).toContain('provided_credential_schema.github_token is required');
    const wrongType = await admin.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: 'github-server',
      account_id: ACCOUNT,
      title: 'x',
      provided_credential_schema: { github_token: 42 },
    });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.message).toContain(
      'provided_credential_schema.github_token must be a string',
    );
    const badConfig = await admin.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: 'memory-server',
      account_id: ACCOUNT,
      title: 'x',
      config: { persistent_storage: 'yes', colour: 'red' },
    });
    expect(badConfig.status).toBe(400);
    expect(badConfig.body.details).toEqual([
      'config.persistent_storage must be true or false',
      'config.colour is not a setting of this server type',
    ]);
    expect(
      (await admin.get(`/functions/v1/mcp-connections?account_id=${ACCOUNT}`)).body.data.length,
    ).toBe(before);
  });

  it('stops and starts a connection, refusing impossible transitions with 409, and answers 409 on the MCP endpoint while stopped', async () => {
    const stop = await admin.post(`/functions/v1/mcp-connections/${memoryId}/stop`);
    expect(stop.status).toBe(202);
    expect(stop.body).toMatchObject({ status: 'mcpStopped', desired_state: 'stopped' });
    const again = await admin.post(`/functions/v1/mcp-connections/${memoryId}/stop`);
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('invalid_transition');
    const mcp = await admin.post(
      `/functions/v1/mcp-connections/${memoryId}/mcp`,
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { accept: 'application/json, text/event-stream' },
    );
    expect(mcp.status).toBe(409);
    expect(mcp.body.error).toBe('connection_not_running');
    const start = await admin.post(`/functions/v1/mcp-connections/${memoryId}/start`);
    expect(start.status).toBe(202);
    expect(start.body).toMatchObject({ status: 'mcpPending', desired_state: 'running' });
    await waitForStatus(admin, memoryId, 'mcpRunning');
    const startAgain = await admin.post(`/functions/v1/mcp-connections/${memoryId}/start`);
    expect(startAgain.status).toBe(409);
  });

  it('serializes concurrent operations on one connection: the loser gets 409', async () => {
    const results = await Promise.all([
      admin.post(`/functions/v1/mcp-connections/${memoryId}/stop`),
      admin.post(`/functions/v1/mcp-connections/${memoryId}/stop`),
      admin.delete(`/functions/v1/mcp-connections/${memoryId}`),
    ]);
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 409).length).toBeGreaterThanOrEqual(1);
    expect(results.some((r) => r.status === 202 || r.status === 204)).toBe(true);
    for (const r of results.filter((x) => x.status === 409))
      expect(['operation_in_progress', 'invalid_transition']).toContain(r.body.error);
    // Whatever won, deleting it now leaves nothing.
    const del = await admin.delete(`/functions/v1/mcp-connections/${memoryId}`);
    expect([204, 404]).toContain(del.status);
    expect((await admin.get(`/functions/v1/mcp-connections/${memoryId}`)).status).toBe(404);
  });

  it('returns the same connection for a retried install with the same Idempotency-Key, and 409 for another body', async () => {
    const body = { mcp_server_id: 'memory-server', account_id: ACCOUNT, title: 'Idempotent' };
    const first = await admin.post('/functions/v1/mcp-connections/install', body, {
      'idempotency-key': 'install-once-1',
    });
    const second = await admin.post('/functions/v1/mcp-connections/install', body, {
      'idempotency-key': 'install-once-1',
    });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body).toEqual(first.body);
    const conflict = await admin.post(
      '/functions/v1/mcp-connections/install',
      { ...body, title: 'Other' },
      { 'idempotency-key': 'install-once-1' },
    );
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toBe('idempotency_conflict');
    const list = (await admin.get(`/functions/v1/mcp-connections?account_id=${ACCOUNT}`)).body.data;
    expect(list.filter((c: { title: string }) => c.title === 'Idempotent')).toHaveLength(1);
    // The connection's id follows from the account and the key (its credentials are sealed for it).
    expect(first.body.id).toBe(installConnectionId(ACCOUNT, 'install-once-1'));
    // Kept 24 hours: after that the record is gone, but the id the key makes is the connection's
    // while it exists, so the key is refused with 409 naming it (not a second connection).
    await queryDatabase(
      infra.databaseUrl,
      `UPDATE sandbox.idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'install-once-1'`,
    );
    const later = await admin.post('/functions/v1/mcp-connections/install', body, {
      'idempotency-key': 'install-once-1',
    });
    expect(later.status).toBe(409);
    expect(later.body).toMatchObject({
      error: 'idempotency_conflict',
      message: expect.stringContaining(
        `This Idempotency-Key made connection ${first.body.id}, which still exists`,
      ),
    });
    expect(
      await queryDatabase(
        infra.databaseUrl,
        `SELECT connection_id FROM sandbox.idempotency_keys WHERE key = 'install-once-1'`,
      ),
    ).toEqual([]);
    // Once that connection is deleted, the key is a new install again: the same id, a new connection.
    expect((await admin.delete(`/functions/v1/mcp-connections/${first.body.id}`)).status).toBe(204);
    const again = await admin.post('/functions/v1/mcp-connections/install', body, {
      'idempotency-key': 'install-once-1',
    });
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ id: first.body.id, status: 'mcpPending' });
    expect(
      await queryDatabase(
        infra.databaseUrl,
        `SELECT connection_id FROM sandbox.idempotency_keys WHERE key = 'install-once-1'`,
      ),
    ).toEqual([{ connection_id: first.body.id }]);
    expect((await admin.delete(`/functions/v1/mcp-connections/${first.body.id}`)).status).toBe(204);
  });

  it('makes one connection of concurrent installs with one Idempotency-Key', async () => {
    const body = { mcp_server_id: 'memory-server', account_id: ACCOUNT, title: 'Concurrent' };
    const answers = await Promise.all(
      [0, 1, 2].map(() =>
        admin.post('/functions/v1/mcp-connections/install', body, {
          'idempotency-key': 'install-concurrent-1',
        }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
    const id = installConnectionId(ACCOUNT, 'install-concurrent-1');
    expect(answers.map((a) => a.body.id)).toEqual([id, id, id]);
    const list = (await admin.get(`/functions/v1/mcp-connections?account_id=${ACCOUNT}`)).body.data;
    expect(list.filter((c: { title: string }) => c.title === 'Concurrent')).toHaveLength(1);
    expect((await admin.delete(`/functions/v1/mcp-connections/${id}`)).status).toBe(204);
  });

  it('installs with values the client sealed for the connection its Idempotency-Key makes, and refuses them anywhere else', async () => {
    const { jwk } = (await admin.get('/functions/v1/credentials/public-key')).body;
    const sealFor = (connection: string | undefined) =>
      seal('client-sealed-secret', jwk, {
        account: ACCOUNT,
        ...(connection ? { connection } : {}),
        purpose: CONNECTION_CREDENTIALS_PURPOSE,
      });
    const body = (value: string) => ({
      mcp_server_id: 'everything-server',
      account_id: ACCOUNT,
      title: 'Client sealed',
      provided_credential_schema: { demo_secret: value },
    });
    const install = (value: string, key?: string) =>
      admin.post(
        '/functions/v1/mcp-connections/install',
        body(value),
        key ? { 'idempotency-key': key } : {},
      );
    const id = installConnectionId(ACCOUNT, 'client-sealed-1');
    const refused = (
      status: number,
      res: { status: number; body: { error: string; message: string } },
    ) => {
      expect({ status: res.status, error: res.body.error }).toEqual({
        status,
        error: 'validation_failed',
      });
      expect(res.body.message).toMatch(
        /^provided_credential_schema\.demo_secret is refused: it (is not bound to a|was sealed for another) connection \(seal it with ath_cid: at install installConnectionId\(account, Idempotency-Key\) of @athenic\/platform-crypto, sending that Idempotency-Key; afterwards the connection's id\)\.$/,
      );
    };
    // Bound to the account only, as before: refused, saying how to seal it.
    refused(400, await install(await sealFor(undefined), 'client-sealed-1'));
    // Bound to the connection of another key, or sent without a key: another connection.
    const sealed = await sealFor(id);
    refused(400, await install(sealed, 'client-sealed-2'));
    refused(400, await install(sealed));
    const list = (await admin.get(`/functions/v1/mcp-connections?account_id=${ACCOUNT}`)).body.data;
    expect(list.filter((c: { title: string }) => c.title === 'Client sealed')).toEqual([]);
    // With its own key: installed, as the connection it was sealed for, and the value reaches it.
    const ok = await install(sealed, 'client-sealed-1');
    expect(ok.status).toBe(202);
    expect(ok.body.id).toBe(id);
    await waitForStatus(admin, id, 'mcpRunning');
    const client = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`,
      platform.serviceRoleKey,
    );
    const env = JSON.parse(resultText(await client.callTool({ name: 'get-env', arguments: {} })));
    await client.close();
    expect(env.DEMO_SECRET).toBe('client-sealed-secret');
    expect((await admin.delete(`/functions/v1/mcp-connections/${id}`)).status).toBe(204);
  });

  it("keeps account B away from account A's connection: every route answers 404, the MCP endpoint too", async () => {
    const keyB = (await admin.post('/functions/v1/api-keys', { account_id: 'acct-b', name: 'b' }))
      .body.key;
    const keyA = (await admin.post('/functions/v1/api-keys', { account_id: ACCOUNT, name: 'a' }))
      .body.key;
    const asA = admin.withKey(keyA);
    const asB = admin.withKey(keyB);
    const own = await asA.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: 'memory-server',
      title: 'A only',
    });
    expect(own.status).toBe(202);
    const id = own.body.id;
    await waitForStatus(asA, id, 'mcpRunning');
    const notFound = {
      statusCode: 404,
      error: 'not_found',
      message: `No connection ${id} exists.`,
    };
    for (const [method, path] of [
      ['GET', `/functions/v1/mcp-connections/${id}`],
      ['POST', `/functions/v1/mcp-connections/${id}/stop`],
      ['POST', `/functions/v1/mcp-connections/${id}/start`],
      ['DELETE', `/functions/v1/mcp-connections/${id}`],
      ['GET', `/functions/v1/mcp-connections/${id}/logs`],
      ['GET', `/functions/v1/mcp-connections/${id}/events`],
      ['PUT', `/functions/v1/mcp-connections/${id}/credentials`],
    ]) {
      const res = await asB.request(
        method,
        path,
        method === 'PUT' ? { provided_credential_schema: {} } : undefined,
      );
      expect({ path: `${method} ${path}`, status: res.status, body: res.body }).toEqual({
        path: `${method} ${path}`,
        status: 404,
        body: notFound,
      });
    }
    await expect(
      connectMcpClient(`${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`, keyB),
    ).rejects.toThrow();
    expect((await asB.get(`/functions/v1/mcp-connections?account_id=${ACCOUNT}`)).status).toBe(403);
    expect((await asB.get('/functions/v1/mcp-connections')).body.data).toEqual([]);
    // A reaches its own through the MCP endpoint with its own key.
    const client = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`,
      keyA,
    );
    expect((await client.listTools()).tools.length).toBe(9);
    await client.close();
  });

  it("reports the account's health: an MCP ping per running connection, the reason of failed ones", async () => {
    const res = await admin.get(`/functions/v1/mcp-connections/health?account_id=${ACCOUNT}`);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('unhealthy');
    const byTitle = Object.fromEntries(
      res.body.connections.map((c: { title: string }) => [c.title, c]),
    );
    expect(byTitle.Everything).toMatchObject({ status: 'mcpRunning', healthy: true, error: null });
    expect(byTitle.Everything.response_time_ms).toBeGreaterThan(0);
    expect(byTitle.Broken).toMatchObject({
      status: 'mcpError',
      healthy: null,
      response_time_ms: null,
      error: expect.stringContaining('code 3'),
    });
    const empty = await admin.get('/functions/v1/mcp-connections/health?account_id=nobody-here');
    expect(empty.body).toEqual({
      status: 'healthy',
      checked_at: expect.any(String),
      connections: [],
    });
  });

  it('validates the logs tail: an integer from 1 to 1000', async () => {
    for (const tail of ['0', '1001', 'abc', '1.5']) {
      const res = await admin.get(
        `/functions/v1/mcp-connections/00000000-0000-4000-8000-000000000000/logs?tail=${tail}`,
      );
      expect(res.status).toBe(400);
    }
  });
});
