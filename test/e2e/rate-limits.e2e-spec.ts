import {
  ApiClient,
  connectMcpClient,
  createTestInfrastructure,
  type TestInfrastructure,
  TestPlatform,
  waitForStatus,
} from '@athenic/testing';
import { randomUUID } from 'node:crypto';

// Rate limits at the gateway, counted in the machine's Redis, and the cap on an account's MCP
// sessions in the sandbox service (docs/security/limits.md).
describe('rate limits', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let admin: ApiClient;
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    infra = await createTestInfrastructure('ratelimits');
    platform = await new TestPlatform(infra, {
      env: {
        REDIS_URL: 'redis://127.0.0.1:6379',
        REDIS_KEY_PREFIX: `test-${randomUUID()}:`,
        RATE_LIMIT_REQUESTS_PER_MINUTE: '40',
        // The per-second spread is tested in apps/api-gateway/test/rate-limits.int-spec.ts.
        RATE_LIMIT_REQUESTS_PER_SECOND: '100000',
        RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '5',
        RATE_LIMIT_INSTALLS_PER_MINUTE: '2',
        RATE_LIMIT_AGENT_RUNS_PER_MINUTE: '2',
        MCP_SESSIONS_PER_ACCOUNT: '3',
        MCP_REQUESTS_IN_FLIGHT_PER_ACCOUNT: '1',
        MCP_REQUESTS_QUEUED_PER_ACCOUNT: '1',
      },
    }).start();
    admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    for (const account of [
      'acct-flood',
      'acct-quiet',
      'acct-install',
      'acct-agent',
      'acct-sessions',
      'acct-sessions-other',
      'acct-turns',
    ]) {
      const res = await admin.post('/functions/v1/api-keys', { account_id: account, name: 'k' });
      keys[account] = res.body.key;
    }
  });

  afterAll(async () => {
    await platform?.stop();
    await infra?.dispose();
  });

  it("limits one account's requests, REST and MCP alike, and leaves another account alone", async () => {
    const flood = admin.withKey(keys['acct-flood']);
    let limited: Awaited<ReturnType<ApiClient['get']>> | undefined;
    let served = 0;
    for (let i = 0; i < 60 && !limited; i++) {
      const res = await flood.get('/functions/v1/mcp-connections');
      if (res.status === 429) limited = res;
      else {
        expect(res.status).toBe(200);
        served += 1;
      }
    }
    expect(served).toBe(40);
    expect(limited!.body).toMatchObject({
      error: 'rate_limited',
      message: expect.stringContaining('more than 40 requests in a minute'),
    });
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
    // The MCP endpoint counts against the same account.
    const mcp = await flood.post(`/functions/v1/mcp-connections/${randomUUID()}/mcp`, {
      jsonrpc: '2.0',
      id: 1,
      method: 'ping',
    });
    expect(mcp.status).toBe(429);
    // Another account, and the service role, are served.
    expect(
      (await admin.withKey(keys['acct-quiet']).get('/functions/v1/mcp-connections')).status,
    ).toBe(200);
    expect((await admin.get('/functions/v1/mcp-connections?account_id=acct-flood')).status).toBe(
      200,
    );
  });

  it('limits installs and agent runs per account', async () => {
    const installer = admin.withKey(keys['acct-install']);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await installer.post('/functions/v1/mcp-connections/install', {
        mcp_server_id: 'no-such-server',
        title: 'x',
      });
      statuses.push(res.status);
      if (res.status === 429)
        expect(res.body.message).toContain('more than 2 installs in a minute');
    }
    expect(statuses).toEqual([404, 404, 429]);

    const runner = admin.withKey(keys['acct-agent']);
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await runner.post('/functions/v1/agent-runs', {
        messages: [{ role: 'user', content: 'hi' }],
      });
      runs.push(res.status);
    }
    // No model is configured here (503); the third start is refused before it is even tried.
    expect(runs[2]).toBe(429);
    expect(runs.slice(0, 2)).not.toContain(429);
  });

  it("forwards an account's MCP requests a few at a time (MCP_REQUESTS_IN_FLIGHT_PER_ACCOUNT): the next wait, past the queue 429", async () => {
    const { id } = await admin.install({
      mcp_server_id: 'everything-server',
      account_id: 'acct-turns',
      title: 'turns',
    });
    await waitForStatus(admin, id, 'mcpRunning');
    const client = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`,
      keys['acct-turns'],
      'turns',
    );
    // One in flight, one waiting, the third refused: each call takes seconds, so all three
    // are asked while the first is still running.
    const outcomes = await Promise.allSettled(
      [1, 2, 3].map(() =>
        client.callTool({
          name: 'trigger-long-running-operation',
          arguments: { duration: 4, steps: 1 },
        }),
      ),
    );
    const served = outcomes.filter((o) => o.status === 'fulfilled');
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(served).toHaveLength(2);
    for (const o of served)
      expect(JSON.stringify((o as PromiseFulfilledResult<unknown>).value)).toContain(
        'Long running operation completed',
      );
    expect(refused).toHaveLength(1);
    expect(String((refused[0] as PromiseRejectedResult).reason)).toMatch(
      /429[\s\S]*MCP_REQUESTS_IN_FLIGHT_PER_ACCOUNT/,
    );
    await client.close();
    await admin.delete(`/functions/v1/mcp-connections/${id}`);
  });

  // Before the authentication failures below, which block this address.
  it("caps an account's MCP sessions across its connections (MCP_SESSIONS_PER_ACCOUNT), and not another account's", async () => {
    const install = async (account: string, title: string) => {
      const { id } = await admin.install({
        mcp_server_id: 'memory-server',
        account_id: account,
        title,
      });
      return id as string;
    };
    const first = await install('acct-sessions', 'one');
    const second = await install('acct-sessions', 'two');
    const theirs = await install('acct-sessions-other', 'theirs');
    for (const id of [first, second, theirs]) await waitForStatus(admin, id, 'mcpRunning');
    const endpoint = (id: string) => `${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`;
    const headers = (account: string) => ({
      authorization: `Bearer ${keys[account]}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-06-18',
    });
    const initialize = (id: string, account = 'acct-sessions') =>
      fetch(endpoint(id), {
        method: 'POST',
        headers: headers(account),
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'cap' } },
        }),
      });
    const sessions: { id: string; session: string }[] = [];
    for (const id of [first, second, first]) {
      const res = await initialize(id);
      expect(res.status).toBe(200);
      sessions.push({ id, session: res.headers.get('mcp-session-id')! });
    }
    // The fourth, on either connection of the account, is refused.
    for (const id of [second, first]) {
      const refused = await initialize(id);
      expect(refused.status).toBe(429);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toContain(
        'this account may hold 3 at once across its connections (MCP_SESSIONS_PER_ACCOUNT)',
      );
    }
    // Another account's connection is served.
    expect((await initialize(theirs, 'acct-sessions-other')).status).toBe(200);
    // A session ended through the gateway gives its slot back.
    const ended = await fetch(endpoint(sessions[0].id), {
      method: 'DELETE',
      headers: { ...headers('acct-sessions'), 'mcp-session-id': sessions[0].session },
    });
    expect(ended.status).toBe(200);
    expect((await initialize(second)).status).toBe(200);
    for (const id of [first, second, theirs])
      await admin.delete(`/functions/v1/mcp-connections/${id}`);
  });

  it('makes an address that keeps failing to authenticate wait, before any key lookup', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await admin.withKey(`ak_${'x'.repeat(43)}`).get('/functions/v1/mcp-connections');
      statuses.push(res.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    // Even a good key waits now: the address is blocked, not the key.
    const blocked = await admin.withKey(keys['acct-quiet']).get('/functions/v1/mcp-servers');
    expect(blocked.status).toBe(429);
    expect(blocked.body.message).toContain('failed authentications');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
