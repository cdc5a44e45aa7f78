import { type GetMcpServerQuery, type McpServerEntry, RegistryServerGet } from '@athenic/contracts';
import {
  BusClient,
  DEAD_LETTER_EXCHANGE,
  Handle,
  QUORUM_DELIVERY_LIMIT,
  serviceQueueArguments,
} from '@athenic/messaging';
import {
  createTestInfrastructure,
  eventually,
  RawAmqpClient,
  startTestBusService,
  type TestInfrastructure,
} from '@athenic/testing';
import { Controller, type INestMicroservice } from '@nestjs/common';
import * as amqp from 'amqplib';

@Controller()
class RegistryGetHandler {
  @Handle(RegistryServerGet)
  get(query: GetMcpServerQuery): McpServerEntry {
    return { id: query.id } as McpServerEntry;
  }
}

// BUS_QUEUE_TYPE=quorum (docs/adr/0009-quorum-queues.md) on a real RabbitMQ: the service's queue
// is a quorum queue that serves requests as the classic one does, and a message redelivered past
// the delivery limit (a handler that keeps killing its consumer) ends in the dead-letter queue.
describe('quorum queues for a cluster', () => {
  let infra: TestInfrastructure;
  let raw: RawAmqpClient;
  let app: INestMicroservice | undefined;
  let connection: amqp.ChannelModel;

  beforeAll(async () => {
    infra = await createTestInfrastructure('quorum');
    raw = await RawAmqpClient.connect(infra.amqpUrl);
    connection = await amqp.connect(infra.amqpUrl);
  });

  afterAll(async () => {
    await app?.close();
    await connection?.close().catch(() => undefined);
    await raw?.close();
    await infra?.dispose();
  });

  it('declares the service queue as a quorum queue that serves requests', async () => {
    app = await startTestBusService({
      owner: 'registry',
      amqpUrl: infra.amqpUrl,
      controllers: [RegistryGetHandler],
      queueType: 'quorum',
    });
    const bus = new BusClient({ url: infra.amqpUrl, owner: 'gateway', requestTimeoutMs: 5000 });
    await bus.connect();
    expect(await bus.send(RegistryServerGet, { id: 'q1' })).toEqual({ id: 'q1' });
    await bus.onApplicationShutdown();
    // Its type is fixed: declaring it as a classic queue is refused by the broker.
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    await expect(
      channel.assertQueue('registry-service', {
        durable: true,
        arguments: serviceQueueArguments('classic'),
      }),
    ).rejects.toThrow(/PRECONDITION_FAILED.*x-queue-type/);
  });

  it(`dead-letters a message redelivered more than ${QUORUM_DELIVERY_LIMIT} times`, async () => {
    await app?.close();
    app = undefined;
    const dead = await raw.tap(DEAD_LETTER_EXCHANGE, '#');
    // A consumer that dies with each delivery (its channel closes before any ack).
    raw.publish(RegistryServerGet.name, {
      pattern: RegistryServerGet.name,
      data: { id: 'poison' },
    });
    let deliveries = 0;
    for (let i = 0; i <= QUORUM_DELIVERY_LIMIT + 1 && dead.messages.length === 0; i++) {
      const channel = await connection.createChannel();
      const got = await channel.get('registry-service', { noAck: false });
      if (got) deliveries++;
      await channel.close();
    }
    await eventually(() => expect(dead.messages).toHaveLength(1));
    expect(deliveries).toBe(QUORUM_DELIVERY_LIMIT + 1);
    expect(dead.messages[0].headers['x-first-death-reason']).toBe('delivery_limit');
    expect(JSON.parse(dead.messages[0].body).data).toEqual({ id: 'poison' });
    await dead.close();
  });
});
