import { EnvError } from '@athenic/config';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from './env';

describe('the sandbox service environment', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sandbox-env-spec-'));
  const load = (env: Record<string, string>) =>
    loadConfig({ INTERNAL_SECRET: 'x'.repeat(32), DATA_DIR: dataDir, ...env });

  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('caps the MCP sessions of an account at 256 by default, or at MCP_SESSIONS_PER_ACCOUNT', () => {
    expect(load({}).env.MCP_SESSIONS_PER_ACCOUNT).toBe(256);
    expect(load({ MCP_SESSIONS_PER_ACCOUNT: '3' }).env.MCP_SESSIONS_PER_ACCOUNT).toBe(3);
  });

  it('refuses an MCP_SESSIONS_PER_ACCOUNT that is not a positive integer, naming it', () => {
    for (const value of ['0', '-1', '1.5', '10k', 'many', '2000000']) {
      expect(() => load({ MCP_SESSIONS_PER_ACCOUNT: value })).toThrow(EnvError);
      expect(() => load({ MCP_SESSIONS_PER_ACCOUNT: value })).toThrow(
        /^Invalid environment: MCP_SESSIONS_PER_ACCOUNT: MCP_SESSIONS_PER_ACCOUNT must /,
      );
    }
  });
});
