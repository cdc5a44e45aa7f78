import { EXIT_CONFIG } from '@athenic/config';
import { REPO_ROOT } from '@athenic/testing';
import { execFile } from 'node:child_process';
import * as path from 'node:path';

// A bad environment stops a service at once (EX_CONFIG) with a message naming the bad variable.
function start(
  service: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(REPO_ROOT, 'dist', 'apps', service, 'src', 'main.js')],
      { cwd: REPO_ROOT, env: { PATH: process.env.PATH, ...env }, timeout: 15000 },
      (error, _stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr }),
    );
  });
}

describe('start-up with a bad environment', () => {
  it('the gateway exits naming PORT when it is not a number', async () => {
    const { code, stderr } = await start('api-gateway', {
      PORT: 'eighty',
      SERVICE_ROLE_KEY: 'k'.repeat(40),
      INTERNAL_SECRET: 's'.repeat(40),
    });
    expect(code).toBe(EXIT_CONFIG);
    expect(stderr).toBe('api-gateway: Invalid environment: PORT: PORT must be an integer\n');
  });

  it('a service exits naming AMQP_URL when it is not an AMQP URL', async () => {
    const { code, stderr } = await start('registry-service', { AMQP_URL: 'http://127.0.0.1:5672' });
    expect(code).toBe(EXIT_CONFIG);
    expect(stderr).toContain(
      'registry-service: Invalid environment: AMQP_URL: AMQP_URL must be an amqp:// or amqps:// URL',
    );
  });

  it('the gateway refuses to start in production without its secrets, naming them', async () => {
    const { code, stderr } = await start('api-gateway', { NODE_ENV: 'production' });
    expect(code).toBe(EXIT_CONFIG);
    expect(stderr).toContain('SERVICE_ROLE_KEY, INTERNAL_SECRET must be set in production');
  });

  it('the sandbox service exits naming MCP_SESSIONS_PER_ACCOUNT when it is not a positive integer', async () => {
    const { code, stderr } = await start('sandbox-service', {
      MCP_SESSIONS_PER_ACCOUNT: '0',
      INTERNAL_SECRET: 's'.repeat(40),
    });
    expect(code).toBe(EXIT_CONFIG);
    expect(stderr).toBe(
      'sandbox-service: Invalid environment: MCP_SESSIONS_PER_ACCOUNT: MCP_SESSIONS_PER_ACCOUNT must not be less than 1\n',
    );
  });

  it('a service exits naming LOG_LEVEL when it is not a level', async () => {
    const { code, stderr } = await start('agent-runner', { LOG_LEVEL: 'loud' });
    expect(code).toBe(EXIT_CONFIG);
    expect(stderr).toContain(
      'agent-runner: Invalid environment: LOG_LEVEL: LOG_LEVEL must be one of the following values',
    );
  });
});
