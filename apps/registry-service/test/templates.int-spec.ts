import type { CreateMcpServerCommand } from '@athenic/contracts';
import { migrate } from '@athenic/database';
import { BusClient, Outbox } from '@athenic/messaging';
import { createTestInfrastructure, REPO_ROOT, type TestInfrastructure } from '@athenic/testing';
import { Logger } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { DataSource } from 'typeorm';
import { loadEnv } from '../src/config/env';
import { registryDataSource } from '../src/database/data-source';
import { McpServersRepository } from '../src/servers/mcp-servers.repository';
import { McpServersService } from '../src/servers/mcp-servers.service';

const A = 'acct-templates-a';
const B = 'acct-templates-b';

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(
    readFileSync(path.join(REPO_ROOT, 'test/fixtures/server-json', `${name}.json`), 'utf8'),
  );
}

/** A template of memory-server's installed package, with its own launch and schemas. */
function template(id: string, overrides: Partial<CreateMcpServerCommand> = {}) {
  return {
    id,
    name: 'My memory',
    description: 'Memory with a file of its own',
    category: 'knowledge',
    transport: 'stdio',
    package: '@modelcontextprotocol/server-memory@2026.8.31',
    launch: {
      command: 'mcp-server-memory',
      args: [],
      env: { MEMORY_FILE_PATH: 'workdir:mine.jsonl', NOTE: 'credential:note' },
    },
    credential_schema: {
      type: 'object',
      additionalProperties: false,
      properties: { note: { type: 'string', maxLength: 100 } },
    },
    config_schema: { type: 'object', additionalProperties: false, properties: {} },
    egress: [],
    visibility: 'account',
    account_id: A,
    ...overrides,
  } as CreateMcpServerCommand;
}

/**
 * The registry's catalog logic (templates per account, soft delete, the cap, server.json import)
 * on a real Postgres with its migrations and the real installed packages; the service is called
 * as its bus handler calls it.
 */
