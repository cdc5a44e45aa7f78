import {
  DomainError,
  type GetMcpServerQuery,
  type McpServerCreatedEvent,
  type McpServerEntry,
  RegistryServerCreated,
  RegistryServerGet,
  SandboxHealthGet,
  type ServiceHealthReply,
} from '@athenic/contracts';
import { BusClient, DEAD_LETTER_QUEUE, Handle, RETRY_DELAY_MS } from '@athenic/messaging';
import {
  createTestInfrastructure,
  eventually,
  RawAmqpClient,
  startTestBusService,
  type TestInfrastructure,
} from '@athenic/testing';
import { Controller, Inject, type INestMicroservice } from '@nestjs/common';

/** What the test handlers saw, and how the next call should behave. */
class Recorder {
  calls: { name: string; payload: unknown }[] = [];
  behaviour: (payload: any) => Promise<unknown> | unknown = () => undefined;
}
const RECORDER = 'RECORDER';

function entry(id: string): McpServerEntry {
  return {
    id,
    name: id,
    description: '',
    category: 'testing',
    transport: 'stdio',
    package: null,
    version: null,
    launch: { command: 'node', args: [], env: {} },
    credential_schema: {},
    config_schema: {},
    egress: [],
    builtin: false,
    visibility: 'public',
    account_id: null,
    isolation: 'sandbox',
    deleted_at: null,
    created_at: new Date(0).toISOString(),
    updated_at: new Date(0).toISOString(),
  };
}

@Controller()
class RegistryGetHandler {
  constructor(@Inject(RECORDER) private readonly recorder: Recorder) {}

  @Handle(RegistryServerGet)
  async get(query: GetMcpServerQuery): Promise<McpServerEntry> {
    this.recorder.calls.push({ name: RegistryServerGet.name, payload: query });
    await this.recorder.behaviour(query);
    return entry(query.id);
  }
}

@Controller()
class ServerCreatedListener {
  constructor(@Inject(RECORDER) private readonly recorder: Recorder) {}

  @Handle(RegistryServerCreated)
  async created(event: McpServerCreatedEvent): Promise<void> {
    this.recorder.calls.push({ name: RegistryServerCreated.name, payload: event });
    await this.recorder.behaviour(event);
  }
}

/** A sandbox-service handler that asks the registry in turn, willing to wait 10 s for it. */
@Controller()
class NestingHandler {
  constructor(
    private readonly bus: BusClient,
    @Inject(RECORDER) private readonly recorder: Recorder,
  ) {}

  @Handle(SandboxHealthGet)
  async health(): Promise<ServiceHealthReply> {
    const inner = await this.bus
      .send(RegistryServerGet, { id: 'nested' }, { timeoutMs: 10_000 })
      .then(
        () => 'answered',
        (error: unknown) => (error as DomainError).code,
      );
    this.recorder.calls.push({ name: 'inner', payload: inner });
    return { service: 'sandbox-service', status: 'ok', checks: [] };
  }
}

