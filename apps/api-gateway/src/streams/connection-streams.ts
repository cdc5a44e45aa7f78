import type { ConnectionDeletedEvent, ConnectionStatusChangedEvent } from '@athenic/contracts';
import { type BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/env';
import { ReplayRing } from './replay-ring';
import { StreamAdmission } from './stream-admission';

/** What a stream of connection events is bounded by (config/env.ts, STREAM_*). */
export interface StreamLimits {
  /** Open streams of one account in this process. */
  perAccount: number;
  /** Open streams in this process. */
  perProcess: number;
  /** Bytes a client may leave unread before it is dropped. */
  bufferBytes: number;
  heartbeatMs: number;
  /** The replay window: events kept, and for how long. */
  replayEvents: number;
  replayWindowMs: number;
}

export function streamLimitsOf(config: GatewayConfig): StreamLimits {
  const env = config.env;
  return {
    perAccount: env.STREAM_MAX_PER_ACCOUNT,
    perProcess: env.STREAM_MAX_PER_PROCESS,
    bufferBytes: env.STREAM_BUFFER_BYTES,
    heartbeatMs: env.STREAM_HEARTBEAT_MS,
    replayEvents: env.STREAM_REPLAY_EVENTS,
    replayWindowMs: env.STREAM_REPLAY_WINDOW_MS,
  };
}

/** How long a client that was told to go (slow, shutdown) has to read its last event. */
const LAST_WORDS_MS = 2000;
/** What a client waits before it reconnects (the SSE `retry:` field). */
export const RECONNECT_MS = 3000;
/** The shape of the ids this stream hands out; anything else in Last-Event-ID is not held. */
const EVENT_ID = /^\d{1,15}-[0-9a-f]{16}$/;

/**
 * An event's id, derived from the event itself: every gateway process computes the same id for
 * the same event, so a client may resume on any of them. The time first (ms of the event), then
 * a digest of what happened.
 */
export function eventId(kind: string, fields: Record<string, unknown>, at: string): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([kind, fields]))
    .digest('hex')
    .slice(0, 16);
  const ms = Date.parse(at);
  return `${Number.isFinite(ms) && ms >= 0 ? Math.floor(ms) : 0}-${digest}`;
}

/** Answers a request with an event stream: its headers, and how long a client waits to reconnect. */
export function beginEventStream(res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // A proxy such as nginx would otherwise hold events back.
    'x-accel-buffering': 'no',
  });
  res.write(`retry: ${RECONNECT_MS}\n\n`);
}

