import {
  ALL_MESSAGES,
  DomainError,
  SERVICE_OF_OWNER,
  type ErrorBody,
  type MessageDef,
  validatePayload,
} from '@athenic/contracts';
import { correlationIdFrom, runWithCorrelationId } from '@athenic/logging';
import { Logger } from '@nestjs/common';
import { RpcException, ServerRMQ } from '@nestjs/microservices';
import { BusContext } from './bus-context';
import { runWithDeadline, timeoutFromHeader } from './deadline';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import { randomBytes } from 'node:crypto';
import { isObservable, lastValueFrom } from 'rxjs';
import {
  type BusOptions,
  DEFAULT_PREFETCH,
  MAX_ATTEMPTS,
  RETRY_DELAY_MS,
  SOCKET_OPTIONS,
} from './bus-options';
import { EVERY_REPLICA, HandlerFailure } from './handle.decorator';
import {
  BUS_EXCHANGE,
  DEAD_LETTER_EXCHANGE,
  HEADERS,
  assertTopology,
  replicaQueueName,
  retryQueueName,
  serviceQueueArguments,
} from './topology';

const DEFINITIONS = new Map<string, MessageDef>(ALL_MESSAGES.map((def) => [def.name, def]));

interface Envelope {
  pattern: string;
  data: unknown;
  id?: string;
}

/**
 * The RabbitMQ server of a service: Nest's RMQ transport with the platform's delivery rules.
 * Manual acks, payloads validated against their contract before any handler runs, invalid or
 * unknown messages dead-lettered with a reason (never requeued in a loop), passing failures
 * retried after a delay, and a graceful close that waits for work in flight.
 */
export class BusServer extends ServerRMQ {
  private readonly log = new Logger('Bus');
  private readonly service: string;
  private readonly consumerTagValue: string;
  private readonly inFlight = new Set<Promise<void>>();
  /** Nest resolves a pattern by trying JSON.parse on it (a thrown error per message): cache it. */
  private readonly handlerCache = new Map<string, ReturnType<ServerRMQ['getHandlerByPattern']>>();
  private rawChannel: ConfirmChannel | null = null;
  /** Dead letters and retries are republished here and acked only once the broker confirmed them. */
  private confirmed: ChannelWrapper | undefined;
  private stopping = false;

  constructor(private readonly busOptions: BusOptions) {
    const service = SERVICE_OF_OWNER[busOptions.owner];
    const consumerTag = `${service}.${process.pid}.${randomBytes(4).toString('hex')}`;
    super({
      urls: [busOptions.url],
      queue: service,
      queueOptions: { durable: true, arguments: serviceQueueArguments(busOptions.queueType) },
      exchange: BUS_EXCHANGE,
      exchangeType: 'topic',
      wildcards: true,
      noAck: false,
      persistent: true,
      prefetchCount: busOptions.prefetch ?? DEFAULT_PREFETCH,
      consumerTag,
      socketOptions: SOCKET_OPTIONS,
    });
    this.service = service;
    this.consumerTagValue = consumerTag;
  }

  /** Refuses to start (rather than retry forever) when a handler breaks the ownership rule. */
  override async listen(callback: (error?: unknown, ...args: unknown[]) => void): Promise<void> {
    try {
      this.assertOwnership();
    } catch (error) {
      return callback(error);
    }
    return super.listen(callback);
  }

  /**
   * The consuming channel is a plain one: replies go to direct reply-to, where publisher confirms
   * buy nothing and cost a round trip each. Republishing that must not be lost uses a second,
   * confirmed channel.
   */
  override createClient<T = AmqpConnectionManager>(): T {
    const client = super.createClient<AmqpConnectionManager>();
    const createChannel = client.createChannel.bind(client);
    this.confirmed = createChannel({ confirm: true });
    this.confirmed.on('error', (error: Error) => this.log.warn(`Channel error: ${error.message}`));
    client.createChannel = (options) => createChannel({ ...options, confirm: false });
    return client as T;
  }

  override async setupChannel(
    channel: ConfirmChannel,
    callback: (...args: unknown[]) => void,
  ): Promise<void> {
    await assertTopology(channel, this.service, RETRY_DELAY_MS);
    this.rawChannel = channel;
    await super.setupChannel(channel, callback);
    await this.consumeOnEveryReplica(channel);
  }

