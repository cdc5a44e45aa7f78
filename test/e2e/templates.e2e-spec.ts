import {
  ApiClient,
  connectMcpClient,
  createTestInfrastructure,
  RemoteMcpServer,
  REPO_ROOT,
  resultText,
  type TestInfrastructure,
  TestPlatform,
  waitForStatus,
} from '@athenic/testing';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** Account A's own server type: memory-server's installed package, its own file and credential. */
const TEMPLATE = {
  id: 'a-notes',
  name: 'Notes',
  description: "Account A's memory, kept in a file of its own",
  category: 'knowledge',
  transport: 'stdio',
  package: '@modelcontextprotocol/server-memory@2026.8.31',
  launch: {
    command: 'mcp-server-memory',
    args: [],
    env: { MEMORY_FILE_PATH: 'workdir:notes.jsonl', NOTES_LABEL: 'credential:label' },
  },
  credential_schema: {
    type: 'object',
    additionalProperties: false,
    properties: { label: { type: 'string', maxLength: 100, writeOnly: true } },
  },
  config_schema: { type: 'object', additionalProperties: false, properties: {} },
  egress: [],
};

function serverJson(name: string): Record<string, unknown> {
  return JSON.parse(
    readFileSync(path.join(REPO_ROOT, 'test/fixtures/server-json', `${name}.json`), 'utf8'),
  );
}

