// Request/reply round trip through the platform's messaging lib, beside raw amqplib RPC with
// direct reply-to, in the same run on the same broker. 1000 sequential calls each, after warm-up.
//   npm run build && node dist/bench/bus-rpc.js [calls]
import 'reflect-metadata';
import { type GetMcpServerQuery, type McpServerEntry, RegistryServerGet } from '@athenic/contracts';
import { BusClient, Handle } from '@athenic/messaging';
import { createTestInfrastructure, startTestBusService } from '@athenic/testing';
import { Controller } from '@nestjs/common';
import * as amqp from 'amqplib';
import { randomUUID } from 'node:crypto';
import { formatMs, summarize, timeSequential } from './stats';

const CALLS = Number(process.argv[2] ?? 1000);
const WARMUP = 200;

const ENTRY: McpServerEntry = {
  id: 'memory-server',
  name: 'Memory',
  description: '',
  category: 'knowledge',
  transport: 'stdio',
  package: null,
  version: null,
  launch: { command: 'node', args: [], env: {} },
  credential_schema: {},
  config_schema: {},
  egress: [],
  builtin: true,
  visibility: 'public',
  account_id: null,
  isolation: 'sandbox',
  deleted_at: null,
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
};

@Controller()
class EchoHandler {
  @Handle(RegistryServerGet)
  get(query: GetMcpServerQuery): McpServerEntry {
    return { ...ENTRY, id: query.id };
  }
}

async function rawRpc(
  url: string,
): Promise<{ call: () => Promise<unknown>; close: () => Promise<void> }> {
  const socket = { noDelay: true };
  const server = await amqp.connect(url, socket);
  const serverChannel = await server.createChannel();
  const queue = 'bench.raw-rpc';
  await serverChannel.assertQueue(queue, { durable: false, autoDelete: true });
  await serverChannel.consume(queue, (msg) => {
    if (!msg) return;
    const query = JSON.parse(msg.content.toString());
    serverChannel.sendToQueue(
      msg.properties.replyTo,
      Buffer.from(JSON.stringify({ ...ENTRY, id: query.id })),
      {
        correlationId: msg.properties.correlationId,
      },
    );
    serverChannel.ack(msg);
  });
  const client = await amqp.connect(url, socket);
  const channel = await client.createChannel();
  const waiting = new Map<string, (value: unknown) => void>();
  await channel.consume(
    'amq.rabbitmq.reply-to',
    (msg) => {
      if (!msg) return;
      waiting.get(msg.properties.correlationId)?.(JSON.parse(msg.content.toString()));
      waiting.delete(msg.properties.correlationId);
    },
    { noAck: true },
  );
  return {
    call: () =>
      new Promise((resolve) => {
        const id = randomUUID();
        waiting.set(id, resolve);
        channel.sendToQueue(queue, Buffer.from(JSON.stringify({ id: 'memory-server' })), {
          replyTo: 'amq.rabbitmq.reply-to',
          correlationId: id,
        });
      }),
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

async function main(): Promise<void> {
  const infra = await createTestInfrastructure('bench-bus');
  try {
    const raw = await rawRpc(infra.amqpUrl);
    const service = await startTestBusService({
      owner: 'registry',
      amqpUrl: infra.amqpUrl,
      controllers: [EchoHandler],
    });
    const bus = new BusClient({ url: infra.amqpUrl, owner: 'gateway', requestTimeoutMs: 5000 });
    await bus.connect();
    const lib = () => bus.send(RegistryServerGet, { id: 'memory-server' });

    await timeSequential(WARMUP, raw.call);
    await timeSequential(WARMUP, lib);
    // Blocks in the order raw, lib, raw, so drift in machine load affects both alike. (Switching
    // between the two every few calls slows whichever runs second: a cold path each time.)
    const rawSamples = await timeSequential(CALLS / 2, raw.call);
    const libSamples = await timeSequential(CALLS, lib);
    rawSamples.push(...(await timeSequential(CALLS / 2, raw.call)));
    const r = summarize(rawSamples);
    const l = summarize(libSamples);
    process.stdout.write(
      [
        `bus request/reply, ${CALLS} sequential calls each (after ${WARMUP} warm-up), same broker, same run`,
        `  raw amqplib RPC (direct reply-to, baseline): p50 ${formatMs(r.p50)}  p99 ${formatMs(r.p99)}  mean ${formatMs(r.mean)}`,
        `  platform messaging lib (validation, acks):   p50 ${formatMs(l.p50)}  p99 ${formatMs(l.p99)}  mean ${formatMs(l.mean)}`,
        `  ratio lib/raw: p50 ${(l.p50 / r.p50).toFixed(2)}x  p99 ${(l.p99 / r.p99).toFixed(2)}x  (target: p50 within 2x)`,
        '',
      ].join('\n'),
    );
    await bus.onApplicationShutdown();
    await service.close();
    await raw.close();
  } finally {
    await infra.dispose();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