/** One SSE frame: `id`, `event` and one `data` line of JSON (which never holds a newline). */
export function sseFrame(event: string, data: unknown, id?: string): string {
  return `${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * One client's stream. Frames go straight to the socket; what the client leaves unread is
 * counted by the response's own buffer (`writableLength`), and a client past `bufferBytes` is
 * sent a last `dropped` event and disconnected, rather than kept in memory without bound.
 */
export class StreamClient {
  private ended = false;
  /** Live frames held while the first answer (current state or replay) is being prepared. */
  private held: string[] | undefined = [];
  private heldBytes = 0;

  constructor(
    readonly accountId: string,
    private readonly res: ServerResponse,
    private readonly bufferBytes: number,
    private readonly onDropped: (client: StreamClient) => void = () => undefined,
  ) {}

  get closed(): boolean {
    return this.ended;
  }

  /** A live frame: written, or held until `release` while the first answer is prepared. */
  send(frame: string): void {
    if (this.ended) return;
    if (this.held) {
      this.heldBytes += Buffer.byteLength(frame);
      if (this.heldBytes > this.bufferBytes) return this.drop();
      this.held.push(frame);
      return;
    }
    this.write(frame);
  }

  /** Writes the first answer, then whatever was held meanwhile; from now on frames go straight out. */
  release(first: string[]): void {
    const held = this.held ?? [];
    this.held = undefined;
    this.heldBytes = 0;
    for (const frame of [...first, ...held]) this.write(frame);
  }

  /** Ends the stream with a last event (`closed`, `dropped`); the socket goes if it is not read. */
  end(last?: string): void {
    if (this.ended) return;
    this.ended = true;
    this.held = undefined;
    if (this.res.destroyed || this.res.writableEnded) return;
    this.res.end(last);
    const kill = setTimeout(() => this.res.destroy(), LAST_WORDS_MS);
    kill.unref();
    this.res.once('close', () => clearTimeout(kill));
  }

  /** The client went away (or was forgotten): nothing more is written or held. */
  dispose(): void {
    this.ended = true;
    this.held = undefined;
  }

  private write(frame: string): void {
    if (this.ended || this.res.destroyed || this.res.writableEnded) return;
    if (this.res.writableLength + Buffer.byteLength(frame) > this.bufferBytes) return this.drop();
    this.res.write(frame);
  }

  private drop(): void {
    this.end(
      sseFrame('dropped', {
        reason: 'slow_client',
        message: `This client left more than ${this.bufferBytes} bytes of events unread; reconnect with Last-Event-ID to resume.`,
      }),
    );
    this.onDropped(this);
  }
}

/** What a stream starts with: the events missed since Last-Event-ID, or the current state. */
export type StreamStart =
  { kind: 'replay'; frames: string[] } | { kind: 'snapshot'; resumeId?: string; reason: string };

/**
 * The live stream of connection events (GET /functions/v1/mcp-connections/stream): fed from the
 * bus by events/read-invalidation.ts in every gateway process, written to this process's clients
 * of the event's account, and kept in a ReplayRing for clients that reconnect. Bounded: streams
 * per account and per process (429 beyond), bytes unread per client (dropped beyond). Every
 * client is ended on shutdown; one that disconnects leaves nothing behind.
 */
@Injectable()
export class ConnectionStreams implements BeforeApplicationShutdown {
  private readonly log = new Logger('ConnectionStreams');
  private readonly limits: StreamLimits;
  private readonly ring: ReplayRing;
  private readonly admission: StreamAdmission;
  /** Each account's clients, each with what frees its slot. */
  private readonly byAccount = new Map<string, Map<StreamClient, () => void>>();
  private heartbeat: NodeJS.Timeout | undefined;

  /** The gateway's configuration, or (in a test) the limits themselves. */
  constructor(@Inject(GATEWAY_CONFIG) config: GatewayConfig | StreamLimits) {
    this.limits = 'env' in config ? streamLimitsOf(config) : config;
    this.ring = new ReplayRing(this.limits.replayEvents, this.limits.replayWindowMs);
    this.admission = new StreamAdmission(this.limits, 'event streams');
  }

  /** A connection changed status (an event from the bus). */
  statusChanged(event: ConnectionStatusChangedEvent): void {
    const data = {
      connection_id: event.connection_id,
      at: event.at,
      from: event.from ?? null,
      to: event.to,
      reason: event.reason,
    };
    this.publish(event.account_id, 'status', data, event.at);
  }

  /** A connection was deleted (an event from the bus). */
  deleted(event: ConnectionDeletedEvent): void {
    this.publish(
      event.account_id,
      'deleted',
      { connection_id: event.connection_id, at: event.at },
      event.at,
    );
  }

  /**
   * Admits a stream of `accountId` (429 past a limit, 503 while shutting down) and says what it
   * starts with. The caller writes the headers, then calls `start` with the client.
   */
  admit(accountId: string, lastEventId: string | undefined): StreamStart {
    this.admission.checkProcess();
    this.admission.checkAccount(accountId);
    if (lastEventId === undefined)
      return { kind: 'snapshot', resumeId: this.ring.head(), reason: 'initial' };
    const missed = EVENT_ID.test(lastEventId) ? this.ring.after(lastEventId, accountId) : undefined;
    if (missed) return { kind: 'replay', frames: missed.map((e) => e.frame) };
    return { kind: 'snapshot', resumeId: this.ring.head(), reason: 'outside_replay_window' };
  }

  /**
   * Registers the client of a stream admitted a moment ago (its headers written): it hears live
   * events from now on, and is forgotten when its socket closes or it is dropped.
   */
  attach(accountId: string, res: ServerResponse): StreamClient {
    const client = new StreamClient(accountId, res, this.limits.bufferBytes, (c) => this.detach(c));
    let clients = this.byAccount.get(accountId);
    if (!clients) this.byAccount.set(accountId, (clients = new Map()));
    clients.set(client, this.admission.take(accountId));
    res.once('close', () => this.detach(client));
    this.log.debug(
      `Event stream opened for account ${accountId} in process ${process.pid} (${this.admission.count()} open here)`,
    );
    this.heartbeat ??= setInterval(() => this.beat(), this.limits.heartbeatMs);
    this.heartbeat.unref();
    return client;
  }

  /** Forgets a client (disconnected, dropped or ended); idempotent. */
  detach(client: StreamClient): void {
    client.dispose();
    const clients = this.byAccount.get(client.accountId);
    const release = clients?.get(client);
    if (!clients || !release) return;
    clients.delete(client);
    release();
    if (clients.size === 0) this.byAccount.delete(client.accountId);
    if (this.admission.count() === 0) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
  }

  /** Open streams in this process (all, or one account's). */
  count(accountId?: string): number {
    return this.admission.count(accountId);
  }

  beforeApplicationShutdown(): void {
    this.admission.stop();
    const last = sseFrame('closed', {
      reason: 'shutdown',
      message: 'The gateway is shutting down; reconnect with Last-Event-ID to resume.',
    });
    for (const clients of [...this.byAccount.values()])
      for (const client of [...clients.keys()]) {
        client.end(last);
        this.detach(client);
      }
  }

  private publish(
    accountId: string,
    event: string,
    data: Record<string, unknown>,
    at: string,
  ): void {
    const id = eventId(event, data, at);
    const frame = sseFrame(event, data, id);
    // The same event delivered again (the outbox publishes at least once) is sent once.
    if (!this.ring.add({ id, accountId, frame })) return;
    const clients = this.byAccount.get(accountId);
    if (!clients) return;
    for (const client of [...clients.keys()]) client.send(frame);
  }

  private beat(): void {
    const frame = sseFrame('heartbeat', { at: new Date().toISOString() });
    for (const clients of this.byAccount.values())
      for (const client of [...clients.keys()]) client.send(frame);
    this.log.debug(`heartbeat to ${this.admission.count()} streams`);
  }
}