describe('templates per account: made, installed and used by one account, invisible to another', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let admin: ApiClient;
  let asA: ApiClient;
  let asB: ApiClient;
  let keyA: string;
  let connectionId: string;
  // A hosted server an account imports the server.json of: on loopback, opened on its port only.
  const remoteToken = `tok_${randomBytes(16).toString('hex')}`;
  const remote = new RemoteMcpServer(remoteToken, '/acme/mcp');

  beforeAll(async () => {
    await remote.start();
    infra = await createTestInfrastructure('templates');
    platform = await new TestPlatform(infra, {
      env: { DEPLOY_TIMEOUT_MS: '8000', EGRESS_ALLOW_PRIVATE: `127.0.0.1:${remote.port}` },
    }).start();
    admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    const key = async (account: string) =>
      (await admin.post('/functions/v1/api-keys', { account_id: account, name: 'templates' })).body
        .key as string;
    keyA = await key('tpl-acct-a');
    asA = admin.withKey(keyA);
    asB = admin.withKey(await key('tpl-acct-b'));
  });

  afterAll(async () => {
    await platform?.stop();
    await infra?.dispose();
    await remote.stop();
  });

  it("lets account A add a template of an installed package; the catalog shows each entry's transport, isolation and visibility", async () => {
    const created = await asA.post('/functions/v1/mcp-servers', TEMPLATE);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: 'a-notes',
      transport: 'stdio',
      isolation: 'sandbox',
      visibility: 'account',
      account_id: 'tpl-acct-a',
      builtin: false,
    });
    const listA = await asA.get('/functions/v1/mcp-servers');
    const notes = listA.body.data.find((e: any) => e.id === 'a-notes');
    expect(notes).toMatchObject({
      transport: 'stdio',
      isolation: 'sandbox',
      visibility: 'account',
    });
    expect(listA.body.data.find((e: any) => e.id === 'memory-server')).toMatchObject({
      transport: 'stdio',
      isolation: 'sandbox',
      visibility: 'public',
      account_id: null,
    });
  });

  it('lets account A add a remote server as a template: its URL and header templates, isolation "remote", seen by A alone', async () => {
    const created = await asA.post('/functions/v1/mcp-servers', {
      id: 'a-remote-crm',
      name: 'CRM',
      description: "Account A's CRM, reached over Streamable HTTP",
      category: 'internal',
      transport: 'streamable-http',
      remote: {
        url: 'https://{host}/mcp',
        headers: { Authorization: 'Bearer {credential:token}' },
      },
      credential_schema: {
        type: 'object',
        additionalProperties: false,
        properties: { token: { type: 'string', maxLength: 200, writeOnly: true } },
      },
      config_schema: {
        type: 'object',
        additionalProperties: false,
        required: ['host'],
        properties: { host: { type: 'string', maxLength: 200 } },
      },
      egress: [],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: 'a-remote-crm',
      transport: 'streamable-http',
      isolation: 'remote',
      visibility: 'account',
      account_id: 'tpl-acct-a',
      builtin: false,
      package: null,
      launch: null,
      remote: {
        url: 'https://{host}/mcp',
        headers: { Authorization: 'Bearer {credential:token}' },
      },
    });
    expect((await asB.get('/functions/v1/mcp-servers/a-remote-crm')).status).toBe(404);
    expect((await asA.delete('/functions/v1/mcp-servers/a-remote-crm')).status).toBe(204);
  });

  it('documents the template routes in the OpenAPI document', async () => {
    const doc = (await admin.withKey(undefined).get('/docs-json')).body;
    expect(Object.keys(doc.paths['/functions/v1/mcp-servers/{id}'])).toEqual(
      expect.arrayContaining(['get', 'put', 'delete']),
    );
    expect(doc.paths['/functions/v1/mcp-servers/import'].post).toBeDefined();
    expect(doc.components.schemas.McpServerFields.required).toEqual(
      expect.arrayContaining(['name', 'transport', 'credential_schema']),
    );
    expect(Object.keys(doc.components.schemas.McpServerFields.properties)).toEqual(
      expect.arrayContaining(['launch', 'remote']),
    );
    expect(doc.components.schemas.CreateMcpServerCommand.properties.visibility.enum).toEqual([
      'public',
      'account',
    ]);
    expect(Object.keys(doc.components.schemas.McpServerView.properties)).toEqual(
      expect.arrayContaining(['transport', 'isolation', 'visibility', 'account_id']),
    );
  });

  it('refuses what an account may not add, naming why, and adds nothing', async () => {
    const publicOne = await asA.post('/functions/v1/mcp-servers', {
      ...TEMPLATE,
      id: 'a-public',
      visibility: 'public',
    });
    expect(publicOne.status).toBe(403);
    const command = await asA.post('/functions/v1/mcp-servers', {
      ...TEMPLATE,
      id: 'a-shell',
      launch: { command: 'node', args: ['-e', 'require("child_process")'], env: {} },
    });
    expect(command.status).toBe(400);
    expect(command.body.message).toContain('a template cannot run any other command');
    const missing = await asA.post('/functions/v1/mcp-servers', {
      ...TEMPLATE,
      id: 'a-missing',
      package: '@example/not-installed@1.2.3',
    });
    expect(missing.status).toBe(400);
    expect(missing.body.message).toContain('npm run mcp:add -- @example/not-installed@1.2.3');
    const noRemote = await asA.post('/functions/v1/mcp-servers', {
      ...TEMPLATE,
      id: 'a-remote',
      transport: 'streamable-http',
    });
    expect(noRemote.status).toBe(400);
    expect(noRemote.body.message).toBe('Invalid request: remote is required.');
    const secretInUrl = await asA.post('/functions/v1/mcp-servers/import', {
      ...serverJson('remote-only'),
      remotes: [
        {
          type: 'streamable-http',
          url: 'https://mcp.example.com/{token}/mcp',
          variables: { token: { isSecret: true } },
        },
      ],
    });
    expect(secretInUrl.status).toBe(400);
    expect(secretInUrl.body).toMatchObject({
      error: 'validation_failed',
      message: expect.stringContaining(
        'remotes[0].variables.token is secret, and a secret cannot be put in a URL',
      ),
    });
    for (const id of ['a-public', 'a-shell', 'a-missing', 'a-remote', 'weather'])
      expect((await admin.get(`/functions/v1/mcp-servers/${id}`)).status).toBe(404);
  });

  it('imports a server.json document as a template of the caller', async () => {
    const res = await asA.post(
      '/functions/v1/mcp-servers/import?id=a-imported-memory',
      JSON.parse(
        readFileSync(path.join(REPO_ROOT, 'test/fixtures/server-json/memory-server.json'), 'utf8'),
      ),
    );
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      id: 'a-imported-memory',
      visibility: 'account',
      account_id: 'tpl-acct-a',
      package: '@modelcontextprotocol/server-memory',
      launch: { command: 'mcp-server-memory' },
    });
    expect((await asB.get('/functions/v1/mcp-servers/a-imported-memory')).status).toBe(404);
  });

  it("imports a remote-only server.json as a streamable-http template; its installs are checked like any remote template's", async () => {
    const res = await asA.post('/functions/v1/mcp-servers/import', serverJson('remote-only'));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      id: 'weather',
      transport: 'streamable-http',
      isolation: 'remote',
      visibility: 'account',
      account_id: 'tpl-acct-a',
      package: null,
      launch: null,
      remote: {
        url: 'https://mcp.example.com/{tenant}/mcp',
        headers: { Authorization: 'Bearer {credential:token}' },
      },
      config_schema: { required: ['tenant'] },
      credential_schema: { required: ['token'], properties: { token: { writeOnly: true } } },
      egress: [],
    });
    expect((await asB.get('/functions/v1/mcp-servers/weather')).status).toBe(404);

    // The config and credentials its schemas ask for, as for any template.
    const missing = await asA.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: 'weather',
      title: 'Weather',
      provided_credential_schema: { token: 'tok_weather' },
    });
    expect(missing.status).toBe(400);
    expect(missing.body.message).toContain('config.tenant is required');

    // mcp.example.com resolves nowhere here: the install is taken (a name may resolve later),
    // the deploy's egress check refuses it, in mcpError, saying why.
    const installed = await asA.install({
      mcp_server_id: 'weather',
      title: 'Weather',
      config: { tenant: 'acme' },
      provided_credential_schema: { token: 'tok_weather' },
    });
    const failed = await waitForStatus(asA, installed.id, ['mcpError', 'mcpRunning']);
    expect(failed.status).toBe('mcpError');
    expect(failed.status_reason).toMatch(
      /^Egress refused: mcp\.example\.com:443: mcp\.example\.com could not be resolved/,
    );
    expect(failed.status_reason).not.toContain('tok_weather');
    expect((await asA.delete(`/functions/v1/mcp-connections/${installed.id}`)).status).toBe(204);
  });

  it('imports the server.json of a hosted server (written here with its port), installs it and calls its tools through the gateway; an address the egress rule refuses answers 400 egress_denied', async () => {
    const document = {
      $schema: 'https://static.modelcontextprotocol.io/schemas/2025-09-29/server.schema.json',
      name: 'com.example.acme/echo',
      title: 'Hosted echo',
      description: 'An echo server hosted per tenant',
      version: '1.0.0',
      remotes: [
        { type: 'sse', url: `http://{host}:${remote.port}/{tenant}/sse` },
        {
          type: 'streamable-http',
          url: `http://{host}:${remote.port}/{tenant}/mcp`,
          variables: {
            host: { description: 'Where the server runs', isRequired: true },
            tenant: { description: 'Your tenant', isRequired: true, choices: ['acme', 'other'] },
          },
          headers: [
            {
              name: 'Authorization',
              value: 'Bearer {token}',
              isRequired: true,
              isSecret: true,
              variables: { token: { description: 'An access token of the tenant' } },
            },
            { name: 'X-Client', value: 'athenic-e2e' },
          ],
        },
      ],
    };
    const imported = await asA.post('/functions/v1/mcp-servers/import', document);
    expect(imported.status).toBe(201);
    expect(imported.body).toMatchObject({
      id: 'echo',
      name: 'Hosted echo',
      transport: 'streamable-http',
      isolation: 'remote',
      remote: {
        url: `http://{host}:${remote.port}/{tenant}/mcp`,
        headers: { Authorization: 'Bearer {credential:token}', 'X-Client': 'athenic-e2e' },
      },
    });

    // 127.0.0.2 is loopback, which EGRESS_ALLOW_PRIVATE does not open: refused, nothing made.
    const before = (await asA.get('/functions/v1/mcp-connections')).body.data.length;
    const denied = await asA.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: 'echo',
      title: 'Not opened',
      config: { host: '127.0.0.2', tenant: 'acme' },
      provided_credential_schema: { token: remoteToken },
    });
    expect(denied.status).toBe(400);
    expect(denied.body.error).toBe('egress_denied');
    expect(denied.body.message).toContain('EGRESS_ALLOW_PRIVATE');
    expect((await asA.get('/functions/v1/mcp-connections')).body.data).toHaveLength(before);

    const installed = await asA.install({
      mcp_server_id: 'echo',
      title: 'Hosted echo',
      config: { host: '127.0.0.1', tenant: 'acme' },
      provided_credential_schema: { token: remoteToken },
    });
    const running = await waitForStatus(asA, installed.id, 'mcpRunning');
    expect(running.isolation).toBe('remote');
    const client = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${installed.id}/mcp`,
      keyA,
      'imported-remote',
    );
    expect(
      resultText(await client.callTool({ name: 'echo', arguments: { text: 'imported' } })),
    ).toBe('remote echo: imported');
    await client.close();
    expect(remote.requests.some((r) => r.authorized)).toBe(true);
    expect((await asA.delete(`/functions/v1/mcp-connections/${installed.id}`)).status).toBe(204);
  });

  it('installs the template for A and serves its tools through the MCP endpoint', async () => {
    const installed = await asA.install({
      mcp_server_id: 'a-notes',
      title: 'My notes',
      provided_credential_schema: { label: 'first' },
    });
    connectionId = installed.id;
    const running = await waitForStatus(asA, connectionId, 'mcpRunning');
    expect(running.mcp_server_id).toBe('a-notes');
    const client = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${connectionId}/mcp`,
      keyA,
      'template-user',
    );
    await client.callTool({
      name: 'create_entities',
      arguments: {
        entities: [{ name: 'Ada', entityType: 'person', observations: ['wrote a program'] }],
      },
    });
    expect(resultText(await client.callTool({ name: 'read_graph', arguments: {} }))).toContain(
      'wrote a program',
    );
    await client.close();
  });

  it("answers account B 404 everywhere for A's template, and lists it nowhere", async () => {
    expect(
      (await asB.get('/functions/v1/mcp-servers')).body.data.map((e: any) => e.id),
    ).not.toContain('a-notes');
    const { id: _id, ...fields } = TEMPLATE;
    for (const res of [
      await asB.get('/functions/v1/mcp-servers/a-notes'),
      await asB.put('/functions/v1/mcp-servers/a-notes', { ...fields, name: 'Mine now' }),
      await asB.delete('/functions/v1/mcp-servers/a-notes'),
      await asB.post('/functions/v1/mcp-connections/install', {
        mcp_server_id: 'a-notes',
        title: 'Stolen',
      }),
    ]) {
      expect(res.status).toBe(404);
      expect(res.body.error).toBe('not_found');
    }
    // Nothing changed for A.
    expect((await asA.get('/functions/v1/mcp-servers/a-notes')).body.name).toBe('Notes');
    expect((await asB.get('/functions/v1/mcp-connections')).body.data).toEqual([]);
  });

  it('lets A update its template', async () => {
    const { id: _id, ...fields } = TEMPLATE;
    const res = await asA.put('/functions/v1/mcp-servers/a-notes', {
      ...fields,
      description: 'Updated',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: 'a-notes',
      description: 'Updated',
      visibility: 'account',
    });
  });

  it("keeps A's install working after A deletes the template: restart, credential replace, start and stop", async () => {
    expect((await asA.delete('/functions/v1/mcp-servers/a-notes')).status).toBe(204);
    expect((await asA.get('/functions/v1/mcp-servers/a-notes')).status).toBe(404);
    expect(
      (await asA.get('/functions/v1/mcp-servers')).body.data.map((e: any) => e.id),
    ).not.toContain('a-notes');
    // A new install of a deleted template is refused; the id stays taken.
    const again = await asA.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: 'a-notes',
      title: 'Again',
    });
    expect(again.status).toBe(404);
    expect((await asA.post('/functions/v1/mcp-servers', TEMPLATE)).status).toBe(409);

    const url = `${platform.baseUrl}/functions/v1/mcp-connections/${connectionId}/mcp`;
    expect((await asA.post(`/functions/v1/mcp-connections/${connectionId}/stop`)).status).toBe(202);
    await waitForStatus(asA, connectionId, 'mcpStopped');
    expect((await asA.post(`/functions/v1/mcp-connections/${connectionId}/start`)).status).toBe(
      202,
    );
    await waitForStatus(asA, connectionId, 'mcpRunning');
    const replaced = await asA.put(`/functions/v1/mcp-connections/${connectionId}/credentials`, {
      provided_credential_schema: { label: 'second' },
    });
    expect(replaced.status).toBe(202);
    await waitForStatus(asA, connectionId, 'mcpRunning');
    const client = await connectMcpClient(url, keyA, 'after-delete');
    // A redeploy starts with a fresh working dir (no persistent_storage): the server works anew.
    await client.callTool({
      name: 'create_entities',
      arguments: {
        entities: [{ name: 'Grace', entityType: 'person', observations: ['found a moth'] }],
      },
    });
    expect(resultText(await client.callTool({ name: 'read_graph', arguments: {} }))).toContain(
      'found a moth',
    );
    await client.close();
    expect((await asA.delete(`/functions/v1/mcp-connections/${connectionId}`)).status).toBe(204);
  });
});
