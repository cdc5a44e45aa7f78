// The platform's own overhead of an agent run with 3 tool calls (the run's time minus the fake
// model's time), beside the same 3 calls made directly over stdio and through the gateway.
//   npm run build && node dist/bench/agent-run.js [runs]
import 'reflect-metadata';
import {
  ApiClient,
  connectMcpClient,
  createTestInfrastructure,
  FakeOpenAi,
  TestPlatform,
  waitForStatus,
} from '@athenic/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import * as os from 'node:os';
import * as path from 'node:path';
import { summarize } from './stats';
import { MEMORY_SERVER_ENTRY } from './support';

const RUNS = Number(process.argv[2] ?? 10);
const call = () => ({ toolCalls: [{ name: '-read_graph', arguments: {} }] });

async function threeCalls(client: Client): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < 3; i++) await client.callTool({ name: 'read_graph', arguments: {} });
  return performance.now() - started;
}

async function main(): Promise<void> {
  const model = await new FakeOpenAi([]).start();
  const infra = await createTestInfrastructure('bench-agent');
  const platform = await new TestPlatform(infra, {
    env: {
      LOG_LEVEL: 'info',
      AGENT_MODEL: 'openai:bench',
      OPENAI_API_KEY: model.apiKey,
      OPENAI_BASE_URL: model.baseUrl,
    },
  }).start();
  try {
    const api = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    const { id } = await api.install({
      mcp_server_id: 'memory-server',
      account_id: 'bench',
      title: 'bench',
    });
    await waitForStatus(api, id, 'mcpRunning');

    const overhead: number[] = [];
    const totals: number[] = [];
    for (let i = 0; i < RUNS + 2; i++) {
      model.play([call, call, call, () => ({ content: 'done' })]);
      const before = model.timings.length;
      const started = performance.now();
      const run = (
        await api.post('/functions/v1/agent-runs', {
          account_id: 'bench',
          messages: [{ role: 'user', content: 'read the graph three times' }],
        })
      ).body;
      let view;
      do {
        await new Promise((r) => setTimeout(r, 5));
        view = (await api.get(`/functions/v1/agent-runs/${run.id}`)).body;
      } while (view.status === 'queued' || view.status === 'running');
      const total = performance.now() - started;
      if (view.status !== 'completed' || view.tool_calls.length !== 3)
        throw new Error(`run ${run.id}: ${view.status} ${view.error}`);
      const modelMs = model.timings.slice(before).reduce((a, b) => a + b, 0);
      if (i >= 2) {
        totals.push(total);
        overhead.push(total - modelMs);
      }
    }

    const direct = new Client({ name: 'bench', version: '1' });
    await direct.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [MEMORY_SERVER_ENTRY],
        env: { MEMORY_FILE_PATH: path.join(os.tmpdir(), `bench-agent-${process.pid}.jsonl`) },
        stderr: 'ignore',
      }),
    );
    const viaGateway = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`,
      platform.serviceRoleKey,
    );
    const directSums: number[] = [];
    const gatewaySums: number[] = [];
    for (let i = 0; i < RUNS + 2; i++) {
      directSums.push(await threeCalls(direct));
      gatewaySums.push(await threeCalls(viaGateway));
    }
    await direct.close();
    await viaGateway.close();
    const t = summarize(totals);
    const o = summarize(overhead);
    const d = summarize(directSums.slice(2));
    const g = summarize(gatewaySums.slice(2));
    process.stdout.write(
      [
        `agent run with 3 tool calls (memory-server read_graph), fake model, ${RUNS} runs after 2 warm-up:`,
        `  3 calls directly over stdio (baseline)              p50 ${d.p50.toFixed(1)} ms`,
        `  3 calls through the gateway's MCP endpoint          p50 ${g.p50.toFixed(1)} ms`,
        `  whole run, REST start to completed (polled 5 ms)    p50 ${t.p50.toFixed(1)} ms   p99 ${t.p99.toFixed(1)} ms`,
        `  platform overhead (run minus model time)            p50 ${o.p50.toFixed(1)} ms   p99 ${o.p99.toFixed(1)} ms`,
        '',
      ].join('\n'),
    );
  } finally {
    await platform.stop();
    await infra.dispose();
    await model.stop();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
