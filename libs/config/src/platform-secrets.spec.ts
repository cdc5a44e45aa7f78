import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolvePlatformSecrets } from './platform-secrets';

const NAMES = ['SERVICE_ROLE_KEY', 'CREDENTIAL_KEYS', 'INTERNAL_SECRET'] as const;

describe('platform secrets', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'secrets-'));
    file = path.join(dir, 'data', 'secrets.json');
  });

  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('are generated once outside production into a file only the owner can read, then reused', () => {
    const first = resolvePlatformSecrets({
      names: NAMES,
      nodeEnv: 'development',
      file,
      provided: {},
    });
    expect(first.file).toBe(file);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(first.secrets.SERVICE_ROLE_KEY).toMatch(/^sk_service_/);
    expect(first.secrets.CREDENTIAL_KEYS).toMatch(/^v1:[A-Za-z0-9+/]{43}=$/);
    const second = resolvePlatformSecrets({
      names: NAMES,
      nodeEnv: 'development',
      file,
      provided: {},
    });
    expect(second.secrets).toEqual(first.secrets);
  });

  it('prefer values from the environment and then touch no file', () => {
    const provided = { SERVICE_ROLE_KEY: 'k'.repeat(40), INTERNAL_SECRET: 's'.repeat(40) };
    const result = resolvePlatformSecrets({
      names: ['SERVICE_ROLE_KEY', 'INTERNAL_SECRET'],
      nodeEnv: 'development',
      file,
      provided,
    });
    expect(result).toEqual({ secrets: provided, file: undefined });
    expect(fs.existsSync(file)).toBe(false);
  });

  it('are required in production, naming the missing ones', () => {
    expect(() =>
      resolvePlatformSecrets({
        names: NAMES,
        nodeEnv: 'production',
        file,
        provided: { SERVICE_ROLE_KEY: 'k'.repeat(40) },
      }),
    ).toThrow('CREDENTIAL_KEYS, INTERNAL_SECRET must be set in production');
  });

  it('refuse a malformed value without echoing it', () => {
    const call = () =>
      resolvePlatformSecrets({
        names: ['CREDENTIAL_KEYS'],
        nodeEnv: 'development',
        file,
        provided: { CREDENTIAL_KEYS: 'v1:tooshort' },
      });
    expect(call).toThrow(/CREDENTIAL_KEYS \(from the environment\) must be a comma-separated list/);
    expect(call).not.toThrow(/tooshort/);
  });

  it('refuse a secrets file other users can read', () => {
    resolvePlatformSecrets({ names: NAMES, nodeEnv: 'development', file, provided: {} });
    fs.chmodSync(file, 0o644);
    expect(() =>
      resolvePlatformSecrets({ names: NAMES, nodeEnv: 'development', file, provided: {} }),
    ).toThrow(/readable by other users/);
  });
});
