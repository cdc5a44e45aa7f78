// Install to first successful tool call through the gateway (memory-server, local provider),
// beside the bare server's spawn-to-initialize; then 20 concurrent installs across 5 accounts:
// time until all run, and memory per running connection. Same run, same machine.
//   npm run build && node dist/bench/install.js [installs]
import 'reflect-metadata';
import {
  ApiClient,
  connectMcpClient,
  createTestInfrastructure,
  RawAmqpClient,
  TestPlatform,
} from '@athenic/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { readFileSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { summarize } from './stats';
import { MEMORY_SERVER_ENTRY, runningAt } from './support';

const INSTALLS = Number(process.argv[2] ?? 10);

function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Resident memory of every process that belongs to a connection (bubblewrap and the server). */
function sandboxRssKiB(): { processes: number; kib: number } {
  let processes = 0;
  let kib = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'utf8').includes('ATHENIC_CONNECTION_ID='))
        continue;
    } catch {
      continue;
    }
    processes++;
    kib += rssKiB(Number(pid));
  }
  return { processes, kib };
}

async function main(): Promise<void> {
  const infra = await createTestInfrastructure('bench-install');
  const platform = await new TestPlatform(infra, {
    env: { LOG_LEVEL: 'info', MAX_SANDBOXES: '50', MAX_SANDBOXES_PER_ACCOUNT: '10' },
  }).start();
  const amqp = await RawAmqpClient.connect(infra.amqpUrl);
  const events = await amqp.tap('bus', 'sandbox.connection.status-changed');
  try {
    const api = new ApiClient(platform.baseUrl, platform.serviceRoleKey);

    // Baseline: spawn the bare server and complete initialize over stdio.
    const bare: number[] = [];
    for (let i = 0; i < INSTALLS; i++) {
      const started = performance.now();
      const client = new Client({ name: 'bench', version: '1' });
      await client.connect(
        new StdioClientTransport({
          command: process.execPath,
          args: [MEMORY_SERVER_ENTRY],
          env: { MEMORY_FILE_PATH: path.join(os.tmpdir(), `bench-bare-${i}.jsonl`) },
          stderr: 'ignore',
        }),
      );
      bare.push(performance.now() - started);
      await client.close();
    }

    // Install through the REST API, wait for mcpRunning, then the first tool call through the gateway.
    const total: number[] = [];
    const toRunning: number[] = [];
    for (let i = 0; i < INSTALLS; i++) {
      const started = performance.now();
      const startedWall = Date.now();
      const { id } = await api.install({
        mcp_server_id: 'memory-server',
        account_id: 'bench-seq',
        title: `seq ${i}`,
      });
      const running = await runningAt(events, id);
      toRunning.push(running - startedWall);
      const client = await connectMcpClient(
        `${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`,
        platform.serviceRoleKey,
      );
      await client.callTool({ name: 'read_graph', arguments: {} });
      total.push(performance.now() - started);
      await client.close();
      await api.delete(`/functions/v1/mcp-connections/${id}`);
    }

    // 20 concurrent installs across 5 accounts.
    const before = rssKiB(platform.service('sandbox-service').pid!);
    const startedAll = Date.now();
    const ids = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const installed = await api.install({
          mcp_server_id: 'memory-server',
          account_id: `bench-${i % 5}`,
          title: `concurrent ${i}`,
        });
        return installed.id as string;
      }),
    );
    const finished = await Promise.all(ids.map((id) => runningAt(events, id)));
    const allRunningMs = Math.max(...finished) - startedAll;
    await new Promise((r) => setTimeout(r, 500));
    const sandboxes = sandboxRssKiB();
    const after = rssKiB(platform.service('sandbox-service').pid!);

    const b = summarize(bare);
    const r = summarize(toRunning);
    const t = summarize(total);
    process.stdout.write(
      [
        `install (memory-server, local provider, bubblewrap), ${INSTALLS} installs one after another:`,
        `  bare server spawn -> initialize over stdio (baseline)       p50 ${b.p50.toFixed(0)} ms   p99 ${b.p99.toFixed(0)} ms`,
        `  REST install -> mcpRunning event                             p50 ${r.p50.toFixed(0)} ms   p99 ${r.p99.toFixed(0)} ms`,
        `  REST install -> first successful tool call via the gateway   p50 ${t.p50.toFixed(0)} ms   p99 ${t.p99.toFixed(0)} ms   (target: p50 under 1000 ms)`,
        `20 concurrent installs across 5 accounts:`,
        `  all 20 running after ${allRunningMs} ms`,
        `  sandbox processes: ${sandboxes.processes}, RSS ${(sandboxes.kib / 1024).toFixed(0)} MiB, ${(sandboxes.kib / 1024 / 20).toFixed(1)} MiB per connection`,
        `  sandbox-service RSS ${(before / 1024).toFixed(0)} -> ${(after / 1024).toFixed(0)} MiB (bridges: ${((after - before) / 1024 / 20).toFixed(1)} MiB per connection)`,
        '',
      ].join('\n'),
    );
  } finally {
    await events.close();
    await amqp.close();
    await platform.stop();
    await infra.dispose();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
