import type { McpServerEntry } from '@athenic/contracts';
import type { InstalledPackage } from '@athenic/mcp-packages';
import { DeployError } from '../providers/sandbox-provider';
import { resolveLaunch } from './launch-resolver';

const installed: InstalledPackage = {
  name: '@example/server',
  version: '1.0.0',
  bins: ['example-server'],
  binPaths: { 'example-server': 'dist/index.js' },
  installDir: '/srv/mcp-packages/example',
  packageDir: '/srv/mcp-packages/example/node_modules/@example/server',
};

function entry(launch: McpServerEntry['launch']): McpServerEntry {
  return {
    id: 'example',
    name: 'Example',
    description: '',
    category: 'testing',
    transport: 'stdio',
    package: '@example/server',
    version: '1.0.0',
    launch,
    credential_schema: {},
    config_schema: {},
    egress: [],
    builtin: false,
    visibility: 'public',
    account_id: null,
    isolation: 'sandbox',
    deleted_at: null,
    created_at: '',
    updated_at: '',
  };
}

const paths = { workdir: '/work', packageRoot: '/pkg' };

describe('launch resolution', () => {
  it('runs the package bin through the launcher with credentials and config resolved', () => {
    const resolved = resolveLaunch({
      entry: entry({
        command: 'example-server',
        args: ['credential:url', '--mode', 'config:mode', 'workdir:data/db.json'],
        env: { TOKEN: 'credential:token', FILE: 'workdir:.', OPTIONAL: 'credential:missing' },
      }),
      installed,
      credentials: { url: 'postgresql://u:secret@h/db', token: 'tok' },
      config: { mode: 'fast' },
      paths,
    });
    expect(resolved).toEqual({
      program: {
        kind: 'script',
        path: '/pkg/node_modules/@example/server/dist/index.js',
        args: ['postgresql://u:secret@h/db', '--mode', 'fast', '/work/data/db.json'],
      },
      env: { TOKEN: 'tok', FILE: '/work' },
      files: [],
      packageInstallDir: '/srv/mcp-packages/example',
    });
  });

  it('takes a config value left out from its schema default, as text', () => {
    const resolved = resolveLaunch({
      entry: {
        ...entry({
          command: 'example-server',
          args: [],
          env: { PORT: 'config:port', TLS: 'config:tls', HOST: 'config:host', NONE: 'config:none' },
        }),
        config_schema: {
          properties: {
            port: { type: 'integer', default: 993 },
            tls: { type: 'boolean', default: true },
            host: { type: 'string' },
            none: { type: 'string' },
          },
        },
      },
      installed,
      credentials: {},
      config: { host: 'mail.example.com', tls: false },
      paths,
    });
    expect(resolved.env).toEqual({ PORT: '993', TLS: 'false', HOST: 'mail.example.com' });
  });

  it('writes a credential file into the working dir and passes its path', () => {
    const resolved = resolveLaunch({
      entry: entry({
        command: 'example-server',
        args: [],
        env: { CREDS: 'credential-file:oauth' },
      }),
      installed,
      credentials: { oauth: '{"access_token":"x"}' },
      config: {},
      paths,
    });
    expect(resolved.env).toEqual({ CREDS: '/work/.credentials/oauth' });
    expect(resolved.files).toEqual([
      { path: '.credentials/oauth', content: '{"access_token":"x"}' },
    ]);
  });

  it('turns a JSON headers credential into Name:Value pairs', () => {
    const resolved = resolveLaunch({
      entry: entry({
        command: 'example-server',
        args: [],
        env: { API_HEADERS: 'credential-headers:headers' },
      }),
      installed,
      credentials: { headers: JSON.stringify({ Authorization: 'Bearer abc:def', 'X-Key': 'k' }) },
      config: {},
      paths,
    });
    expect(resolved.env.API_HEADERS).toBe('Authorization:Bearer abc:def,X-Key:k');
  });

  it('uses real paths when there is no sandbox filesystem', () => {
    const resolved = resolveLaunch({
      entry: entry({ command: 'example-server', args: ['workdir:.'], env: {} }),
      installed,
      credentials: {},
      config: {},
      paths: { workdir: '/data/sandboxes/c1/work', packageRoot: '' },
    });
    expect(resolved.program).toEqual({
      kind: 'script',
      path: '/srv/mcp-packages/example/node_modules/@example/server/dist/index.js',
      args: ['/data/sandboxes/c1/work'],
    });
  });

  it('runs node directly for a command-only type', () => {
    const resolved = resolveLaunch({
      entry: {
        ...entry({ command: 'node', args: ['-e', 'process.exit(3)'], env: {} }),
        package: null,
        version: null,
      },
      installed: undefined,
      credentials: {},
      config: {},
      paths,
    });
    expect(resolved.program).toEqual({ kind: 'node', args: ['-e', 'process.exit(3)'] });
  });

  it('fails with a reason when an argument needs a missing value or the package is absent', () => {
    const needsArg = entry({ command: 'example-server', args: ['credential:url'], env: {} });
    expect(() =>
      resolveLaunch({ entry: needsArg, installed, credentials: {}, config: {}, paths }),
    ).toThrow(DeployError);
    expect(() =>
      resolveLaunch({
        entry: entry({ command: 'example-server', args: [], env: {} }),
        installed: undefined,
        credentials: {},
        config: {},
        paths,
      }),
    ).toThrow('The package @example/server@1.0.0 is not installed on this host');
  });
});