describe('the bus (libs/messaging on a real RabbitMQ)', () => {
  let infra: TestInfrastructure;
  let raw: RawAmqpClient;
  const apps: INestMicroservice[] = [];

  async function service(
    owner: 'registry' | 'sandbox' | 'credential' | 'gateway',
    controllers: any[],
    recorder = new Recorder(),
  ) {
    const app = await startTestBusService({
      owner,
      amqpUrl: infra.amqpUrl,
      controllers,
      providers: [{ provide: RECORDER, useValue: recorder }],
    });
    apps.push(app);
    return { app, recorder };
  }

  async function client(
    owner: 'gateway' | 'registry',
    requestTimeoutMs = 2000,
  ): Promise<BusClient> {
    const bus = new BusClient({ url: infra.amqpUrl, owner, requestTimeoutMs });
    await bus.connect();
    closers.push(() => bus.onApplicationShutdown());
    return bus;
  }
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    infra = await createTestInfrastructure('bus');
    raw = await RawAmqpClient.connect(infra.amqpUrl);
  });

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await Promise.all(closers.splice(0).map((close) => close()));
    await raw.drain(DEAD_LETTER_QUEUE).catch(() => undefined);
  });

  afterAll(async () => {
    await raw?.close();
    await infra?.dispose();
  });

  it('delivers a typed request to the owner and its typed reply back', async () => {
    const { recorder } = await service('registry', [RegistryGetHandler]);
    const bus = await client('gateway');
    const reply = await bus.send(RegistryServerGet, { id: 'memory-server' });
    expect(reply.id).toBe('memory-server');
    expect(recorder.calls).toEqual([
      { name: 'registry.server.get', payload: { id: 'memory-server' } },
    ]);
  });

  it('carries a domain error across the bus with its code and message', async () => {
    const recorder = new Recorder();
    recorder.behaviour = () => {
      throw new DomainError('not_found', 'No such thing.');
    };
    await service('registry', [RegistryGetHandler], recorder);
    const bus = await client('gateway');
    await expect(bus.send(RegistryServerGet, { id: 'x1' })).rejects.toEqual(
      new DomainError('not_found', 'No such thing.'),
    );
  });

  it('copies one event to the queues of two different services', async () => {
    const sandbox = await service('sandbox', [ServerCreatedListener]);
    const credential = await service('credential', [ServerCreatedListener]);
    const registry = await client('registry');
    await registry.emit(RegistryServerCreated, {
      id: 'echo',
      created_at: '2026-01-01T00:00:00.000Z',
    });
    await eventually(() => {
      expect(sandbox.recorder.calls).toEqual([
        {
          name: 'registry.server.created',
          payload: { id: 'echo', created_at: '2026-01-01T00:00:00.000Z' },
        },
      ]);
      expect(credential.recorder.calls).toEqual(sandbox.recorder.calls);
    });
  });

  it('dead-letters an invalid payload with a reason, and the next valid message is still processed', async () => {
    const { recorder } = await service('registry', [RegistryGetHandler]);
    raw.publish('registry.server.get', {
      pattern: 'registry.server.get',
      id: 'a1',
      data: { id: 42, extra: true },
    });
    const reply = await raw.request('registry.server.get', { id: 'after-invalid' });
    expect(reply.response.id).toBe('after-invalid');
    expect(recorder.calls.map((c) => c.payload)).toEqual([{ id: 'after-invalid' }]);
    const dead = await eventually(async () => {
      const letters = await raw.drain(DEAD_LETTER_QUEUE);
      expect(letters).toHaveLength(1);
      return letters[0];
    });
    expect(dead.routingKey).toBe('registry.server.get');
    expect(dead.headers['x-dead-letter-service']).toBe('registry-service');
    expect(dead.headers['x-dead-letter-reason']).toContain('invalid registry.server.get payload');
    expect(dead.headers['x-dead-letter-reason']).toContain('extra is not a known field');
  });

  it('answers a request with an invalid payload at once with validation_failed naming the field', async () => {
    await service('registry', [RegistryGetHandler]);
    const reply = await raw.request('registry.server.get', { id: '' });
    expect(reply.err).toEqual({
      code: 'validation_failed',
      message:
        'Invalid registry.server.get payload: id must be longer than or equal to 1 characters.',
      details: ['id must be longer than or equal to 1 characters'],
    });
  });

  it('dead-letters a body that is not JSON and keeps consuming', async () => {
    const { recorder } = await service('registry', [RegistryGetHandler]);
    raw.publish('registry.server.get', Buffer.from('{not json'));
    await raw.request('registry.server.get', { id: 'after-garbage' });
    expect(recorder.calls).toHaveLength(1);
    const letters = await eventually(async () => {
      const found = await raw.drain(DEAD_LETTER_QUEUE);
      expect(found).toHaveLength(1);
      return found;
    });
    expect(letters[0].headers['x-dead-letter-reason']).toBe('body is not valid JSON');
  });

  it('fails a request nobody consumes with service_unavailable once its deadline passes', async () => {
    const bus = await client('gateway', 500);
    const started = Date.now();
    const error = await bus.send(SandboxHealthGet, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe('service_unavailable');
    expect((error as DomainError).message).toBe(
      'The sandbox-service did not answer within 0.5 s; it may be down or overloaded. Try again shortly.',
    );
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('never executes a request whose caller already gave up: the message expires with the deadline', async () => {
    // The owner's queue exists (bound) but its consumer is down.
    const first = await service('registry', [RegistryGetHandler]);
    await first.app.close();
    apps.splice(apps.indexOf(first.app), 1);
    const bus = await client('gateway', 300);
    await expect(bus.send(RegistryServerGet, { id: 'too-late' })).rejects.toMatchObject({
      code: 'service_unavailable',
    });
    await new Promise((r) => setTimeout(r, 400));
    const { recorder } = await service('registry', [RegistryGetHandler]);
    await raw.request('registry.server.get', { id: 'fresh' });
    expect(recorder.calls.map((c) => (c.payload as { id: string }).id)).toEqual(['fresh']);
  });

  it("nests deadlines: a handler's own request waits no longer than its caller does", async () => {
    const { recorder } = await service('sandbox', [NestingHandler]);
    const inner = await raw.tap('bus', 'registry.server.get');
    const bus = await client('gateway', 1500);
    // Nobody answers the inner request: the caller gives up after 1.5 s, and so does the handler.
    await expect(bus.send(SandboxHealthGet, {})).rejects.toMatchObject({
      code: 'service_unavailable',
    });
    await eventually(() => expect(inner.messages).toHaveLength(1));
    const sent = Number(inner.messages[0].headers['x-timeout-ms']);
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThanOrEqual(1500);
    await eventually(
      () => expect(recorder.calls).toEqual([{ name: 'inner', payload: 'service_unavailable' }]),
      {
        timeoutMs: 5000,
      },
    );
    await inner.close();
  });

  it('retries work that failed for a passing reason, after a delay, and acks it once it succeeds', async () => {
    const recorder = new Recorder();
    let failures = 1;
    recorder.behaviour = () => {
      if (failures-- > 0) throw new Error('database restarting');
    };
    await service('sandbox', [ServerCreatedListener], recorder);
    const registry = await client('registry');
    await registry.emit(RegistryServerCreated, {
      id: 'retry-me',
      created_at: '2026-01-01T00:00:00.000Z',
    });
    await eventually(() => expect(recorder.calls).toHaveLength(2), {
      timeoutMs: RETRY_DELAY_MS + 5000,
    });
    expect(await raw.drain(DEAD_LETTER_QUEUE)).toEqual([]);
  });

  it('refuses to start a service that handles a command another service owns', async () => {
    await expect(service('sandbox', [RegistryGetHandler])).rejects.toThrow(
      'sandbox-service handles command "registry.server.get" owned by registry-service',
    );
  });

  it('refuses to send a command its service is not listed for (libs/contracts/src/bus-permissions.ts)', async () => {
    const bus = await client('registry');
    await expect(bus.send(SandboxHealthGet, {})).rejects.toThrow(
      'registry-service may not send sandbox.health.get',
    );
  });

  it('refuses to emit an event another service owns', async () => {
    const bus = await client('gateway');
    await expect(bus.emit(RegistryServerCreated, { id: 'x', created_at: 'y' })).rejects.toThrow(
      'api-gateway may not emit registry.server.created',
    );
  });

  it('lets a handler in flight finish when the service closes, so its message is not processed twice', async () => {
    const recorder = new Recorder();
    recorder.behaviour = () => new Promise((r) => setTimeout(r, 400));
    const { app } = await service('registry', [RegistryGetHandler], recorder);
    raw.publish('registry.server.get', {
      pattern: 'registry.server.get',
      id: 'slow',
      data: { id: 'slow' },
    });
    await eventually(() => expect(recorder.calls).toHaveLength(1));
    await app.close();
    apps.splice(apps.indexOf(app), 1);
    const next = await service('registry', [RegistryGetHandler]);
    await raw.request('registry.server.get', { id: 'after-restart' });
    expect(next.recorder.calls.map((c) => (c.payload as { id: string }).id)).toEqual([
      'after-restart',
    ]);
  });
});
