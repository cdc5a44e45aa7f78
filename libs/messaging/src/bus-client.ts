import {
  type CommandDef,
  DomainError,
  type ErrorBody,
  type EventDef,
  isErrorCode,
  maySend,
  type PayloadOf,
  type ReplyOf,
  SERVICE_OF_OWNER,
} from '@athenic/contracts';
import { currentCorrelationId } from '@athenic/logging';
import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { type AmqpConnectionManager, type ChannelWrapper, connect } from 'amqp-connection-manager';
import { randomUUID } from 'node:crypto';
import {
  type BusOptions,
  DEFAULT_REQUEST_TIMEOUT_MS,
  SOCKET_OPTIONS,
  describeBrokerUrl,
} from './bus-options';
import { BUS_EXCHANGE, HEADERS } from './topology';
import { remainingMs } from './deadline';

export interface SendOptions {
  /** Deadline of the request and lifetime of the message; defaults to the bus's request timeout. */
  timeoutMs?: number;
}

interface Pending {
  def: CommandDef;
  resolve: (value: any) => void;
  reject: (error: DomainError) => void;
  timer: NodeJS.Timeout;
}

const REPLY_QUEUE = 'amq.rabbitmq.reply-to';

/**
 * Typed access to the bus: `send` a command or query and await its reply, `emit` an event.
 * Requests speak the Nest RMQ wire format (`{pattern, id, data}`, replies on direct reply-to), so
 * any Nest RMQ server or plain AMQP client interoperates. Every request has a deadline and
 * expires with it, so a command whose caller has given up is never executed later. Events are
 * persistent and confirmed by the broker. Failures come back as `DomainError`s with a code.
 */
export class BusClient implements OnApplicationShutdown {
  private readonly log = new Logger('BusClient');
  private readonly timeoutMs: number;
  private readonly pending = new Map<string, Pending>();
  private connection: AmqpConnectionManager | undefined;
  private requests: ChannelWrapper | undefined;
  private events: ChannelWrapper | undefined;

