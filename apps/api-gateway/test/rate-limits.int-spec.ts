import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { loadConfig } from '../src/config/env';
import { RateLimitedError, RateLimits } from '../src/limits/rate-limits';

// The gateway's rate limits against a real Redis (the one on 127.0.0.1:6379), as two gateway
// replicas would use them, and with a Redis that does not answer.
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

function limits(env: Record<string, string>): RateLimits {
  return new RateLimits(
    loadConfig({
      NODE_ENV: 'test',
      SERVICE_ROLE_KEY: 'k'.repeat(40),
      INTERNAL_SECRET: 's'.repeat(40),
      RATE_LIMIT_REQUESTS_PER_MINUTE: '5',
      RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '3',
      RATE_LIMIT_INSTALLS_PER_MINUTE: '2',
      ...env,
    }),
  );
}

async function takeUntilLimited(l: RateLimits, name: 'requests', key: string): Promise<number> {
  let taken = 0;
  while ((await l.take(name, key)) === undefined) taken += 1;
  return taken;
}

describe('RateLimits', () => {
  const opened: RateLimits[] = [];
  const make = (env: Record<string, string> = {}) => {
    const l = limits(env);
    opened.push(l);
    return l;
  };
  afterAll(async () => {
    await Promise.all(opened.map((l) => l.onApplicationShutdown()));
  });

  it('in process: counts per key, then says how long to wait', async () => {
    const l = make();
    expect(await takeUntilLimited(l, 'requests', 'acct-a')).toBe(5);
    const wait = await l.take('requests', 'acct-a');
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(60);
    // Another account is not affected.
    expect(await l.take('requests', 'acct-b')).toBeUndefined();
  });

  it('spreads requests over seconds as well (RATE_LIMIT_REQUESTS_PER_SECOND)', async () => {
    const l = make({ RATE_LIMIT_REQUESTS_PER_SECOND: '3' });
    for (let i = 0; i < 3; i++)
      expect(await l.take('requestsPerSecond', 'acct-s1')).toBeUndefined();
    expect(await l.take('requestsPerSecond', 'acct-s1')).toBe(1);
  });

  it('takeRequest counts both windows at once and names the one that refused', async () => {
    const l = make({ RATE_LIMIT_REQUESTS_PER_SECOND: '3' });
    for (let i = 0; i < 3; i++) expect(await l.takeRequest('acct-u1')).toBeUndefined();
    const refused = await l.takeRequest('acct-u1');
    expect(refused).toEqual({
      limit: 'requestsPerSecond',
      wait: 1,
      reopensInMs: expect.any(Number),
    });
    expect(refused!.reopensInMs).toBeLessThanOrEqual(1000);
    // The refused request counted in the minute as well: 4 of 5, one left.
    await new Promise((r) => setTimeout(r, 1100));
    expect(await l.takeRequest('acct-u1')).toBeUndefined();
    const refusal = await l.takeRequest('acct-u1');
    expect(refusal?.limit).toBe('requests');
    expect(refusal?.wait).toBeGreaterThan(1);
  });

  it('blocks an address locally once it failed to authenticate too often', async () => {
    const l = make();
    expect(l.blockedFor('10.0.0.9')).toBeUndefined();
    for (let i = 0; i < 3; i++) expect(await l.take('authFailures', '10.0.0.9')).toBeUndefined();
    expect(await l.take('authFailures', '10.0.0.9')).toBeGreaterThan(0);
    expect(l.blockedFor('10.0.0.9')).toBeGreaterThan(0);
    expect(l.blockedFor('10.0.0.10')).toBeUndefined();
  });

  it('enforce() throws a 429 error naming the limit, with the wait', async () => {
    const l = make();
    await l.enforce('installs', 'acct-i', 'installs');
    await l.enforce('installs', 'acct-i', 'installs');
    const error = await l.enforce('installs', 'acct-i', 'installs').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).code).toBe('rate_limited');
    expect((error as RateLimitedError).message).toContain('more than 2 installs in a minute');
    expect((error as RateLimitedError).retryAfterS).toBeGreaterThan(0);
  });

  it('with Redis: two replicas share one count', async () => {
    const prefix = `test-${randomUUID()}:`;
    const a = make({ REDIS_URL, REDIS_KEY_PREFIX: prefix });
    const b = make({ REDIS_URL, REDIS_KEY_PREFIX: prefix });
    // Wait for both to be connected, so nothing falls back to the in-process counters.
    for (const l of [a, b])
      while (!(l as unknown as { redis: { status: string } }).redis.status.startsWith('ready'))
        await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 3; i++) expect(await a.take('requests', 'acct-r')).toBeUndefined();
    for (let i = 0; i < 2; i++) expect(await b.take('requests', 'acct-r')).toBeUndefined();
    expect(await a.take('requests', 'acct-r')).toBeGreaterThan(0);
    expect(await b.take('requests', 'acct-r')).toBeGreaterThan(0);
    // Both windows of a request, counted together, are shared as well.
    for (let i = 0; i < 5; i++)
      expect(await (i % 2 ? a : b).takeRequest('acct-r2')).toBeUndefined();
    expect((await a.takeRequest('acct-r2'))?.limit).toBe('requests');
  });

  describe('with a Redis that does not answer', () => {
    let silent: Server;
    let port: number;
    beforeAll(async () => {
      // Accepts connections and never says a word.
      silent = createServer(() => undefined);
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      port = (silent.address() as { port: number }).port;
    });
    afterAll(async () => {
      for (const l of opened.splice(0)) await l.onApplicationShutdown();
      await new Promise((r) => silent.close(r));
    });

    it('counts on this replica instead, never hanging a request', async () => {
      const l = make({ REDIS_URL: `redis://127.0.0.1:${port}` });
      expect(await takeUntilLimited(l, 'requests', 'acct-s')).toBe(5);
      expect(await l.take('requests', 'acct-s')).toBeGreaterThan(0);
      expect((await l.takeRequest('acct-s'))?.limit).toBe('requests');
    });
  });
});
