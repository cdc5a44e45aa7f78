import {
  createTestInfrastructure,
  eventually,
  queryDatabase,
  RawAmqpClient,
  type TestInfrastructure,
  TestPlatform,
} from '@athenic/testing';
import { Client } from 'pg';

const echoType = (id: string) => ({
  id,
  name: 'Echo',
  description: 'A command-only server type.',
  category: 'testing',
  transport: 'stdio',
  launch: { command: 'node', args: ['-e', 'process.stdin.pipe(process.stdout)'], env: {} },
  credential_schema: { type: 'object', additionalProperties: false, properties: {} },
  config_schema: { type: 'object', additionalProperties: false, properties: {} },
  egress: [],
});

describe('registry-service on the bus, driven by a plain AMQP client', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let raw: RawAmqpClient;

  beforeAll(async () => {
    infra = await createTestInfrastructure('registry');
    platform = await new TestPlatform(infra, { services: ['registry-service'] }).start();
    raw = await RawAmqpClient.connect(infra.amqpUrl);
  });

  afterAll(async () => {
    await raw?.close();
    await platform?.stop();
    await infra?.dispose();
  });

  it('answers registry.server.list sent with the documented envelope by a client with no Nest in it', async () => {
    const reply = await raw.request('registry.server.list', {});
    expect(reply.err).toBeUndefined();
    expect(reply.response.data).toHaveLength(12);
    expect(reply.response.data[0]).toMatchObject({
      id: 'calendar-server',
      builtin: true,
      launch: expect.any(Object),
    });
  });

  it('answers an unknown server type with the not_found error body', async () => {
    const reply = await raw.request('registry.server.get', { id: 'nope' });
    expect(reply.err).toEqual({ code: 'not_found', message: expect.stringContaining('"nope"') });
  });

  it('redelivers a command whose consumer was killed before acking it, and its effect happens once', async () => {
    const created = await raw.tap('bus', 'registry.server.created');
    // Hold a lock on the table so the handler blocks after receiving the command, before acking.
    const lock = new Client({ connectionString: infra.databaseUrl });
    await lock.connect();
    await lock.query('BEGIN');
    await lock.query('LOCK TABLE registry.servers IN ACCESS EXCLUSIVE MODE');
    try {
      raw.publish('registry.server.create', {
        pattern: 'registry.server.create',
        id: 'no-reply',
        data: echoType('redelivered'),
      });
      await platform
        .service('registry-service')
        .waitForLog((l) => l.json?.msg === 'command registry.server.create received', 10000);
      await platform.service('registry-service').kill();
    } finally {
      await lock.query('ROLLBACK');
      await lock.end();
    }
    await platform.service('registry-service').start();

    await eventually(async () => {
      const rows = await queryDatabase(
        infra.databaseUrl,
        `SELECT id FROM registry.servers WHERE id = 'redelivered'`,
      );
      expect(rows).toHaveLength(1);
    });
    // Once more through the bus, and a moment for any duplicate event to show up.
    const reply = await raw.request('registry.server.get', { id: 'redelivered' });
    expect(reply.response.id).toBe('redelivered');
    // The event announcing it went out too (from the outbox, whichever process committed), once.
    const ids = () => created.messages.map((m) => JSON.parse(m.body).data.id);
    await eventually(() => expect(ids()).toEqual(['redelivered']));
    await new Promise((r) => setTimeout(r, 1500));
    expect(ids()).toEqual(['redelivered']);
    await created.close();
  });
});
