import { DomainError } from '@athenic/contracts';
import type { InstalledPackage } from '@athenic/mcp-packages';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fromServerJson, serverJsonPackage } from './server-json';
import { checkServerType } from './server-type-rules';

const FIXTURES = path.resolve(__dirname, '../../../../test/fixtures/server-json');

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8'));
}

const MEMORY: InstalledPackage = {
  name: '@modelcontextprotocol/server-memory',
  version: '2026.8.31',
  bins: ['mcp-server-memory'],
  binPaths: { 'mcp-server-memory': 'dist/index.js' },
  installDir: '/nowhere',
  packageDir: '/nowhere/node_modules/@modelcontextprotocol/server-memory',
};

/** A remote-only document with one remote, `remote` merged into a streamable-http one. */
function remoteDocument(remote: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'com.example/hosted',
    description: 'A hosted server',
    version: '1.0.0',
    remotes: [{ type: 'streamable-http', url: 'https://mcp.example.com/mcp', ...remote }],
  };
}

/** The problems a document is refused with (the DomainError's details). */
function refusal(document: Record<string, unknown>): string[] {
  try {
    fromServerJson(document, undefined);
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe('validation_failed');
    return (error as DomainError).details as string[];
  }
  throw new Error('the document was imported');
}

describe('server.json import', () => {
  describe('which server a document gives', () => {
    it('is its npm package when it has one, remotes or not', () => {
      const document = { ...fixture('memory-server'), remotes: fixture('remote-only').remotes };
      expect(serverJsonPackage(document)).toEqual({
        name: '@modelcontextprotocol/server-memory',
        version: '2026.8.31',
      });
      const entry = fromServerJson(document, MEMORY);
      expect(entry).toMatchObject({
        transport: 'stdio',
        package: '@modelcontextprotocol/server-memory@2026.8.31',
        launch: { command: 'mcp-server-memory' },
      });
      expect(entry.remote).toBeUndefined();
    });

    it('is its remote, with no package to look up, when it has remotes and no npm package', () => {
      expect(serverJsonPackage(fixture('remote-only'))).toBeUndefined();
      expect(
        serverJsonPackage({
          ...fixture('remote-only'),
          packages: [{ registryType: 'pypi', identifier: 'weather', version: '1.0.0' }],
        }),
      ).toBeUndefined();
    });

    it('prefers the first streamable-http remote to an sse one', () => {
      const entry = fromServerJson(
        {
          ...remoteDocument(),
          remotes: [
            { type: 'sse', url: 'https://old.example.com/sse' },
            { type: 'streamable-http', url: 'https://new.example.com/mcp' },
            { type: 'streamable-http', url: 'https://other.example.com/mcp' },
          ],
        },
        undefined,
      );
      expect(entry).toMatchObject({
        transport: 'streamable-http',
        remote: { url: 'https://new.example.com/mcp', headers: {} },
      });
    });

    it('still needs a valid name for a remote-only document', () => {
      expect(() => serverJsonPackage({ ...fixture('remote-only'), name: 'no slash' })).toThrow(
        'name must be the registry name of the server',
      );
    });
  });

  describe('a remote', () => {
    it("imports remote-only.json: an undeclared URL variable a required config string, the secret header's variable a required write-only credential", () => {
      const entry = fromServerJson(fixture('remote-only'), undefined);
      expect(entry).toEqual({
        id: 'weather',
        name: 'com.example/weather',
        description: 'A hosted weather server',
        category: 'imported',
        transport: 'streamable-http',
        remote: {
          url: 'https://mcp.example.com/{tenant}/mcp',
          headers: { Authorization: 'Bearer {credential:token}' },
        },
        credential_schema: {
          type: 'object',
          additionalProperties: false,
          required: ['token'],
          properties: {
            token: {
              type: 'string',
              minLength: 1,
              maxLength: 8192,
              writeOnly: true,
              description: 'Fills {token} in the Authorization header',
            },
          },
        },
        config_schema: {
          type: 'object',
          additionalProperties: false,
          required: ['tenant'],
          properties: {
            tenant: {
              type: 'string',
              minLength: 1,
              maxLength: 2048,
              description: "Fills {tenant} in the server's URL",
            },
          },
        },
        egress: [],
      });
      expect(entry.package).toBeUndefined();
      expect(entry.launch).toBeUndefined();
      expect(
        checkServerType({ ...entry, visibility: 'account' } as never, undefined, true),
      ).toEqual([]);
    });

    it('imports remote-sse.json: declared URL variables (choices, default, normalised keys), a secret header variable, a literal header, a whole header value as config', () => {
      const entry = fromServerJson(fixture('remote-sse'), undefined, 'crm');
      expect(entry).toMatchObject({
        id: 'crm',
        name: 'Example CRM',
        transport: 'sse',
        remote: {
          url: 'https://{region}.crm.example.com/workspaces/{workspace_id}/sse',
          headers: {
            Authorization: 'Token {credential:api_key}',
            'X-Api-Version': '2024-10-01',
            'X-Timezone': '{x_timezone}',
          },
        },
        egress: [],
      });
      expect(entry.config_schema).toEqual({
        type: 'object',
        additionalProperties: false,
        required: ['region', 'workspace_id'],
        properties: {
          region: {
            type: 'string',
            minLength: 1,
            maxLength: 2048,
            description: 'Data region of the workspace',
            default: 'eu',
            enum: ['eu', 'us', 'ap'],
          },
          workspace_id: {
            type: 'string',
            minLength: 1,
            maxLength: 2048,
            description: "The workspace's id, shown in its settings",
          },
          x_timezone: {
            type: 'string',
            minLength: 1,
            maxLength: 8192,
            description: 'Time zone the dates are given in',
            default: 'UTC',
          },
        },
      });
      expect(entry.credential_schema).toEqual({
        type: 'object',
        additionalProperties: false,
        required: ['api_key'],
        properties: {
          api_key: {
            type: 'string',
            minLength: 1,
            maxLength: 8192,
            writeOnly: true,
            description: 'An API key of the workspace (Settings → API)',
          },
        },
      });
      expect(checkServerType({ ...entry, visibility: 'public' } as never, undefined)).toEqual([]);
    });

    it('makes a header without a value a credential named after the header when secret, a config key otherwise; isRequired makes it required', () => {
      const entry = fromServerJson(
        remoteDocument({
          headers: [
            { name: 'X-API-Key', description: 'Your key', isRequired: true, isSecret: true },
            { name: 'X-Region', choices: ['us-east-1', 'eu-west-1'], default: 'us-east-1' },
          ],
        }),
        undefined,
      );
      expect(entry.remote!.headers).toEqual({
        'X-API-Key': '{credential:x_api_key}',
        'X-Region': '{x_region}',
      });
      expect(entry.credential_schema).toMatchObject({
        required: ['x_api_key'],
        properties: { x_api_key: { writeOnly: true, description: 'Your key', maxLength: 8192 } },
      });
      expect(entry.config_schema).toMatchObject({
        required: [],
        properties: {
          x_region: { type: 'string', enum: ['us-east-1', 'eu-west-1'], default: 'us-east-1' },
        },
      });
      expect((entry.config_schema as any).properties.x_region.writeOnly).toBeUndefined();
    });

    it('makes a secret variable of a header that is not itself secret a credential, the others config; one variable used twice is one field', () => {
      const entry = fromServerJson(
        remoteDocument({
          url: 'https://mcp.example.com/{tenant}/mcp',
          variables: { tenant: { description: 'Tenant', isRequired: true } },
          headers: [
            {
              name: 'X-Auth',
              value: '{user}:{password}',
              variables: {
                user: { description: 'User name', isRequired: true },
                password: { description: 'Password', isSecret: true, isRequired: true },
              },
            },
            { name: 'X-Tenant', value: '{tenant}', variables: { tenant: { isRequired: true } } },
          ],
        }),
        undefined,
      );
      expect(entry.remote).toEqual({
        url: 'https://mcp.example.com/{tenant}/mcp',
        headers: { 'X-Auth': '{user}:{credential:password}', 'X-Tenant': '{tenant}' },
      });
      expect(Object.keys((entry.config_schema as any).properties)).toEqual(['tenant', 'user']);
      expect(entry.config_schema).toMatchObject({
        required: ['tenant', 'user'],
        properties: { tenant: { description: 'Tenant' } },
      });
      expect(entry.credential_schema).toMatchObject({
        required: ['password'],
        properties: { password: { writeOnly: true, description: 'Password' } },
      });
    });

    it('leaves optional what the document does not require, and a required header requires its variables', () => {
      const entry = fromServerJson(
        remoteDocument({
          url: 'https://mcp.example.com/{env}/mcp',
          variables: { env: { choices: ['prod', 'staging'], default: 'prod' } },
          headers: [
            {
              name: 'X-Team',
              value: 'team-{team}',
              isRequired: true,
              variables: { team: { description: 'Team' } },
            },
            {
              name: 'X-Trace',
              value: '{trace}',
              variables: { trace: { description: 'Trace id' } },
            },
          ],
        }),
        undefined,
      );
      expect((entry.config_schema as any).required).toEqual(['team']);
      expect(entry.remote!.headers).toEqual({ 'X-Team': 'team-{team}', 'X-Trace': '{trace}' });
    });

    it.each([
      [
        'a secret URL variable',
        {
          url: 'https://mcp.example.com/{api_key}/mcp',
          variables: { api_key: { isSecret: true, isRequired: true } },
        },
        'remotes[0].variables.api_key is secret, and a secret cannot be put in a URL (URLs are logged)',
      ],
      [
        'a URL that is not http(s)',
        { url: 'ftp://mcp.example.com/mcp' },
        'remotes[0].url must start with http:// or https://',
      ],
      ['no URL', { url: undefined }, "remotes[0].url must be the server's URL"],
      [
        'a URL with a user and password',
        { url: 'https://me:pass@mcp.example.com/mcp' },
        'remotes[0].url must not hold a user name or password',
      ],
      [
        'a URL naming a credential',
        { url: 'https://mcp.example.com/{credential:token}' },
        'remotes[0].url holds "{credential:token}", which is not a {variable}',
      ],
      [
        'an unmatched brace',
        { url: 'https://mcp.example.com/{tenant/mcp' },
        'remotes[0].url has an unmatched "{" or "}"',
      ],
      [
        'a variable that cannot be a key',
        { url: 'https://mcp.example.com/{1st}/mcp' },
        'remotes[0].url: "1st" cannot be made a key',
      ],
      [
        'a header the MCP client sets itself',
        { headers: [{ name: 'Host', value: 'evil.example.com' }] },
        "remotes[0].headers.Host is set by the platform's MCP client",
      ],
      [
        'a header name that is no token',
        { headers: [{ name: 'X Bad', value: 'x' }] },
        'remotes[0].headers.X Bad: "X Bad" is not a valid header name',
      ],
      [
        'a header with a line break',
        { headers: [{ name: 'X-Note', value: 'a\r\nX-Injected: 1' }] },
        'remotes[0].headers.X-Note must not hold a line break',
      ],
      [
        'a header given twice',
        {
          headers: [
            { name: 'X-Key', isSecret: true },
            { name: 'x-key', value: 'literal' },
          ],
        },
        'remotes[0].headers[1] gives the header x-key a second time',
      ],
      [
        'a header without a name',
        { headers: [{ value: 'x' }] },
        "remotes[0].headers[0].name must be the header's name",
      ],
      [
        'headers that are not a list',
        { headers: { Authorization: 'Bearer x' } },
        'remotes[0].headers must be an array of objects',
      ],
      [
        'a header value that is not a string',
        { headers: [{ name: 'X-Count', value: 3 }] },
        'remotes[0].headers[0].value must be a string',
      ],
      [
        'variables that are not an object',
        { url: 'https://mcp.example.com/{a}', variables: ['a'] },
        'remotes[0].variables must be an object of variable names to their descriptions',
      ],
    ])('refuses %s, naming the field', (_what, remote, problem) => {
      expect(refusal(remoteDocument(remote as Record<string, unknown>))).toContainEqual(
        expect.stringContaining(problem),
      );
    });

    it('refuses a document whose remotes have no streamable-http or sse server', () => {
      expect(
        refusal({ ...remoteDocument(), remotes: [{ type: 'websocket', url: 'wss://x' }, 'x'] }),
      ).toEqual([
        'remotes has no "streamable-http" or "sse" server to import (the document has: websocket, undefined)',
      ]);
    });

    it('refuses a document with neither an npm package nor a remote', () => {
      expect(refusal({ name: 'com.example/empty', remotes: [] })[0]).toContain(
        'the document has no server to import: packages must list an npm package, or remotes a streamable-http or sse server',
      );
      expect(
        refusal({
          name: 'com.example/python',
          packages: [{ registryType: 'pypi', identifier: 'x', version: '1.0.0' }],
        })[0],
      ).toBe(
        'only npm packages can be imported (the document has: pypi), or remotes, which it lacks',
      );
    });

    it('says the message of its first problem', () => {
      expect(() => fromServerJson(remoteDocument({ url: 'ftp://x' }), undefined)).toThrow(
        'Cannot import this server.json: remotes[0].url must start with http:// or https://.',
      );
    });
  });

  describe('an npm package', () => {
    it('needs it installed at its version', () => {
      expect(() => fromServerJson(fixture('memory-server'), undefined)).toThrow(
        'package @modelcontextprotocol/server-memory@2026.8.31 is not installed',
      );
    });

    it('maps its variables to credentials as before', () => {
      expect(fromServerJson(fixture('memory-server'), MEMORY)).toMatchObject({
        id: 'server-memory',
        name: 'Memory',
        category: 'imported',
        transport: 'stdio',
        launch: {
          command: 'mcp-server-memory',
          args: [],
          env: { MEMORY_FILE_PATH: 'credential:memory_file_path' },
        },
        credential_schema: {
          required: [],
          properties: {
            memory_file_path: {
              type: 'string',
              minLength: 1,
              maxLength: 8192,
              description: 'Path to the memory storage JSONL file',
            },
          },
        },
        config_schema: { type: 'object', additionalProperties: false, properties: {} },
        egress: [],
      });
    });
  });
});