  /**
   * Events marked `everyReplica` come to this process's own exclusive queue rather than the
   * service's shared one (where one replica of many would get each). A queue of a process that is
   * gone is deleted with its connection; a reconnect makes a new one.
   */
  private async consumeOnEveryReplica(channel: ConfirmChannel): Promise<void> {
    const patterns = [...this.getHandlers().keys()].filter((p) => EVERY_REPLICA.has(p));
    if (patterns.length === 0) return;
    const { queue } = await channel.assertQueue(
      replicaQueueName(this.service, randomBytes(6).toString('hex')),
      {
        exclusive: true,
        autoDelete: true,
        durable: false,
        arguments: { 'x-dead-letter-exchange': DEAD_LETTER_EXCHANGE },
      },
    );
    for (const pattern of patterns) {
      await channel.bindQueue(queue, BUS_EXCHANGE, pattern);
      // Bound to the shared queue by Nest's setup (and by earlier versions): not there.
      await channel.unbindQueue(this.service, BUS_EXCHANGE, pattern);
    }
    await channel.consume(
      queue,
      (message) =>
        void this.handleMessage(message, channel).catch((error: unknown) =>
          this.log.error(`Message handling failed: ${errorText(error)}`),
        ),
      { noAck: false },
    );
  }

  /** A service handles only the commands it owns; events of any owner may be listened to. */
  private assertOwnership(): void {
    for (const pattern of this.getHandlers().keys()) {
      const def = DEFINITIONS.get(pattern);
      if (!def)
        throw new Error(
          `${this.service} handles "${pattern}", which libs/contracts does not define`,
        );
      if (def.kind === 'command' && def.owner !== this.busOptions.owner) {
        throw new Error(
          `${this.service} handles command "${pattern}" owned by ${SERVICE_OF_OWNER[def.owner]}`,
        );
      }
    }
  }

  override async handleMessage(
    delivery: Record<string, any> | null,
    channel: ConfirmChannel,
  ): Promise<void> {
    if (!delivery) return;
    const message = delivery as ConsumeMessage;
    if (this.stopping) {
      // Closing: hand the message back for another consumer or the next start.
      channel.nack(message, false, true);
      return;
    }
    const work = this.process(message, channel).catch((error) =>
      this.log.error(`Message handling failed outside its handler: ${errorText(error)}`),
    );
    this.inFlight.add(work);
    await work;
    this.inFlight.delete(work);
  }

  private async process(message: ConsumeMessage, channel: ConfirmChannel): Promise<void> {
    const headers = message.properties.headers ?? {};
    const correlationId = correlationIdFrom(headers[HEADERS.correlationId]);
    await runWithCorrelationId(correlationId, async () => {
      const envelope = parseEnvelope(message.content);
      if (typeof envelope === 'string') return this.deadLetter(message, channel, envelope);
      const routingKey = String(headers[HEADERS.originalRoutingKey] ?? message.fields.routingKey);
      if (routingKey !== envelope.pattern) {
        return this.deadLetter(
          message,
          channel,
          `routing key "${routingKey}" does not match pattern "${envelope.pattern}"`,
        );
      }
      const def = DEFINITIONS.get(envelope.pattern);
      const handler = this.cachedHandler(envelope.pattern);
      const replyTo =
        def?.kind === 'command' && envelope.id ? message.properties.replyTo : undefined;
      if (!def || !handler) {
        const reason = `${this.service} has no handler for "${envelope.pattern}"`;
        if (replyTo)
          this.reply(channel, message, envelope, { err: { code: 'not_found', message: reason } });
        return this.deadLetter(message, channel, reason);
      }
      const validated = await validatePayload(def.payload, envelope.data);
      if (!validated.ok) {
        const reason = `invalid ${def.name} payload: ${validated.errors.join('; ')}`;
        if (replyTo) {
          this.reply(channel, message, envelope, {
            err: {
              code: 'validation_failed',
              message: `Invalid ${def.name} payload: ${validated.errors[0]}.`,
              details: validated.errors,
            },
          });
        }
        return this.deadLetter(message, channel, reason);
      }
      this.log.debug(`${def.kind} ${def.name} received`);
      try {
        const context = new BusContext(
          [message, channel, def.name],
          message.properties.messageId ?? envelope.id,
        );
        const timeout = timeoutFromHeader(headers[HEADERS.timeoutMs]);
        const returned: unknown = await (timeout === undefined
          ? handler(validated.value, context)
          : runWithDeadline(timeout, () => handler(validated.value, context)));
        const result = isObservable(returned)
          ? await lastValueFrom(returned, { defaultValue: undefined })
          : returned;
        if (result instanceof HandlerFailure) throw result.error;
        if (replyTo) this.reply(channel, message, envelope, { response: result ?? null });
        channel.ack(message);
      } catch (error) {
        const body = errorBody(error);
        if (body) {
          // A domain outcome (not found, conflict, ...): the work is done, the caller is told.
          this.log.log(`${def.name} ended with ${body.code}: ${body.message}`);
          if (replyTo) this.reply(channel, message, envelope, { err: body });
          channel.ack(message);
          return;
        }
        this.log.error(`${def.name} failed: ${errorText(error)}`);
        if (replyTo) {
          // The caller is waiting; it gets the failure now and decides whether to retry.
          this.reply(channel, message, envelope, {
            err: {
              code: 'internal_error',
              message: `The ${this.service} could not complete ${def.name}; try again.`,
            },
          });
          return this.deadLetter(message, channel, `${def.name} failed: ${errorText(error)}`);
        }
        return this.retryLater(message, channel, errorText(error));
      }
    });
  }

