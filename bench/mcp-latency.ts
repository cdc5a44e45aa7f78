// Tool-call latency through the gateway's MCP endpoint, 1000 sequential calls of memory-server's
// read_graph, beside the same calls over stdio directly, through supergateway --stateful, and
// straight to the connection's bridge (to show what the gateway hop costs). Same run, same server.
//   npm run build && node dist/bench/mcp-latency.js [calls]
import 'reflect-metadata';
import { bridgeToken } from '@athenic/platform-crypto';
import {
  ApiClient,
  createTestInfrastructure,
  freePort,
  queryDatabase,
  TestPlatform,
  waitForStatus,
} from '@athenic/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import * as os from 'node:os';
import * as path from 'node:path';
import { summarize, timeSequential } from './stats';
import { MEMORY_SERVER_ENTRY, baselineBin, line, startProcess, waitForPort } from './support';

const CALLS = Number(process.argv[2] ?? 1000);
const WARMUP = 200;

const ROUNDS = 5;

/**
 * All paths are measured in rounds (each round a block of calls per path, in turn), so drift in
 * the machine's load affects them alike; the figures are over all rounds.
 */
async function measureAll(paths: { label: string; client: Client }[]): Promise<string[]> {
  const call = (client: Client) => () => client.callTool({ name: 'read_graph', arguments: {} });
  for (const path of paths) await timeSequential(WARMUP, call(path.client));
  const samples = paths.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, path] of paths.entries())
      samples[i].push(...(await timeSequential(Math.ceil(CALLS / ROUNDS), call(path.client))));
  }
  return paths.map((path, i) => line(path.label, summarize(samples[i])));
}

function http(url: string, token: string): StreamableHTTPClientTransport {
  return new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
}

async function main(): Promise<void> {
  const infra = await createTestInfrastructure('bench-mcp');
  const platform = await new TestPlatform(infra, { env: { LOG_LEVEL: 'info' } }).start();
  const results: string[] = [];
  try {
    const api = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    const { id } = await api.install({
      mcp_server_id: 'memory-server',
      account_id: 'bench',
      title: 'bench',
    });
    await waitForStatus(api, id, 'mcpRunning');

    const paths: { label: string; client: Client }[] = [];
    const direct = new Client({ name: 'bench', version: '1' });
    await direct.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [MEMORY_SERVER_ENTRY],
        env: { MEMORY_FILE_PATH: path.join(os.tmpdir(), `bench-direct-${process.pid}.jsonl`) },
        stderr: 'ignore',
      }),
    );
    paths.push({ label: 'SDK client -> stdio server directly (baseline)', client: direct });

    const port = await freePort();
    const sg = startProcess(
      process.execPath,
      [
        baselineBin('supergateway', 'dist/index.js'),
        '--stdio',
        `${process.execPath} ${MEMORY_SERVER_ENTRY}`,
        '--outputTransport',
        'streamableHttp',
        '--stateful',
        '--port',
        String(port),
        '--logLevel',
        'none',
      ],
      { MEMORY_FILE_PATH: path.join(os.tmpdir(), `bench-sg-${process.pid}.jsonl`) },
    );
    await waitForPort(port);
    const viaSupergateway = new Client({ name: 'bench', version: '1' });
    await viaSupergateway.connect(
      new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)),
    );
    paths.push({
      label: 'SDK client -> supergateway --stateful (baseline)',
      client: viaSupergateway,
    });

    const [{ bridge_url: bridgeUrl }] = await queryDatabase<{ bridge_url: string }>(
      infra.databaseUrl,
      'SELECT bridge_url FROM sandbox.connections WHERE id = $1',
      [id],
    );
    const toBridge = new Client({ name: 'bench', version: '1' });
    await toBridge.connect(http(bridgeUrl, bridgeToken(platform.internalSecret, id)));
    paths.push({ label: 'SDK client -> platform bridge -> bubblewrap server', client: toBridge });

    const viaGateway = new Client({ name: 'bench', version: '1' });
    await viaGateway.connect(
      http(`${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`, platform.serviceRoleKey),
    );
    paths.push({
      label: 'SDK client -> gateway MCP endpoint -> bridge -> server',
      client: viaGateway,
    });
    try {
      results.push(...(await measureAll(paths)));
    } finally {
      await Promise.all(paths.map((p) => p.client.close()));
      sg.kill('SIGKILL');
    }

    process.stdout.write(
      [
        `MCP tool call (memory-server read_graph), ${CALLS} sequential calls each after ${WARMUP} warm-up, same run:`,
        ...results,
        '',
      ].join('\n'),
    );
  } finally {
    await platform.stop();
    await infra.dispose();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
