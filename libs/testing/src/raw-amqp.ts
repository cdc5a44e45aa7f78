import * as amqp from 'amqplib';
import { randomUUID } from 'node:crypto';

export interface DeadLetter {
  routingKey: string;
  headers: Record<string, unknown>;
  body: string;
}

/**
 * A plain amqplib client with no Nest in it: what another internal service of the company would
 * use to publish the platform's commands, ask its queries and read its dead letters.
 */
export class RawAmqpClient {
  private constructor(
    private readonly connection: amqp.ChannelModel,
    readonly channel: amqp.Channel,
  ) {}

  static async connect(url: string): Promise<RawAmqpClient> {
    const connection = await amqp.connect(url);
    const channel = await connection.createChannel();
    return new RawAmqpClient(connection, channel);
  }

  /** Request/reply through the `bus` exchange with direct reply-to, as documented in docs/asyncapi.json. */
  async request<T = any>(
    pattern: string,
    data: unknown,
    timeoutMs = 5000,
    /** The envelope's id; the same one twice is what a redelivery looks like. */
    id: string = randomUUID(),
  ): Promise<{ response?: T; err?: { code: string; message: string; details?: string[] } }> {
    const channel = await this.connection.createChannel();
    try {
      const reply = new Promise<any>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no reply to ${pattern} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        void channel.consume(
          'amq.rabbitmq.reply-to',
          (msg) => {
            if (!msg || msg.properties.correlationId !== id) return;
            clearTimeout(timer);
            resolve(JSON.parse(msg.content.toString()));
          },
          { noAck: true },
        );
      });
      channel.publish('bus', pattern, Buffer.from(JSON.stringify({ pattern, id, data })), {
        replyTo: 'amq.rabbitmq.reply-to',
        correlationId: id,
        expiration: String(timeoutMs),
        persistent: true,
      });
      return await reply;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** Publishes raw bytes (or an envelope) with no reply expected. */
  publish(routingKey: string, body: Buffer | object, headers: Record<string, unknown> = {}): void {
    const content = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    this.channel.publish('bus', routingKey, content, { persistent: true, headers });
  }

  /** Binds a fresh exclusive queue to the exchange and collects what arrives. */
  async tap(
    exchange: string,
    bindingKey: string,
  ): Promise<{ messages: DeadLetter[]; close(): Promise<void> }> {
    const channel = await this.connection.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, exchange, bindingKey);
    const messages: DeadLetter[] = [];
    await channel.consume(
      queue,
      (msg) => {
        if (!msg) return;
        messages.push({
          routingKey: msg.fields.routingKey,
          headers: msg.properties.headers ?? {},
          body: msg.content.toString(),
        });
      },
      { noAck: true },
    );
    return { messages, close: () => channel.close().catch(() => undefined) };
  }

  /** Takes every message currently in a queue (acking it). */
  async drain(queue: string): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    for (;;) {
      const msg = await this.channel.get(queue, { noAck: true });
      if (!msg) return out;
      out.push({
        routingKey: msg.fields.routingKey,
        headers: msg.properties.headers ?? {},
        body: msg.content.toString(),
      });
    }
  }

  async close(): Promise<void> {
    await this.connection.close().catch(() => undefined);
  }
}

export async function eventually<T>(
  probe: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10000);
  let lastError: unknown;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw lastError;
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
}
