import { randomUUID } from 'node:crypto';
import { DEAD_LETTER_QUEUE } from '@athenic/messaging';
import {
  CONNECTION_CREDENTIALS_PURPOSE,
  installConnectionId,
  seal,
} from '@athenic/platform-crypto';
import {
  ApiClient,
  createTestInfrastructure,
  eventually,
  RawAmqpClient,
  type TestInfrastructure,
  TestPlatform,
} from '@athenic/testing';

describe('the bus as an API: another internal service installs a connection with plain AMQP', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let amqp: RawAmqpClient;

  beforeAll(async () => {
    infra = await createTestInfrastructure('bus-api');
    platform = await new TestPlatform(infra).start();
    amqp = await RawAmqpClient.connect(infra.amqpUrl);
  });

  afterAll(async () => {
    await amqp?.close();
    await platform?.stop();
    await infra?.dispose();
  });

  it('installs with credentials it sealed itself, and follows the status events to mcpRunning', async () => {
    const key = await amqp.request('credential.public-key.get', {});
    // Bound to the connection this install will make, known from its account and key.
    const sealedSecret = await seal('from-the-billing-service', key.response.jwk, {
      account: 'acct-amqp',
      connection: installConnectionId('acct-amqp', 'billing-install-1'),
      purpose: CONNECTION_CREDENTIALS_PURPOSE,
    });
    const events = await amqp.tap('bus', 'sandbox.connection.status-changed');
    const reply = await amqp.request('sandbox.connection.install', {
      account_id: 'acct-amqp',
      mcp_server_id: 'everything-server',
      title: 'Installed over AMQP',
      sealed_credentials: { demo_secret: sealedSecret },
      idempotency_key: 'billing-install-1',
      actor: 'billing-service',
    });
    expect(reply.err).toBeUndefined();
    expect(reply.response).toMatchObject({
      replayed: false,
      connection: {
        id: installConnectionId('acct-amqp', 'billing-install-1'),
        status: 'mcpPending',
        account_id: 'acct-amqp',
      },
    });
    const id = reply.response.connection.id;
    const mine = () =>
      events.messages.map((m) => JSON.parse(m.body)).filter((e) => e.data.connection_id === id);
    await eventually(
      () =>
        expect(mine().map((e) => e.data.to)).toEqual(['mcpPending', 'mcpDeploying', 'mcpRunning']),
      { timeoutMs: 20000 },
    );
    const [pending, deploying, running] = mine().map((e) => e.data);
    expect(pending).toMatchObject({
      from: null,
      desired_state: 'running',
      account_id: 'acct-amqp',
    });
    expect(deploying.from).toBe('mcpPending');
    expect(running).toMatchObject({
      from: 'mcpDeploying',
      reason: expect.stringContaining('tool(s)'),
    });
    // The same command again (a redelivery, or a retry): the same connection.
    const again = await amqp.request('sandbox.connection.install', {
      account_id: 'acct-amqp',
      mcp_server_id: 'everything-server',
      title: 'Installed over AMQP',
      sealed_credentials: { demo_secret: sealedSecret },
      idempotency_key: 'billing-install-1',
      actor: 'billing-service',
    });
    expect(again.response).toMatchObject({ replayed: true, connection: { id } });
    await events.close();
  });

  it('creates one connection for a redelivered install that carries no idempotency key', async () => {
    const command = {
      account_id: 'acct-redelivered',
      mcp_server_id: 'memory-server',
      title: 'Delivered twice',
      sealed_credentials: {},
      actor: 'billing-service',
    };
    const messageId = randomUUID();
    const first = await amqp.request('sandbox.connection.install', command, 5000, messageId);
    const again = await amqp.request('sandbox.connection.install', command, 5000, messageId);
    expect(first.response).toMatchObject({ replayed: false });
    expect(again.response).toMatchObject({
      replayed: true,
      connection: { id: first.response.connection.id },
    });
    // Another message with the same body is another install.
    const other = await amqp.request('sandbox.connection.install', command);
    expect(other.response.connection.id).not.toBe(first.response.connection.id);
    const list = await amqp.request('sandbox.connection.list', { account_id: 'acct-redelivered' });
    expect(list.response.data).toHaveLength(2);
    for (const { id } of list.response.data as { id: string }[])
      await amqp.request('sandbox.connection.delete', {
        id,
        account_id: 'acct-redelivered',
        actor: 'billing-service',
      });
  });

  it("refuses a sealed credential lifted from one account's install when replayed into another's", async () => {
    // What passes on the bus (or lands in the dead-letter queue) can be read by whoever reaches
    // the broker: here, a copy of the gateway's install command for acct-victim.
    const wire = await amqp.tap('bus', 'sandbox.connection.install');
    const admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    const victim = await admin.install({
      mcp_server_id: 'everything-server',
      account_id: 'acct-victim',
      title: 'Victim',
      provided_credential_schema: { demo_secret: 'victim-secret-value' },
    });
    await eventually(() => expect(wire.messages.length).toBeGreaterThan(0));
    await wire.close();
    const lifted = JSON.parse(wire.messages[0].body).data.sealed_credentials.demo_secret as string;
    const replay = await amqp.request('sandbox.connection.install', {
      account_id: 'acct-attacker',
      mcp_server_id: 'everything-server',
      title: 'Stolen',
      sealed_credentials: { demo_secret: lifted },
      actor: 'billing-service',
    });
    expect(replay.err).toEqual({
      code: 'validation_failed',
      message:
        'provided_credential_schema.demo_secret is refused: it was sealed for another account.',
    });
    const attacker = await amqp.request('sandbox.connection.list', { account_id: 'acct-attacker' });
    expect(attacker.response.data).toEqual([]);
    await admin.delete(`/functions/v1/mcp-connections/${victim.id}`);
  });

  it('refuses a sealed credential lifted from one install when replayed into another install of the same account', async () => {
    // The gateway sealed it for the connection its install makes (installConnectionId of the
    // account and the Idempotency-Key): another key is another connection, and the value is
    // refused there; with its own key, the install is the one that already answered.
    const wire = await amqp.tap('bus', 'sandbox.connection.install');
    const admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    const first = await admin.install(
      {
        mcp_server_id: 'everything-server',
        account_id: 'acct-same',
        title: 'First',
        provided_credential_schema: { demo_secret: 'first-install-secret' },
      },
      { 'idempotency-key': 'same-account-install-1' },
    );
    expect(first.id).toBe(installConnectionId('acct-same', 'same-account-install-1'));
    await eventually(() => expect(wire.messages.length).toBeGreaterThan(0));
    await wire.close();
    const lifted = JSON.parse(wire.messages[0].body).data;
    const refusal = {
      code: 'validation_failed',
      message: expect.stringMatching(
        /^provided_credential_schema\.demo_secret is refused: it was sealed for another connection \(seal it with ath_cid: at install installConnectionId\(account, Idempotency-Key\)/,
      ),
    };
    for (const idempotency_key of ['same-account-install-2', undefined]) {
      const replay = await amqp.request('sandbox.connection.install', {
        account_id: 'acct-same',
        mcp_server_id: 'everything-server',
        title: 'Second',
        sealed_credentials: { demo_secret: lifted.sealed_credentials.demo_secret },
        ...(idempotency_key ? { idempotency_key } : {}),
        actor: 'billing-service',
      });
      expect(replay.err).toEqual(refusal);
    }
    const own = await amqp.request('sandbox.connection.install', lifted);
    expect(own.err).toBeUndefined();
    expect(own.response).toMatchObject({ replayed: true, connection: { id: first.id } });
    const list = await amqp.request('sandbox.connection.list', { account_id: 'acct-same' });
    expect(list.response.data.map((c: { id: string }) => c.id)).toEqual([first.id]);
    await admin.delete(`/functions/v1/mcp-connections/${first.id}`);
  });

  it('refuses a plaintext credential on the bus', async () => {
    const reply = await amqp.request('sandbox.connection.install', {
      account_id: 'acct-amqp',
      mcp_server_id: 'everything-server',
      title: 'Plain',
      sealed_credentials: { demo_secret: 'not sealed' },
      actor: 'billing-service',
    });
    expect(reply.err).toMatchObject({
      code: 'validation_failed',
      message: expect.stringContaining('must be sealed'),
    });
  });

  it('dead-letters an invalid install command with the reason', async () => {
    await amqp.drain(DEAD_LETTER_QUEUE);
    amqp.publish('sandbox.connection.install', {
      pattern: 'sandbox.connection.install',
      id: 'x1',
      data: { account_id: 'acct-amqp', mcp_server_id: 'memory-server' },
    });
    const letter = await eventually(async () => {
      const letters = await amqp.drain(DEAD_LETTER_QUEUE);
      expect(letters).toHaveLength(1);
      return letters[0];
    });
    expect(letter.headers['x-dead-letter-service']).toBe('sandbox-service');
    expect(String(letter.headers['x-dead-letter-reason'])).toContain('title is required');
    expect(String(letter.headers['x-dead-letter-reason'])).toContain(
      'sealed_credentials is required',
    );
  });
});