  constructor(private readonly options: BusOptions) {
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /** Connects (reconnecting by itself after any loss); resolves once the first connection is up. */
  async connect(timeoutMs = 10000): Promise<void> {
    if (!this.connection) {
      const connection = connect([this.options.url], SOCKET_OPTIONS);
      this.connection = connection;
      connection.on('disconnect', ({ err }) => {
        // Replies to requests in flight would go to the lost channel: fail them now.
        this.failPending(this.brokerDown(), `connection lost: ${err?.message ?? 'closed'}`);
      });
      connection.on('connectFailed', () => undefined);
      // A plain channel for requests: the reply is their acknowledgement. It consumes its own
      // direct reply-to pseudo-queue, which must be on the channel that publishes.
      this.requests = connection.createChannel({
        confirm: false,
        setup: (channel: ConfirmChannel) =>
          channel.consume(REPLY_QUEUE, (msg) => this.onReply(msg), { noAck: true }),
      });
      // A confirm channel for events: publishing resolves once the broker has them.
      this.events = connection.createChannel({
        confirm: true,
        setup: (channel: ConfirmChannel) =>
          channel.assertExchange(BUS_EXCHANGE, 'topic', { durable: true }),
      });
      // A channel that fails (closing while connecting, broker errors) is recreated; never crash.
      for (const channel of [this.requests, this.events]) {
        channel.on('error', (error: Error) => this.log.warn(`Channel error: ${error.message}`));
      }
    }
    await Promise.all([
      this.connection.connect({ timeout: timeoutMs }),
      this.requests!.waitForConnect(),
      this.events!.waitForConnect(),
    ]);
  }

  isConnected(): boolean {
    return this.connection?.isConnected() ?? false;
  }

  async send<D extends CommandDef<string, any, any>>(
    def: D,
    payload: PayloadOf<D>,
    options: SendOptions = {},
  ): Promise<ReplyOf<D>> {
    if (!maySend(this.options.owner, def.name))
      throw new Error(
        `${SERVICE_OF_OWNER[this.options.owner]} may not send ${def.name}: add it to COMMANDS_SENT_BY (libs/contracts/src/bus-permissions.ts), which the broker's permissions follow`,
      );
    const own = options.timeoutMs ?? this.timeoutMs;
    // Within a handler, never wait longer than its own caller does.
    const left = remainingMs();
    const deadline = left === undefined ? own : Math.min(own, Math.floor(left));
    if (deadline <= 0)
      throw new DomainError(
        'service_unavailable',
        `The request that led to ${def.name} ran out of time before it could be sent; try again.`,
      );
    if (!this.requests || !this.isConnected()) throw this.brokerDown(def);
    const id = randomUUID();
    const body = Buffer.from(JSON.stringify({ pattern: def.name, data: payload, id }));
    return new Promise<ReplyOf<D>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.log.warn(
          `${def.name}: no answer from ${SERVICE_OF_OWNER[def.owner]} within ${deadline} ms`,
        );
        reject(
          new DomainError(
            'service_unavailable',
            `The ${SERVICE_OF_OWNER[def.owner]} did not answer within ${formatSeconds(deadline)}; it may be down or overloaded. Try again shortly.`,
          ),
        );
      }, deadline);
      this.pending.set(id, { def, resolve, reject, timer });
      this.requests!.publish(BUS_EXCHANGE, def.name, body, {
        replyTo: REPLY_QUEUE,
        correlationId: id,
        // The request lives no longer than its caller waits, and is transient: if the broker
        // restarts, the caller's reply channel is gone and it has been told so; the request must
        // not come back and run. (docs/adr/0003)
        expiration: String(deadline),
        persistent: false,
        contentType: 'application/json',
        headers: {
          [HEADERS.correlationId]: currentCorrelationId() ?? randomUUID(),
          [HEADERS.timeoutMs]: deadline,
        },
      }).catch((error: unknown) => this.settle(id, undefined, this.brokerDown(def), error));
    });
  }

  private onReply(msg: ConsumeMessage | null): void {
    if (!msg) return;
    let packet: { response?: unknown; err?: unknown };
    try {
      packet = JSON.parse(msg.content.toString('utf8'));
    } catch {
      return this.settle(
        msg.properties.correlationId,
        undefined,
        new DomainError('internal_error', 'A service sent a reply that is not JSON.'),
      );
    }
    if (packet.err !== undefined && packet.err !== null) {
      return this.settle(msg.properties.correlationId, undefined, toDomainError(packet.err));
    }
    this.settle(msg.properties.correlationId, packet.response);
  }

  private settle(id: string, response: unknown, error?: DomainError, cause?: unknown): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if (cause)
      this.log.warn(
        `${pending.def.name}: publish failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      );
    if (error) pending.reject(error);
    else pending.resolve(response);
  }

  private failPending(error: DomainError, reason: string): void {
    if (this.pending.size > 0)
      this.log.warn(`Failing ${this.pending.size} request(s) in flight: ${reason}`);
    for (const id of [...this.pending.keys()]) this.settle(id, undefined, error);
  }

  /**
   * Publishes an event now. Prefer the outbox (`Outbox.transaction`) for events that announce a
   * database change: this publish is lost if the process dies right after the change commits.
   */
  async emit<D extends EventDef<string, any>>(def: D, payload: PayloadOf<D>): Promise<void> {
    if (def.owner !== this.options.owner) {
      throw new Error(
        `${SERVICE_OF_OWNER[this.options.owner]} may not emit ${def.name}, owned by ${SERVICE_OF_OWNER[def.owner]}`,
      );
    }
    await this.publishEvent(def.name, payload);
  }

  /** Publishes an event by name; resolves once the broker confirmed it (used by the outbox relay). */
  async publishEvent(name: string, payload: unknown, correlationId?: string): Promise<void> {
    if (!this.events || !this.isConnected()) throw this.brokerDown();
    try {
      await this.events.publish(
        BUS_EXCHANGE,
        name,
        Buffer.from(JSON.stringify({ pattern: name, data: payload })),
        {
          persistent: true,
          contentType: 'application/json',
          headers: {
            [HEADERS.correlationId]: correlationId ?? currentCorrelationId() ?? randomUUID(),
          },
          timeout: this.timeoutMs,
        },
      );
    } catch (error) {
      this.log.warn(
        `${name}: publish failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      throw this.brokerDown();
    }
  }

  private brokerDown(def?: CommandDef | EventDef): DomainError {
    const target = def ? `, so the ${SERVICE_OF_OWNER[def.owner]} cannot be asked` : '';
    return new DomainError(
      'service_unavailable',
      `The message broker at ${describeBrokerUrl(this.options.url)} is unreachable${target}. Try again shortly.`,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    this.failPending(this.brokerDown(), 'shutting down');
    await this.connection?.close();
  }
}

function toDomainError(err: unknown): DomainError {
  if (typeof err === 'object' && err !== null && isErrorCode((err as ErrorBody).code)) {
    const body = err as ErrorBody;
    return new DomainError(body.code, body.message ?? 'The request failed.', body.details);
  }
  // A Nest RMQ server without the platform's error convention (for example "no handler").
  const text = typeof err === 'string' ? err : JSON.stringify(err);
  return new DomainError(
    'service_unavailable',
    `The service could not handle the request: ${text}.`,
  );
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