describe('registry templates on Postgres', () => {
  let infra: TestInfrastructure;
  let dataSource: DataSource;
  let bus: BusClient;
  let registry: McpServersService;
  let outbox: Outbox;

  beforeAll(async () => {
    Logger.overrideLogger(['error']);
    infra = await createTestInfrastructure('registry-templates');
    dataSource = registryDataSource(infra.databaseUrl);
    await migrate(dataSource);
    bus = new BusClient({ url: infra.amqpUrl, owner: 'registry' });
    await bus.connect();
    outbox = new Outbox(dataSource, bus, { url: infra.amqpUrl, owner: 'registry' });
    const env = loadEnv({
      NODE_ENV: 'test',
      DATABASE_URL: infra.databaseUrl,
      AMQP_URL: infra.amqpUrl,
      MCP_PACKAGES_DIR: path.join(REPO_ROOT, 'mcp-packages'),
      MAX_TEMPLATES_PER_ACCOUNT: '3',
    });
    registry = new McpServersService(new McpServersRepository(dataSource), outbox, env);
    await registry.seedBuiltins();
  });

  afterAll(async () => {
    await outbox?.onApplicationShutdown();
    await bus?.onApplicationShutdown();
    await dataSource?.destroy();
    await infra?.dispose();
  });

  it('creates a template only its account sees: listed, found and changed by it alone, 404 to others', async () => {
    const created = await registry.create(template('a-memory'));
    expect(created).toMatchObject({
      id: 'a-memory',
      visibility: 'account',
      account_id: A,
      transport: 'stdio',
      isolation: 'sandbox',
      builtin: false,
      deleted_at: null,
      package: '@modelcontextprotocol/server-memory',
      version: '2026.8.31',
    });

    const ids = async (account?: string) =>
      (await registry.list(account ? { account_id: account } : {})).data.map((e) => e.id);
    expect(await ids(A)).toEqual(expect.arrayContaining(['a-memory', 'memory-server']));
    expect(await ids(B)).not.toContain('a-memory');
    expect(await ids(B)).toContain('memory-server');
    expect(await ids()).toContain('a-memory');

    await expect(registry.get({ id: 'a-memory', account_id: B })).rejects.toMatchObject({
      code: 'not_found',
    });
    const { visibility: _v, account_id: _a, ...fields } = template('a-memory');
    await expect(
      registry.update({ ...fields, name: 'Hijacked', account_id: B }),
    ).rejects.toMatchObject({ code: 'not_found' });
    await expect(registry.delete({ id: 'a-memory', account_id: B })).rejects.toMatchObject({
      code: 'not_found',
    });
    expect((await registry.get({ id: 'a-memory', account_id: A })).name).toBe('My memory');

    const updated = await registry.update({
      ...fields,
      name: 'Renamed',
      launch: { command: 'mcp-server-memory', args: [], env: { MEMORY_FILE_PATH: 'workdir:x' } },
      account_id: A,
    });
    expect(updated).toMatchObject({ name: 'Renamed', visibility: 'account', account_id: A });
    expect(updated.launch?.env).toEqual({ MEMORY_FILE_PATH: 'workdir:x' });
  });

  it('deletes softly: gone from the catalog and from account lookups, still found for its installs, id kept', async () => {
    await registry.create(template('a-doomed'));
    const deleted = await registry.delete({ id: 'a-doomed', account_id: A });
    expect(deleted.deleted_at).toEqual(expect.any(String));

    expect((await registry.list({ account_id: A })).data.map((e) => e.id)).not.toContain(
      'a-doomed',
    );
    await expect(registry.get({ id: 'a-doomed', account_id: A })).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(registry.get({ id: 'a-doomed' })).rejects.toMatchObject({ code: 'not_found' });
    // The sandbox service's deploy and the credential service ask with include_deleted.
    expect(await registry.get({ id: 'a-doomed', include_deleted: true })).toMatchObject({
      id: 'a-doomed',
      launch: { command: 'mcp-server-memory' },
      deleted_at: deleted.deleted_at,
    });
    await expect(registry.delete({ id: 'a-doomed', account_id: A })).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(registry.create(template('a-doomed'))).rejects.toMatchObject({
      code: 'already_exists',
    });
  });

  it('never changes a shipped type', async () => {
    await expect(registry.delete({ id: 'memory-server' })).rejects.toMatchObject({
      code: 'forbidden',
    });
    await expect(registry.delete({ id: 'memory-server', account_id: A })).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('caps the templates of an account (deleted ones not counted) with quota_exceeded', async () => {
    // a-memory is the one template of A left; MAX_TEMPLATES_PER_ACCOUNT is 3 here.
    await registry.create(template('a-two'));
    await registry.create(template('a-three'));
    await expect(registry.create(template('a-four'))).rejects.toMatchObject({
      code: 'quota_exceeded',
      message: expect.stringContaining('MAX_TEMPLATES_PER_ACCOUNT'),
    });
    // Another account has its own allowance.
    await registry.create(template('b-one', { account_id: B }));
    await registry.delete({ id: 'a-three', account_id: A });
    await registry.create(template('a-four'));
    expect(
      (
        await dataSource.query(
          `SELECT count(*)::int AS n FROM registry.servers WHERE id = 'a-four'`,
        )
      )[0].n,
    ).toBe(1);
  });

  it.each([
    [
      'a command that is not an executable of the package',
      { launch: { command: 'node', args: ['-e', 'evil()'], env: {} } },
      'launch.command must be an executable of @modelcontextprotocol/server-memory (mcp-server-memory); a template cannot run any other command',
    ],
    [
      'no package',
      { package: undefined, launch: { command: 'node', args: ['x.js'], env: {} } },
      'package is required for a template',
    ],
    [
      'a package that is not installed',
      { package: '@example/not-installed@1.0.0' },
      'package @example/not-installed@1.0.0 is not installed; an operator installs it with "npm run mcp:add -- @example/not-installed@1.0.0" first',
    ],
    [
      'another version of an installed package',
      { package: '@modelcontextprotocol/server-memory@1.0.0' },
      'package @modelcontextprotocol/server-memory is installed at version 2026.8.31, not 1.0.0',
    ],
    [
      'too many arguments',
      {
        launch: {
          command: 'mcp-server-memory',
          args: Array.from({ length: 33 }, () => 'x'),
          env: {},
        },
      },
      'launch.args must have at most 32 items in a template',
    ],
    [
      'too many variables',
      {
        launch: {
          command: 'mcp-server-memory',
          args: [],
          env: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`V${i}`, 'x'])),
        },
      },
      'launch.env must have at most 32 variables in a template',
    ],
    [
      'an invalid variable name',
      { launch: { command: 'mcp-server-memory', args: [], env: { 'BAD-NAME': 'x' } } },
      'launch.env.BAD-NAME is not a valid variable name',
    ],
    [
      'a variable the sandbox sets',
      { launch: { command: 'mcp-server-memory', args: [], env: { NODE_OPTIONS: '--require=x' } } },
      'launch.env.NODE_OPTIONS is set by the sandbox and cannot be overridden',
    ],
    [
      'a reference to an undeclared credential',
      { launch: { command: 'mcp-server-memory', args: ['credential:nope'], env: {} } },
      'launch.args[0] refers to credential "nope", which credential_schema does not declare',
    ],
    [
      'an oversized credential schema',
      {
        credential_schema: {
          type: 'object',
          additionalProperties: false,
          properties: { note: { type: 'string', maxLength: 100, description: 'x'.repeat(17000) } },
        },
      },
      'credential_schema must be at most 16384 bytes of JSON',
    ],
    [
      'a credential schema that accepts unknown keys',
      { credential_schema: { type: 'object', properties: {} } },
      'credential_schema.additionalProperties must be false',
    ],
    [
      'a remote transport that keeps a package and launch spec instead of a URL',
      { transport: 'streamable-http' },
      'package is for stdio servers; a streamable-http server has none',
    ],
    [
      'a remote transport whose URL is not http(s)',
      {
        transport: 'sse',
        package: undefined,
        launch: undefined,
        credential_schema: { type: 'object', additionalProperties: false, properties: {} },
        remote: { url: 'file:///etc/passwd', headers: {} },
      },
      'remote.url must start with http:// or https://',
    ],
  ])(
    'refuses a template with %s, naming it, and writes nothing',
    async (_what, change, problem) => {
      const before = await dataSource.query(`SELECT count(*)::int AS n FROM registry.servers`);
      await expect(
        registry.create(template('a-bad', change as Partial<CreateMcpServerCommand>)),
      ).rejects.toMatchObject({
        code: 'validation_failed',
        message: expect.stringContaining(problem),
      });
      expect(await dataSource.query(`SELECT count(*)::int AS n FROM registry.servers`)).toEqual(
        before,
      );
    },
  );

  it('makes a remote server a template of its account: a URL and header templates, isolation "remote"', async () => {
    const C = 'acct-templates-c';
    const created = await registry.create(
      template('c-remote', {
        account_id: C,
        transport: 'streamable-http',
        package: undefined,
        launch: undefined,
        remote: {
          url: 'https://{host}/mcp',
          headers: { Authorization: 'Bearer {credential:note}' },
        },
        config_schema: {
          type: 'object',
          additionalProperties: false,
          properties: { host: { type: 'string', maxLength: 200 } },
          required: ['host'],
        },
      }),
    );
    expect(created).toMatchObject({
      id: 'c-remote',
      visibility: 'account',
      account_id: C,
      transport: 'streamable-http',
      isolation: 'remote',
      package: null,
      launch: null,
      remote: { url: 'https://{host}/mcp', headers: { Authorization: 'Bearer {credential:note}' } },
      egress: [],
    });
    expect((await registry.list({ account_id: B })).data.map((e) => e.id)).not.toContain(
      'c-remote',
    );
    await registry.delete({ id: 'c-remote', account_id: C });
  });

  it('needs an owner for a template and none for a public type', async () => {
    await expect(
      registry.create(template('x-owner', { account_id: undefined })),
    ).rejects.toMatchObject({
      code: 'validation_failed',
      message: expect.stringContaining('account_id is required'),
    });
    await expect(
      registry.create(template('x-owner', { visibility: 'public' })),
    ).rejects.toMatchObject({
      code: 'validation_failed',
      message: expect.stringContaining('a public type has no account_id'),
    });
  });

  describe('server.json import', () => {
    it("imports memory-server's document as a template: its package's executable, MEMORY_FILE_PATH an optional credential", async () => {
      const entry = await registry.import({
        document: fixture('memory-server'),
        visibility: 'account',
        account_id: B,
      });
      expect(entry).toMatchObject({
        id: 'server-memory',
        name: 'Memory',
        description: 'Knowledge graph-based persistent memory system',
        visibility: 'account',
        account_id: B,
        package: '@modelcontextprotocol/server-memory',
        version: '2026.8.31',
        launch: {
          command: 'mcp-server-memory',
          args: [],
          env: { MEMORY_FILE_PATH: 'credential:memory_file_path' },
        },
        credential_schema: {
          type: 'object',
          additionalProperties: false,
          required: [],
          properties: {
            memory_file_path: {
              type: 'string',
              description: 'Path to the memory storage JSONL file',
              minLength: 1,
              maxLength: 8192,
            },
          },
        },
      });
      expect(
        (entry.credential_schema as any).properties.memory_file_path.writeOnly,
      ).toBeUndefined();
    });

    it('turns isSecret variables into secret credentials and isRequired into required', async () => {
      const github = await registry.import({
        document: fixture('github-server'),
        id: 'c-github',
        account_id: 'acct-templates-c',
        visibility: 'account',
      });
      expect(github.launch).toEqual({
        command: 'mcp-server-github',
        args: [],
        env: { GITHUB_PERSONAL_ACCESS_TOKEN: 'credential:github_personal_access_token' },
      });
      expect(github.credential_schema).toMatchObject({
        required: ['github_personal_access_token'],
        properties: {
          github_personal_access_token: {
            writeOnly: true,
            description: 'A GitHub personal access token',
          },
        },
      });
    });

    it('maps package arguments: a fixed value, a {variable} as a credential (public, by the service role)', async () => {
      const postgres = await registry.import({
        document: fixture('postgres-server'),
        id: 'pg-imported',
      });
      expect(postgres).toMatchObject({ visibility: 'public', account_id: null });
      expect(postgres.launch?.args).toEqual(['credential:connection_string']);
      expect(postgres.credential_schema).toMatchObject({
        required: ['connection_string'],
        properties: { connection_string: { writeOnly: true } },
      });
      const everything = await registry.import({
        document: fixture('everything-server'),
        id: 'everything-imported',
      });
      expect(everything.launch).toEqual({
        command: 'mcp-server-everything',
        args: ['stdio'],
        env: { DEMO_SECRET: 'credential:demo_secret' },
      });
      expect(everything.credential_schema).toMatchObject({
        required: [],
        properties: { demo_secret: { writeOnly: true, default: 'none' } },
      });
    });

    it('imports a remote-only document as a streamable-http template: the URL\'s variable a config key, the secret header\'s a credential, isolation "remote"', async () => {
      const entry = await registry.import({
        document: fixture('remote-only'),
        visibility: 'account',
        account_id: B,
      });
      expect(entry).toMatchObject({
        id: 'weather',
        name: 'com.example/weather',
        visibility: 'account',
        account_id: B,
        transport: 'streamable-http',
        isolation: 'remote',
        package: null,
        launch: null,
        remote: {
          url: 'https://mcp.example.com/{tenant}/mcp',
          headers: { Authorization: 'Bearer {credential:token}' },
        },
        config_schema: { required: ['tenant'], properties: { tenant: { type: 'string' } } },
        credential_schema: {
          required: ['token'],
          properties: { token: { type: 'string', writeOnly: true, maxLength: 8192 } },
        },
        egress: [],
      });
      expect((await registry.get({ id: 'weather', account_id: B })).remote).toEqual(entry.remote);
    });

    it('imports an sse remote with declared variables as a public type', async () => {
      const entry = await registry.import({ document: fixture('remote-sse'), id: 'crm-imported' });
      expect(entry).toMatchObject({
        id: 'crm-imported',
        visibility: 'public',
        account_id: null,
        transport: 'sse',
        isolation: 'remote',
        remote: {
          url: 'https://{region}.crm.example.com/workspaces/{workspace_id}/sse',
          headers: {
            Authorization: 'Token {credential:api_key}',
            'X-Api-Version': '2024-10-01',
            'X-Timezone': '{x_timezone}',
          },
        },
        config_schema: {
          required: ['region', 'workspace_id'],
          properties: { region: { enum: ['eu', 'us', 'ap'], default: 'eu' } },
        },
        credential_schema: { required: ['api_key'] },
      });
    });

    it.each([
      [
        'a secret in the URL of a remote',
        {
          ...fixture('remote-only'),
          remotes: [
            {
              type: 'streamable-http',
              url: 'https://mcp.example.com/mcp?key={key}',
              variables: { key: { isSecret: true } },
            },
          ],
        },
        'remotes[0].variables.key is secret, and a secret cannot be put in a URL (URLs are logged)',
      ],
      [
        'a remote header the MCP client sets itself',
        {
          ...fixture('remote-only'),
          remotes: [
            {
              type: 'sse',
              url: 'https://mcp.example.com/sse',
              headers: [{ name: 'Mcp-Session-Id', value: 'fixed' }],
            },
          ],
        },
        "remotes[0].headers.Mcp-Session-Id is set by the platform's MCP client",
      ],
      [
        'a package that is not installed',
        {
          ...fixture('memory-server'),
          packages: [
            {
              ...(fixture('memory-server').packages as object[])[0],
              version: '9.9.9',
            },
          ],
        },
        'package @modelcontextprotocol/server-memory@9.9.9 is not installed (version 2026.8.31 is); an operator installs it with "npm run mcp:add -- @modelcontextprotocol/server-memory@9.9.9" first',
      ],
      [
        'a PyPI package',
        {
          ...fixture('memory-server'),
          packages: [{ registryType: 'pypi', identifier: 'mcp-server-time', version: '1.0.0' }],
        },
        'only npm packages can be imported (the document has: pypi)',
      ],
      [
        'no name',
        { ...fixture('memory-server'), name: 'no slash' },
        'name must be the registry name of the server',
      ],
      [
        'a value mixing text and a variable',
        {
          ...fixture('memory-server'),
          packages: [
            {
              ...(fixture('memory-server').packages as object[])[0],
              packageArguments: [{ type: 'positional', value: '--path={p}', variables: { p: {} } }],
            },
          ],
        },
        'packages[].packageArguments[0].value mixes text and {variables}',
      ],
      [
        'a range instead of a version',
        {
          ...fixture('memory-server'),
          packages: [
            { ...(fixture('memory-server').packages as object[])[0], version: '^2026.8.31' },
          ],
        },
        'packages[] must name an npm package with an exact version',
      ],
    ])('refuses %s with a 400 naming it', async (_what, document, problem) => {
      await expect(
        registry.import({ document: document as Record<string, unknown>, id: 'never-made' }),
      ).rejects.toMatchObject({
        code: 'validation_failed',
        message: expect.stringContaining(problem),
      });
      await expect(registry.get({ id: 'never-made', include_deleted: true })).rejects.toMatchObject(
        { code: 'not_found' },
      );
    });
  });
});
