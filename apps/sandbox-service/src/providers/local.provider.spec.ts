import { EgressGuard } from '@athenic/egress';
import { SessionBudget } from '@athenic/mcp-bridge';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../config/env';
import { BridgeHost } from './bridge-host';
import { LocalProvider } from './local.provider';
import { DeployError } from './sandbox-provider';

// Fail closed: which isolation the local provider reports, and what it refuses, with bubblewrap
// usable and not (a PATH without bwrap), in production and in development.
describe('LocalProvider isolation', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-provider-spec-'));
  const savedPath = process.env.PATH;
  const guard = new EgressGuard({ openings: [] });

  const provider = (env: Record<string, string>) =>
    new LocalProvider(
      loadConfig({ INTERNAL_SECRET: 'x'.repeat(32), DATA_DIR: dataDir, ...env }),
      new BridgeHost(),
      guard,
      new SessionBudget({ limit: 256 }),
    );

  afterEach(() => {
    process.env.PATH = savedPath;
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('refuses to run servers unisolated in production, naming the opt-out', async () => {
    process.env.PATH = '/nonexistent';
    const local = provider({ NODE_ENV: 'production' });
    expect(local.isolation).toBe('none');
    expect(local.isolationHealth()).toEqual({
      status: 'error',
      error: expect.stringContaining('ALLOW_UNISOLATED_SANDBOXES=true'),
    });
    const started = local.start(
      {
        connectionId: '00000000-0000-4000-8000-000000000001',
        accountId: 'acct',
        packageInstallDir: null,
        program: { kind: 'node', args: ['-e', ''] },
        env: {},
        files: [],
        egress: [],
        egressTargets: [],
        persistentStorage: false,
      },
      1000,
      { onLog: () => undefined, onExit: () => undefined },
      new AbortController().signal,
    );
    await expect(started).rejects.toThrow(DeployError);
    await expect(started).rejects.toThrow('ALLOW_UNISOLATED_SANDBOXES=true');
  });

  it('runs them unisolated, and says so, when production opts out or outside production', () => {
    process.env.PATH = '/nonexistent';
    for (const env of <Record<string, string>[]>[
      { NODE_ENV: 'production', ALLOW_UNISOLATED_SANDBOXES: 'true' },
      { NODE_ENV: 'development' },
    ]) {
      expect(provider(env).isolationHealth()).toEqual({
        status: 'ok',
        detail: 'none: servers run unisolated (bwrap is not installed)',
      });
    }
  });

  it('reports bubblewrap with its network namespace, egress proxy and per-sandbox uid when usable', () => {
    const health = provider({ NODE_ENV: 'production' }).isolationHealth();
    expect(health.status).toBe('ok');
    expect(health.detail).toMatch(
      /^bubblewrap: an own network namespace and egress proxy per sandbox/,
    );
    if (process.getuid?.() === 0) expect(health.detail).toContain('a uid per sandbox');
  });
});
