import {
  type ConnectionDeletedEvent,
  type McpServerCreatedEvent,
  RegistryServerCreated,
  SandboxConnectionDeleted,
} from '@athenic/contracts';
import { BusClient, Handle } from '@athenic/messaging';
import {
  createTestInfrastructure,
  eventually,
  startTestBusService,
  type TestInfrastructure,
} from '@athenic/testing';
import { Controller, Inject, type INestMicroservice } from '@nestjs/common';
import { randomUUID } from 'node:crypto';

const SEEN = 'SEEN';

/** Two handlers of one service: one for every replica, one for the service as a whole. */
@Controller()
class Listener {
  constructor(@Inject(SEEN) private readonly seen: string[]) {}

  @Handle(RegistryServerCreated, { everyReplica: true })
  created(event: McpServerCreatedEvent): void {
    this.seen.push(`every:${event.id}`);
  }

  @Handle(SandboxConnectionDeleted)
  deleted(event: ConnectionDeletedEvent): void {
    this.seen.push(`one:${event.connection_id}`);
  }
}

// Events most handlers take once per service (its shared queue) and the few that every process
// must see (a cache, what it runs): three replicas of one service on a real RabbitMQ.
describe('events for every replica of a service', () => {
  let infra: TestInfrastructure;
  const replicas: { app: INestMicroservice; seen: string[] }[] = [];
  const emitters: BusClient[] = [];

  beforeAll(async () => {
    infra = await createTestInfrastructure('every-replica');
    for (let i = 0; i < 3; i++) {
      const seen: string[] = [];
      const app = await startTestBusService({
        owner: 'gateway',
        amqpUrl: infra.amqpUrl,
        controllers: [Listener],
        providers: [{ provide: SEEN, useValue: seen }],
      });
      replicas.push({ app, seen });
    }
  });

  afterAll(async () => {
    for (const bus of emitters) await bus.onApplicationShutdown();
    for (const { app } of replicas) await app.close();
    await infra?.dispose();
  });

  async function emitter(owner: 'registry' | 'sandbox'): Promise<BusClient> {
    const bus = new BusClient({ url: infra.amqpUrl, owner });
    await bus.connect();
    emitters.push(bus);
    return bus;
  }

  it('gives an everyReplica event to each replica once, and any other event to one of them', async () => {
    const registry = await emitter('registry');
    const sandbox = await emitter('sandbox');
    for (const id of ['a', 'b'])
      await registry.emit(RegistryServerCreated, { id, created_at: new Date(0).toISOString() });
    const ids = Array.from({ length: 6 }, () => randomUUID());
    for (const id of ids)
      await sandbox.emit(SandboxConnectionDeleted, {
        connection_id: id,
        account_id: 'acct',
        at: new Date(0).toISOString(),
      });
    await eventually(() => {
      for (const { seen } of replicas)
        expect(seen.filter((s) => s.startsWith('every:')).sort()).toEqual(['every:a', 'every:b']);
      const once = replicas.flatMap(({ seen }) => seen.filter((s) => s.startsWith('one:')));
      expect(once.sort()).toEqual(ids.map((id) => `one:${id}`).sort());
    });
  });

  it('stops delivering to a replica that closed (its queue goes with it)', async () => {
    const closed = replicas.pop()!;
    await closed.app.close();
    const before = closed.seen.length;
    const registry = await emitter('registry');
    await registry.emit(RegistryServerCreated, {
      id: 'late',
      created_at: new Date(0).toISOString(),
    });
    await eventually(() => {
      for (const { seen } of replicas) expect(seen).toContain('every:late');
    });
    expect(closed.seen).toHaveLength(before);
  });
});
