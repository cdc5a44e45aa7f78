import type { ServerResponse } from 'node:http';
import { DEFAULT_LIMITS } from './limits';

export interface SseOptions {
  /** How often a `: ping` comment is written, for proxies that close quiet connections. */
  heartbeatMs: number;
  /** The stream is ended after this long without an event; none when undefined. */
  idleMs?: number;
  /** Bytes that may wait for the client before the stream is closed on it. */
  maxBufferedBytes: number;
}

/**
 * Why a stream closed: the client went away (`client`), the bridge ended it (`ended`), nothing was
 * sent for `idleMs` (`idle`), or the client let more than `maxBufferedBytes` pile up (`overflow`).
 */
export type SseCloseReason = 'client' | 'ended' | 'idle' | 'overflow';

/**
 * A Server-Sent Events response, flushed message by message (no buffering anywhere).
 *
 * Heartbeats and the idle timeout: a `: ping` comment goes out every `heartbeatMs` so that proxies
 * keep the connection; it proves nothing about the client, so it does not count as activity. Only
 * events do: a stream with no event written for `idleMs` is ended (the client reconnects, with
 * Last-Event-ID, when it still wants it), whatever heartbeats went out meanwhile.
 *
 * Backpressure: before each write (heartbeats included) the bytes still waiting for the client
 * are checked; past `maxBufferedBytes` the client is not reading and the stream is closed at once
 * rather than buffered without limit. So at most the bound plus one event ever waits.
 */
export class SseStream {
  private readonly keepAlive: NodeJS.Timeout;
  private readonly idle: NodeJS.Timeout | undefined;
  private readonly options: SseOptions;
  private reason: SseCloseReason | undefined;
  closed = false;

  constructor(
    readonly res: ServerResponse,
    headers: Record<string, string>,
    onClose: (reason: SseCloseReason) => void,
    options: Partial<SseOptions> = {},
  ) {
    this.options = {
      heartbeatMs: options.heartbeatMs ?? DEFAULT_LIMITS.sseHeartbeatMs,
      idleMs: options.idleMs,
      maxBufferedBytes: options.maxBufferedBytes ?? DEFAULT_LIMITS.maxSseBufferedBytes,
    };
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...headers,
    });
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    this.keepAlive = setInterval(() => this.write(': ping\n\n'), this.options.heartbeatMs);
    this.keepAlive.unref();
    if (this.options.idleMs !== undefined) {
      this.idle = setTimeout(() => this.end('idle'), this.options.idleMs);
      this.idle.unref();
    }
    res.on('close', () => {
      this.stopTimers();
      this.closed = true;
      onClose(this.reason ?? 'client');
    });
  }

  /** Bytes written but not yet taken by the client. */
  get bufferedBytes(): number {
    return this.res.writableLength;
  }

  send(data: unknown, eventId?: string): void {
    this.sendJson(JSON.stringify(data), eventId);
  }

  /** An event whose data is already JSON text (serialized once for every stream it goes to). */
  sendJson(json: string, eventId?: string): void {
    if (this.closed) return;
    if (this.write(`event: message\n${eventId ? `id: ${eventId}\n` : ''}data: ${json}\n\n`))
      this.idle?.refresh();
  }

  end(reason: SseCloseReason = 'ended'): void {
    if (this.closed) return;
    this.closed = true;
    this.reason ??= reason;
    this.stopTimers();
    this.res.end();
  }

  private write(text: string): boolean {
    if (this.closed) return false;
    if (this.res.writableLength > this.options.maxBufferedBytes) {
      this.closed = true;
      this.reason ??= 'overflow';
      this.stopTimers();
      // Not end(): that would wait for the client to take what it has not read.
      this.res.destroy();
      return false;
    }
    this.res.write(text);
    return true;
  }

  private stopTimers(): void {
    clearInterval(this.keepAlive);
    if (this.idle) clearTimeout(this.idle);
  }
}
