import {
  type CommandDef,
  DomainError,
  type EventDef,
  isErrorCode,
  type PayloadOf,
  type ReplyOf,
  SERVICE_OF_OWNER,
} from '@athenic/contracts';
import { currentCorrelationId } from '@athenic/logging';
import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ClientRMQ, RmqRecordBuilder } from '@nestjs/microservices';
import { randomUUID } from 'node:crypto';
import { TimeoutError, firstValueFrom, lastValueFrom, timeout } from 'rxjs';
import { type BusOptions, DEFAULT_REQUEST_TIMEOUT_MS, SOCKET_OPTIONS, describeBrokerUrl } from './bus-options';
import { BUS_EXCHANGE, HEADERS } from './topology';

export interface SendOptions {
  /** Deadline of the request and lifetime of the message; defaults to the bus's request timeout. */
  timeoutMs?: number;
}

/**
 * Typed access to the bus: `send` a command or query and await its reply, `emit` an event.
 * Every request has a deadline and expires with it, so a command whose caller has given up is
 * never executed later. Failures come back as `DomainError`s with a code.
 */
export class BusClient implements OnApplicationShutdown {
  private readonly log = new Logger('BusClient');
  private readonly client: ClientRMQ;
  private readonly timeoutMs: number;

  constructor(private readonly options: BusOptions) {
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.client = new ClientRMQ({
      urls: [options.url],
      exchange: BUS_EXCHANGE,
      exchangeType: 'topic',
      wildcards: true,
      persistent: true,
      socketOptions: SOCKET_OPTIONS,
    });
  }

  /** Starts connecting; resolves once connected, rejects if the first attempt fails (reconnects go on). */
  async connect(): Promise<void> {
    await this.client.connect();
  }

  isConnected(): boolean {
    try {
      return (this.client.unwrap() as { isConnected(): boolean }).isConnected();
    } catch {
      return false;
    }
  }

  async send<D extends CommandDef<string, any, any>>(def: D, payload: PayloadOf<D>, options: SendOptions = {}): Promise<ReplyOf<D>> {
    const deadline = options.timeoutMs ?? this.timeoutMs;
    const record = new RmqRecordBuilder(payload)
      .setOptions({
        expiration: String(deadline),
        persistent: true,
        headers: { [HEADERS.correlationId]: currentCorrelationId() ?? randomUUID() },
      })
      .build();
    try {
      return await firstValueFrom(this.client.send(def.name, record).pipe(timeout({ first: deadline })));
    } catch (error) {
      throw this.translate(error, def, deadline);
    }
  }

  async emit<D extends EventDef<string, any>>(def: D, payload: PayloadOf<D>): Promise<void> {
    if (def.owner !== this.options.owner) {
      throw new Error(`${SERVICE_OF_OWNER[this.options.owner]} may not emit ${def.name}, owned by ${SERVICE_OF_OWNER[def.owner]}`);
    }
    const record = new RmqRecordBuilder(payload)
      .setOptions({ persistent: true, headers: { [HEADERS.correlationId]: currentCorrelationId() ?? randomUUID() } })
      .build();
    try {
      await lastValueFrom(this.client.emit(def.name, record).pipe(timeout({ first: this.timeoutMs })), { defaultValue: undefined });
    } catch (error) {
      throw this.translate(error, def, this.timeoutMs);
    }
  }

  private translate(error: unknown, def: CommandDef | EventDef, deadline: number): DomainError {
    if (error instanceof DomainError) return error;
    const target = SERVICE_OF_OWNER[def.owner];
    if (typeof error === 'object' && error !== null && 'code' in error && isErrorCode((error as { code: unknown }).code)) {
      const body = error as { code: Parameters<typeof isErrorCode>[0]; message?: string; details?: string[] };
      return new DomainError(body.code as never, body.message ?? 'The request failed.', body.details);
    }
    if (error instanceof TimeoutError) {
      this.log.warn(`${def.name}: no answer from ${target} within ${deadline} ms`);
      return new DomainError(
        'service_unavailable',
        `The ${target} did not answer within ${formatSeconds(deadline)}; it may be down or overloaded. Try again shortly.`,
      );
    }
    const text = error instanceof Error ? error.message : String(error);
    this.log.warn(`${def.name}: bus failure: ${text}`);
    return new DomainError(
      'service_unavailable',
      `The message broker at ${describeBrokerUrl(this.options.url)} is unreachable, so the ${target} cannot be asked. Try again shortly.`,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
