import type { CreateMcpServerCommand } from '@athenic/contracts';
import * as path from 'node:path';
import { BUILTIN_SERVERS } from './builtin-servers';
import { findInstalledPackage, splitPackageSpec } from '@athenic/mcp-packages';
import { checkServerType } from './server-type-rules';

const PACKAGES_DIR = path.resolve(__dirname, '../../../../mcp-packages');

function type(overrides: Partial<CreateMcpServerCommand> = {}): CreateMcpServerCommand {
  return {
    id: 'custom',
    name: 'Custom',
    description: '',
    category: 'testing',
    transport: 'stdio',
    launch: { command: 'node', args: [], env: {} },
    credential_schema: {
      type: 'object',
      additionalProperties: false,
      required: ['token'],
      properties: { token: { type: 'string', maxLength: 100, writeOnly: true } },
    },
    config_schema: {
      type: 'object',
      additionalProperties: false,
      properties: { url: { type: 'string' } },
    },
    egress: [],
    ...overrides,
  };
}

describe('server type rules', () => {
  it.each(BUILTIN_SERVERS.map((t) => [t.id, t] as const))(
    'the shipped type %s passes them with its package installed',
    async (_id, builtin) => {
      const { name, version } = splitPackageSpec(builtin.package!);
      const installed = await findInstalledPackage(PACKAGES_DIR, name);
      expect(installed).toMatchObject({ name, version });
      expect(checkServerType(builtin, installed)).toEqual([]);
    },
  );

  it('accepts references to declared keys', () => {
    const ok = type({
      launch: {
        command: 'node',
        args: ['config:url', 'workdir:data/x.json'],
        env: { TOKEN: 'credential:token' },
      },
    });
    expect(checkServerType(ok, undefined)).toEqual([]);
  });

  it('names a reference to an undeclared credential or config key', () => {
    const bad = type({
      launch: { command: 'node', args: ['config:nope'], env: { TOKEN: 'credential-file:missing' } },
    });
    expect(checkServerType(bad, undefined)).toEqual([
      'launch.args[0] refers to config "nope", which config_schema does not declare',
      'launch.env.TOKEN refers to credential "missing", which credential_schema does not declare',
    ]);
  });

  it('refuses a working-dir path that escapes the working dir', () => {
    const bad = type({
      launch: { command: 'node', args: ['workdir:../etc/passwd', 'workdir:/abs'], env: {} },
    });
    expect(checkServerType(bad, undefined)).toHaveLength(2);
  });

  it('refuses variables the sandbox sets or that change how Node loads code', () => {
    const bad = type({
      launch: {
        command: 'node',
        args: [],
        env: { NODE_OPTIONS: '--require x', LD_PRELOAD: 'x', PATH: '/tmp' },
      },
    });
    expect(checkServerType(bad, undefined)).toEqual([
      'launch.env.NODE_OPTIONS is set by the sandbox and cannot be overridden',
      'launch.env.LD_PRELOAD is set by the sandbox and cannot be overridden',
      'launch.env.PATH is set by the sandbox and cannot be overridden',
    ]);
  });

  it('requires credential schemas to refuse unknown keys and bound every value', () => {
    const bad = type({
      credential_schema: { type: 'object', properties: { token: { type: 'number' } } },
    });
    expect(checkServerType(bad, undefined)).toEqual([
      'credential_schema.additionalProperties must be false, so unknown keys are refused',
      'credential_schema.properties.token must have type "string"',
      'credential_schema.properties.token must set maxLength of at most 8192',
    ]);
  });

  it('refuses a schema that is not valid JSON Schema', () => {
    const bad = type({
      config_schema: {
        type: 'object',
        additionalProperties: false,
        properties: { url: { type: 'strin' } },
      },
    });
    expect(checkServerType(bad, undefined)[0]).toMatch(/^config_schema is not a valid JSON Schema/);
  });

  it("requires a host target's port field to exist beside it", () => {
    const schema = (host: Record<string, unknown>, port?: Record<string, unknown>) => ({
      type: 'object',
      additionalProperties: false,
      properties: { host: { type: 'string', ...host }, ...(port ? { port } : {}) },
    });
    const target = { 'x-egress-target': true, 'x-egress-port': 'port' };
    expect(
      checkServerType(type({ config_schema: schema(target, { type: 'integer' }) }), undefined),
    ).toEqual([]);
    expect(checkServerType(type({ config_schema: schema(target) }), undefined)).toEqual([
      'config_schema.properties.host.x-egress-port must name an integer or string property of config_schema',
    ]);
    expect(
      checkServerType(
        type({ config_schema: schema({ 'x-egress-port': 'port' }, { type: 'integer' }) }),
        undefined,
      ),
    ).toEqual(['config_schema.properties.host has x-egress-port but is not an x-egress-target']);
  });

  it('refuses redeclaring a platform setting', () => {
    const bad = type({
      config_schema: {
        type: 'object',
        additionalProperties: false,
        properties: { persistent_storage: { type: 'boolean' } },
      },
    });
    expect(checkServerType(bad, undefined)).toEqual([
      'config_schema.properties.persistent_storage is a platform setting and cannot be redeclared',
    ]);
  });

  it('requires the command to be an executable of the package, or node', async () => {
    const installed = await findInstalledPackage(
      PACKAGES_DIR,
      '@modelcontextprotocol/server-memory',
    );
    const bad = type({
      package: `@modelcontextprotocol/server-memory@${installed!.version}`,
      launch: { command: 'bash', args: [], env: {} },
    });
    expect(checkServerType(bad, installed)).toEqual([
      'launch.command must be "node" or an executable of @modelcontextprotocol/server-memory (mcp-server-memory)',
    ]);
  });

  it('refuses a package that is not installed', () => {
    expect(checkServerType(type({ package: 'left-pad@1.0.0' }), undefined)).toEqual([
      'package left-pad@1.0.0 is not installed; an operator installs it with "npm run mcp:add -- left-pad@1.0.0" first',
    ]);
  });
  describe('remote servers', () => {
    const remote = (overrides: Partial<CreateMcpServerCommand> = {}) =>
      type({
        transport: 'streamable-http',
        launch: undefined,
        remote: {
          url: 'https://{url}/mcp',
          headers: { Authorization: 'Bearer {credential:token}' },
        },
        ...overrides,
      });

    it('accepts a URL template and credential headers, with no package and no launch', () => {
      expect(checkServerType(remote(), undefined)).toEqual([]);
      expect(checkServerType(remote({ transport: 'sse' }), undefined)).toEqual([]);
    });

    it('refuses what belongs to stdio servers, and a remote part on a stdio one', () => {
      expect(
        checkServerType(
          remote({
            package: 'x@1.0.0',
            launch: { command: 'node', args: [], env: {} },
            egress: ['example.com'],
          }),
          undefined,
        ),
      ).toEqual([
        'package is for stdio servers; a streamable-http server has none',
        'launch is for stdio servers; a streamable-http server has none',
        'egress must be [] for a remote server: its URL is the one place it reaches',
      ]);
      expect(checkServerType(remote({ remote: undefined }), undefined)).toEqual([
        'remote is required for a streamable-http server',
      ]);
      expect(
        checkServerType(
          type({ remote: { url: 'https://example.com/mcp', headers: {} } }),
          undefined,
        ),
      ).toEqual(['remote is for "streamable-http" and "sse" servers, not stdio']);
      expect(checkServerType(type({ launch: undefined }), undefined)).toEqual([
        'launch is required for a stdio server',
      ]);
    });

    it('checks the template against the schemas', () => {
      expect(
        checkServerType(
          remote({
            remote: { url: 'https://{host}/mcp', headers: { 'X-Key': '{credential:key}' } },
          }),
          undefined,
        ),
      ).toEqual([
        'remote.url refers to config "host", which config_schema does not declare',
        'remote.headers.X-Key refers to credential "key", which credential_schema does not declare',
      ]);
    });
  });
});
