import {
  ApiClient,
  connectMcpClient,
  createTestInfrastructure,
  eventually,
  EventStreamReader,
  FakeOpenAi,
  lastToolResult,
  resultText,
  type TestInfrastructure,
  TestPlatform,
  waitForRun,
  waitForStatus,
} from '@athenic/testing';

describe("agent runs over the account's MCP servers (AgentKit, a local OpenAI-compatible model)", () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let admin: ApiClient;
  const model = new FakeOpenAi([]);
  let memoryA: string;
  let memoryB: string;

  async function runToEnd(api: ApiClient, body: Record<string, unknown>) {
    const started = await api.post('/functions/v1/agent-runs', body);
    expect(started.status).toBe(202);
    expect(started.body).toEqual({ id: expect.any(String), status: 'queued' });
    return waitForRun(api, started.body.id);
  }

  beforeAll(async () => {
    await model.start();
    infra = await createTestInfrastructure('agents');
    platform = await new TestPlatform(infra, {
      env: {
        ...model.platformEnv(),
        // A tool that outlives this gives the model an error (the run goes on).
        TOOL_CALL_TIMEOUT_MS: '8000',
        // Long: a run's stream must get its steps live from the bus, not from its heartbeat's re-read.
        STREAM_HEARTBEAT_MS: '120000',
      },
    }).start();
    admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    const install = async (account: string) =>
      (
        await admin.install({
          mcp_server_id: 'memory-server',
          account_id: account,
          title: `memory of ${account}`,
        })
      ).id as string;
    [memoryA, memoryB] = [await install('acct-a'), await install('acct-b')];
    await waitForStatus(admin, memoryA, 'mcpRunning');
    await waitForStatus(admin, memoryB, 'mcpRunning');
  });

  afterAll(async () => {
    await platform?.stop();
    await infra?.dispose();
    await model.stop();
  });

  it('remembers something through the memory server: the entity really exists, seen by an independent client', async () => {
    model.play([
      () => ({
        toolCalls: [
          {
            name: '-create_entities',
            arguments: {
              entities: [
                { name: 'Ada', entityType: 'person', observations: ['wrote the first program'] },
              ],
            },
          },
        ],
      }),
      (request) => ({ content: `Done: ${lastToolResult(request).slice(0, 60)}` }),
    ]);
    const run = await runToEnd(admin, {
      account_id: 'acct-a',
      messages: [{ role: 'user', content: 'Remember that Ada wrote the first program.' }],
    });
    expect(run).toMatchObject({ status: 'completed', error: null, model: 'openai:gpt-test' });
    expect(run.output).toMatch(/^Done: /);
    expect(run.tool_calls).toEqual([
      {
        id: expect.stringMatching(/^[0-9]+$/),
        state: 'finished',
        connection_id: memoryA,
        tool: 'create_entities',
        arguments: {
          entities: [
            { name: 'Ada', entityType: 'person', observations: ['wrote the first program'] },
          ],
        },
        result: expect.anything(),
        is_error: false,
        duration_ms: expect.any(Number),
        started_at: expect.any(String),
      },
    ]);
    // The model saw the tools as <registry id>-<8 hex of the connection>-<tool>.
    const names = model.requests[0].tools!.map((t) => t.function.name);
    expect(names).toContain(
      `memory-server-${memoryA.replace(/-/g, '').slice(0, 8)}-create_entities`,
    );
    expect(
      names.every((n) => n.startsWith(`memory-server-${memoryA.replace(/-/g, '').slice(0, 8)}-`)),
    ).toBe(true);
    const client = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${memoryA}/mcp`,
      platform.serviceRoleKey,
    );
    expect(resultText(await client.callTool({ name: 'read_graph', arguments: {} }))).toContain(
      'wrote the first program',
    );
    await client.close();
  });

  it("keeps account B's run away from account A's tools, even when the model asks for them by name", async () => {
    const aTool = `memory-server-${memoryA.replace(/-/g, '').slice(0, 8)}-delete_entities`;
    model.play([
      () => ({ toolCalls: [{ name: aTool, arguments: { entityNames: ['Ada'] } }] }),
      (request) => ({ content: `Could not: ${lastToolResult(request)}` }),
    ]);
    const run = await runToEnd(admin, {
      account_id: 'acct-b',
      messages: [{ role: 'user', content: "Delete Ada from the other account's memory." }],
    });
    // The tool is not among B's: the model is told so, calls nothing, and the run goes on.
    expect(run).toMatchObject({ status: 'completed', error: null });
    expect(run.tool_calls).toEqual([
      {
        id: expect.any(String),
        state: 'refused',
        connection_id: null,
        tool: aTool,
        arguments: { entityNames: ['Ada'] },
        result: null,
        is_error: true,
        duration_ms: 0,
        started_at: expect.any(String),
      },
    ]);
    const bTools = model.requests[model.requests.length - 1].tools!.map((t) => t.function.name);
    expect(bTools.some((n) => n.includes(memoryA.replace(/-/g, '').slice(0, 8)))).toBe(false);
    // What the model was told (AgentKit hands a tool's answer over as {"data": ...}).
    const told = JSON.parse(run.output.slice('Could not: '.length)).data as string;
    expect(told).toMatch(
      new RegExp(
        `^Error: there is no tool named "${aTool}" in this run\\. The tools you may call: `,
      ),
    );
    expect(told).toContain(bTools[0]);
    const client = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${memoryA}/mcp`,
      platform.serviceRoleKey,
    );
    expect(resultText(await client.callTool({ name: 'read_graph', arguments: {} }))).toContain(
      'Ada',
    );
    await client.close();
    // Naming A's connection in B's run is refused at once, as for a connection that does not exist.
    const refused = await admin.post('/functions/v1/agent-runs', {
      account_id: 'acct-b',
      messages: [{ role: 'user', content: 'x' }],
      connection_ids: [memoryA],
    });
    expect(refused.status).toBe(404);
  });

  it('records a failing tool call with is_error and still completes the run', async () => {
    model.play([
      () => ({ toolCalls: [{ name: '-create_entities', arguments: { entities: 'not a list' } }] }),
      () => ({ content: 'That did not work.' }),
    ]);
    const run = await runToEnd(admin, {
      account_id: 'acct-a',
      messages: [{ role: 'user', content: 'Break something.' }],
      connection_ids: [memoryA],
    });
    expect(run.status).toBe('completed');
    expect(run.output).toBe('That did not work.');
    expect(run.tool_calls).toHaveLength(1);
    expect(run.tool_calls[0]).toMatchObject({ tool: 'create_entities', is_error: true });
  });

  it('fails the run with the reason when a requested connection is stopped', async () => {
    await admin.post(`/functions/v1/mcp-connections/${memoryB}/stop`);
    const run = await runToEnd(admin, {
      account_id: 'acct-b',
      messages: [{ role: 'user', content: 'Use my memory.' }],
      connection_ids: [memoryB],
    });
    expect(run.status).toBe('failed');
    expect(run.error).toContain('is mcpStopped');
    expect(run.tool_calls).toEqual([]);
  });

  it('fails the run with a clear reason when the model server is down', async () => {
    await model.stop();
    try {
      const run = await runToEnd(admin, {
        account_id: 'acct-a',
        messages: [{ role: 'user', content: 'Hello?' }],
      });
      expect(run.status).toBe('failed');
      expect(run.error).toContain('The model server could not be reached');
    } finally {
      await model.start();
    }
  });

  it('answers 503 saying what to set when the chosen model has no key', async () => {
    const res = await admin.post('/functions/v1/agent-runs', {
      account_id: 'acct-a',
      messages: [{ role: 'user', content: 'x' }],
      model: 'anthropic:claude-test',
    });
    expect(res.status).toBe(503);
    expect(res.body.message).toBe(
      'The model anthropic:claude-test needs ANTHROPIC_API_KEY; it is not set.',
    );
  });

  it("refuses a run beyond the account's concurrent runs until one finishes", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    model.play([
      async () => {
        await gate;
        return { content: 'done' };
      },
    ]);
    const start = (account: string) =>
      admin.post('/functions/v1/agent-runs', {
        account_id: account,
        messages: [{ role: 'user', content: 'wait' }],
      });
    const held: string[] = [];
    try {
      // Five at once are allowed (MAX_CONCURRENT_RUNS_PER_ACCOUNT's default), all started together.
      const first = await Promise.all(Array.from({ length: 6 }, () => start('acct-busy')));
      const statuses = first.map((r) => r.status).sort();
      expect(statuses).toEqual([202, 202, 202, 202, 202, 409]);
      const refused = first.find((r) => r.status === 409)!;
      expect(refused.body).toMatchObject({
        error: 'quota_exceeded',
        message: expect.stringContaining('MAX_CONCURRENT_RUNS_PER_ACCOUNT=5'),
      });
      held.push(...first.filter((r) => r.status === 202).map((r) => r.body.id as string));
      // Another account is not held up.
      const other = await start('acct-calm');
      expect(other.status).toBe(202);
      held.push(other.body.id);
    } finally {
      release();
    }
    for (const id of held)
      await eventually(
        async () => {
          const run = (await admin.get(`/functions/v1/agent-runs/${id}`)).body;
          expect(run.status).toBe('completed');
        },
        { timeoutMs: 30000, intervalMs: 200 },
      );
    // With its runs finished, the account may start again.
    expect((await start('acct-busy')).status).toBe(202);
  });

  it('serves buildMcpServersConfig to AgentKit users: run tokens open only the connections they name, only on the MCP endpoint', async () => {
    const res = await admin.get(
      `/functions/v1/mcp-connections/agent-config?account_id=acct-a&ttl_s=120`,
    );
    expect(res.status).toBe(200);
    expect(res.body.mcp_servers).toEqual([
      {
        name: `memory-server-${memoryA.replace(/-/g, '').slice(0, 8)}`,
        transport: {
          type: 'streamable-http',
          url: `http://localhost:${new URL(platform.baseUrl).port}/functions/v1/mcp-connections/${memoryA}/mcp`,
          requestInit: { headers: { Authorization: expect.stringMatching(/^Bearer rt_/) } },
        },
      },
    ]);
    expect(Date.parse(res.body.expires_at) - Date.now()).toBeLessThanOrEqual(120_000);
    const token = res.body.mcp_servers[0].transport.requestInit.headers.Authorization.slice(
      'Bearer '.length,
    );
    const client = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${memoryA}/mcp`,
      token,
    );
    expect((await client.listTools()).tools).toHaveLength(9);
    await client.close();
    const elsewhere = admin.withKey(token);
    expect((await elsewhere.get(`/functions/v1/mcp-connections/${memoryA}`)).status).toBe(401);
    expect((await elsewhere.get('/functions/v1/mcp-servers')).status).toBe(401);
    const other = await elsewhere.post(`/functions/v1/mcp-connections/${memoryB}/mcp`, {
      jsonrpc: '2.0',
      id: 1,
      method: 'ping',
    });
    expect(other.status).toBe(401);
    // A stopped connection named explicitly is refused with the reason.
    const stopped = await admin.get(
      `/functions/v1/mcp-connections/agent-config?account_id=acct-b&connection_ids=${memoryB}`,
    );
    expect(stopped.status).toBe(409);
    expect(stopped.body.error).toBe('connection_not_running');
  });

  it("masks the connection's secrets in what it stores of a run", async () => {
    const secret = `secret-${Date.now()}`;
    const { id } = await admin.install({
      mcp_server_id: 'everything-server',
      account_id: 'acct-a',
      title: 'everything',
      provided_credential_schema: { demo_secret: secret },
    });
    await waitForStatus(admin, id, 'mcpRunning');
    model.play([
      () => ({ toolCalls: [{ name: '-get-env', arguments: {} }] }),
      (request) => ({ content: `The environment: ${lastToolResult(request)}` }),
    ]);
    const run = await runToEnd(admin, {
      account_id: 'acct-a',
      messages: [{ role: 'user', content: 'Show the environment.' }],
      connection_ids: [id],
    });
    expect(run.status).toBe('completed');
    expect(run.tool_calls[0].tool).toBe('get-env');
    expect(JSON.stringify(run)).not.toContain(secret);
    expect(JSON.stringify(run.tool_calls[0].result)).toContain('[secret]');
    expect(run.output).toContain('[secret]');
    // Its stream (the same record, and the bus's progress events) carries no secret either.
    const stream = await EventStreamReader.open(
      `${platform.baseUrl}/functions/v1/agent-runs/${run.id}/stream`,
      platform.serviceRoleKey,
    );
    await stream.finished;
    expect(stream.events.map((e) => e.event)).toEqual([
      'run',
      'tool_call.started',
      'tool_call.finished',
      'run.finished',
    ]);
    expect(JSON.stringify(stream.events)).toContain('[secret]');
    expect(JSON.stringify(stream.events)).not.toContain(secret);
  });
  it('gives the model only the tools of the allow-list, and answers a call to another with a tool error', async () => {
    const prefix = `memory-server-${memoryA.replace(/-/g, '').slice(0, 8)}`;
    model.play([
      () => ({
        toolCalls: [{ name: `${prefix}-delete_entities`, arguments: { entityNames: ['Ada'] } }],
      }),
      () => ({ toolCalls: [{ name: '-read_graph', arguments: {} }] }),
      (request) => ({ content: `Graph: ${lastToolResult(request).slice(0, 200)}` }),
    ]);
    const run = await runToEnd(admin, {
      account_id: 'acct-a',
      messages: [{ role: 'user', content: 'Forget Ada, then show me the graph.' }],
      connection_ids: [memoryA],
      tools: ['read_*', `${prefix}-search_nodes`],
    });
    expect(run.status).toBe('completed');
    const offered = model.requests[model.requests.length - 1].tools!.map((t) => t.function.name);
    expect(offered.sort()).toEqual([`${prefix}-read_graph`, `${prefix}-search_nodes`].sort());
    expect(run.tool_calls.map((c: { state: string; tool: string }) => [c.state, c.tool])).toEqual([
      ['refused', `${prefix}-delete_entities`],
      ['finished', 'read_graph'],
    ]);
    expect(run.output).toContain('Ada');
    // Bad allow-lists are refused before anything runs.
    for (const tools of [
      [''],
      ['x'.repeat(201)],
      'read_*',
      Array.from({ length: 101 }, () => 'a'),
    ]) {
      const res = await admin.post('/functions/v1/agent-runs', {
        account_id: 'acct-a',
        messages: [{ role: 'user', content: 'x' }],
        tools,
      });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('validation_failed');
    }
  });

  it('gives the model an error when a tool outlives TOOL_CALL_TIMEOUT_MS, and the run goes on', async () => {
    const { id } = await admin.install({
      mcp_server_id: 'everything-server',
      account_id: 'acct-slow',
      title: 'slow tools',
    });
    await waitForStatus(admin, id, 'mcpRunning');
    model.play([
      () => ({
        toolCalls: [
          { name: '-trigger-long-running-operation', arguments: { duration: 120, steps: 2 } },
        ],
      }),
      (request) => ({ content: `Gave up: ${lastToolResult(request)}` }),
    ]);
    const run = await runToEnd(admin, {
      account_id: 'acct-slow',
      messages: [{ role: 'user', content: 'Run the long operation.' }],
    });
    expect(run.status).toBe('completed');
    expect(run.tool_calls).toEqual([
      expect.objectContaining({
        state: 'finished',
        tool: 'trigger-long-running-operation',
        is_error: true,
        result: [
          { type: 'text', text: expect.stringMatching(/^The tool call failed: .*timed out/i) },
        ],
      }),
    ]);
    expect(JSON.parse(run.output.slice('Gave up: '.length)).data).toMatch(
      /^Error: The tool call failed: .*timed out/i,
    );
  });

  it('streams a run as it happens: each tool call as it starts and ends, then the answer; resumable; only for its account', async () => {
    // The model waits twice: before it asks for the tool, and before it answers.
    let callTool!: () => void;
    let answer!: () => void;
    const toolGate = new Promise<void>((resolve) => (callTool = resolve));
    const answerGate = new Promise<void>((resolve) => (answer = resolve));
    const release = () => {
      callTool();
      answer();
    };
    model.play([
      async () => {
        await toolGate;
        return {
          toolCalls: [
            {
              name: '-create_entities',
              arguments: {
                entities: [{ name: 'Grace', entityType: 'person', observations: ['COBOL'] }],
              },
            },
          ],
        };
      },
      async (request) => {
        await answerGate;
        return { content: `Stored: ${lastToolResult(request).slice(0, 40)}` };
      },
    ]);
    const started = await admin.post('/functions/v1/agent-runs', {
      account_id: 'acct-a',
      messages: [{ role: 'user', content: 'Remember Grace.' }],
      connection_ids: [memoryA],
    });
    expect(started.status).toBe(202);
    const runId = started.body.id as string;
    const url = `${platform.baseUrl}/functions/v1/agent-runs/${runId}/stream`;
    const keyA = (
      await admin.post('/functions/v1/api-keys', { account_id: 'acct-a', name: 'stream' })
    ).body.key as string;
    const keyB = (
      await admin.post('/functions/v1/api-keys', { account_id: 'acct-b', name: 'stream' })
    ).body.key as string;
    const stream = await EventStreamReader.open(url, keyA);
    try {
      expect(stream.status).toBe(200);
      expect((await stream.next((e) => e.event === 'run')).data).toMatchObject({ id: runId });
      // The call happens after the stream opened: what follows is live, not the record.
      callTool();
      const start = await stream.next((e) => e.event === 'tool_call.started');
      expect(start.data).toMatchObject({ state: 'running', tool: 'create_entities', result: null });
      expect(start.id).toBe(`${start.data.id}.s`);
      const end = await stream.next((e) => e.event === 'tool_call.finished');
      expect(end.data).toMatchObject({ id: start.data.id, state: 'finished', is_error: false });
      expect(end.id).toBe(`${start.data.id}.f`);
      // The run is still waiting on the model: the stream has not ended.
      expect(stream.events.some((e) => e.event === 'run.finished')).toBe(false);
      answer();
      const done = await stream.next((e) => e.event === 'run.finished');
      expect(done.data).toEqual({
        status: 'completed',
        output: expect.stringMatching(/^Stored: /),
        error: null,
      });
      await stream.finished;
      // Each step once, in order.
      expect(stream.events.map((e) => e.event)).toEqual([
        'run',
        'tool_call.started',
        'tool_call.finished',
        'run.finished',
      ]);
      // Resumed after the call started: only what followed.
      const resumed = await EventStreamReader.open(url, keyA, { lastEventId: start.id! });
      await resumed.finished;
      expect(resumed.events.map((e) => e.event)).toEqual([
        'run',
        'tool_call.finished',
        'run.finished',
      ]);
    } finally {
      release();
      await stream.close();
    }
    // Another account's key: as for a run that does not exist.
    const foreign = await EventStreamReader.open(url, keyB);
    await foreign.finished;
    expect(foreign.status).toBe(404);
    expect(foreign.error).toMatchObject({ error: 'not_found' });
    const malformed = await EventStreamReader.open(
      `${platform.baseUrl}/functions/v1/agent-runs/not-a-uuid/stream`,
      keyA,
    );
    await malformed.finished;
    expect(malformed.status).toBeGreaterThanOrEqual(400);
    expect(malformed.status).toBeLessThan(500);
  });
  it("lists an account's runs, newest first, and only its own", async () => {
    const listed = await admin.get('/functions/v1/agent-runs?account_id=acct-a&limit=3');
    expect(listed.status).toBe(200);
    expect(listed.body.data).toHaveLength(3);
    const [newest] = listed.body.data;
    expect(newest).toEqual({
      id: expect.any(String),
      status: expect.stringMatching(/^(completed|failed|running|queued)$/),
      model: 'openai:gpt-test',
      message: expect.any(String),
      tool_calls: expect.any(Number),
      created_at: expect.any(String),
      finished_at: expect.anything(),
    });
    const times = listed.body.data.map((r: { created_at: string }) => Date.parse(r.created_at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const keyB = (
      await admin.post('/functions/v1/api-keys', { account_id: 'acct-b', name: 'list' })
    ).body.key as string;
    const mine = await admin.withKey(keyB).get('/functions/v1/agent-runs');
    expect(mine.status).toBe(200);
    expect(
      mine.body.data.every(
        (r: { id: string }) => !listed.body.data.some((a: { id: string }) => a.id === r.id),
      ),
    ).toBe(true);
    expect(
      (await admin.withKey(keyB).get('/functions/v1/agent-runs?account_id=acct-a')).status,
    ).toBe(403);
    expect((await admin.get('/functions/v1/agent-runs?account_id=acct-a&limit=1000')).status).toBe(
      400,
    );
  });
});