  private cachedHandler(pattern: string): ReturnType<ServerRMQ['getHandlerByPattern']> {
    let handler = this.handlerCache.get(pattern);
    if (handler === undefined && !this.handlerCache.has(pattern)) {
      handler = this.getHandlerByPattern(pattern);
      this.handlerCache.set(pattern, handler);
    }
    return handler ?? null;
  }

  private reply(
    channel: ConfirmChannel,
    message: ConsumeMessage,
    envelope: Envelope,
    packet: { response?: unknown; err?: ErrorBody },
  ): void {
    const body = Buffer.from(JSON.stringify({ ...packet, isDisposed: true, id: envelope.id }));
    channel.sendToQueue(message.properties.replyTo, body, {
      correlationId: message.properties.correlationId,
    });
  }

  /** Republish to the dead-letter exchange with the reason, wait for the broker's confirm, then ack. */
  private async deadLetter(
    message: ConsumeMessage,
    channel: ConfirmChannel,
    reason: string,
  ): Promise<void> {
    this.log.warn(`Dead-lettered a message: ${reason}`);
    const headers = message.properties.headers ?? {};
    await this.republish(
      DEAD_LETTER_EXCHANGE,
      String(headers[HEADERS.originalRoutingKey] ?? message.fields.routingKey),
      message,
      {
        ...headers,
        [HEADERS.deadLetterReason]: reason.slice(0, 1000),
        [HEADERS.deadLetterService]: this.service,
        [HEADERS.originalRoutingKey]:
          headers[HEADERS.originalRoutingKey] ?? message.fields.routingKey,
      },
    );
    channel.ack(message);
  }

  /** Work nobody waits on is tried again after a delay, then dead-lettered. */
  private async retryLater(
    message: ConsumeMessage,
    channel: ConfirmChannel,
    reason: string,
  ): Promise<void> {
    const headers = message.properties.headers ?? {};
    const attempts = Number(headers[HEADERS.attempts] ?? 1);
    if (attempts >= MAX_ATTEMPTS) {
      return this.deadLetter(message, channel, `gave up after ${attempts} attempts: ${reason}`);
    }
    this.log.warn(
      `Will retry in ${RETRY_DELAY_MS} ms (attempt ${attempts + 1} of ${MAX_ATTEMPTS}): ${reason}`,
    );
    await this.republish('', retryQueueName(this.service), message, {
      ...headers,
      [HEADERS.attempts]: attempts + 1,
      [HEADERS.originalRoutingKey]:
        headers[HEADERS.originalRoutingKey] ?? message.fields.routingKey,
    });
    channel.ack(message);
  }

  private async republish(
    exchange: string,
    routingKey: string,
    message: ConsumeMessage,
    headers: Record<string, unknown>,
  ): Promise<void> {
    await this.confirmed!.publish(exchange, routingKey, message.content, {
      headers,
      persistent: true,
      contentType: message.properties.contentType,
      correlationId: message.properties.correlationId,
      messageId: message.properties.messageId,
      timeout: 10000,
    });
  }

  /**
   * Stop taking messages, let those in flight finish (up to the grace period), then close.
   * Unacked messages go back to the queue when the channel closes.
   */
  override async close(graceMs = 8000): Promise<void> {
    this.stopping = true;
    try {
      await this.rawChannel?.cancel(this.consumerTagValue);
    } catch {
      // The channel is already gone; the broker requeues its unacked messages.
    }
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([Promise.allSettled([...this.inFlight]), deadline]);
    await this.confirmed?.close();
    await super.close();
  }
}

function parseEnvelope(content: Buffer): Envelope | string {
  let body: unknown;
  try {
    body = JSON.parse(content.toString('utf8'));
  } catch {
    return 'body is not valid JSON';
  }
  if (typeof body !== 'object' || body === null || typeof (body as Envelope).pattern !== 'string') {
    return 'body must be a JSON object {"pattern", "data", "id"?}';
  }
  const envelope = body as Envelope;
  if (envelope.id !== undefined && typeof envelope.id !== 'string') return '"id" must be a string';
  return envelope;
}

function errorBody(error: unknown): ErrorBody | undefined {
  if (error instanceof DomainError) return error.toBody();
  if (error instanceof RpcException) {
    const inner = error.getError();
    if (typeof inner === 'object' && inner !== null && 'code' in inner) return inner as ErrorBody;
  }
  return undefined;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
