import { createParser } from 'eventsource-parser';

/** One server-sent event as a test sees it: `data` parsed as JSON. */
export interface StreamEvent {
  id?: string;
  event: string;
  data: any;
}

/**
 * A server-sent event stream read with fetch and eventsource-parser (unlike EventSource, it can
 * send the Authorization header). Every event received is in `events`, in order, and comment
 * lines (heartbeats) are counted; `status` says how the server answered (the JSON error body in
 * `error` when it was not a stream). `next(filter)` waits for the next event that passes;
 * `finished` resolves when the stream ends (`ended` then true); `close()` hangs up.
 */
export class EventStreamReader {
  readonly events: StreamEvent[] = [];
  /** Comment lines (heartbeats) seen. */
  comments = 0;
  ended = false;
  /** Resolves when the server ends the stream, it drops, or close() hangs up. */
  finished: Promise<void> = Promise.resolve();
  /** Events already handed out by next(). */
  private taken = 0;
  private readonly waiters: (() => void)[] = [];

  private constructor(
    readonly status: number,
    readonly error: any,
    private readonly abort: AbortController,
  ) {}

  static async open(
    url: string,
    key: string,
    options: { lastEventId?: string; headers?: Record<string, string> } = {},
  ): Promise<EventStreamReader> {
    const abort = new AbortController();
    const res = await fetch(url, {
      headers: {
        authorization: `Bearer ${key}`,
        accept: 'text/event-stream',
        ...(options.lastEventId ? { 'last-event-id': options.lastEventId } : {}),
        ...options.headers,
      },
      signal: abort.signal,
    });
    if (!res.ok || !res.body) {
      const text = await res.text();
      let error: unknown = text;
      try {
        error = JSON.parse(text);
      } catch {
        // not JSON: kept as text
      }
      const reader = new EventStreamReader(res.status, error, abort);
      reader.ended = true;
      return reader;
    }
    const reader = new EventStreamReader(res.status, undefined, abort);
    const parser = createParser({
      onEvent: (message) => {
        reader.events.push({
          id: message.id,
          event: message.event ?? 'message',
          data: message.data ? JSON.parse(message.data) : undefined,
        });
        reader.wake();
      },
      onComment: () => {
        reader.comments++;
      },
    });
    const body = res.body.getReader();
    reader.finished = (async () => {
      const decoder = new TextDecoder();
      try {
        for (;;) {
          const { done, value } = await body.read();
          if (done) break;
          parser.feed(decoder.decode(value, { stream: true }));
        }
      } catch {
        // aborted by close(), or the connection dropped: the stream has ended either way
      } finally {
        reader.ended = true;
        reader.wake();
      }
    })();
    return reader;
  }

  /** Events of one kind (`status`, `snapshot`, ...). */
  of(event: string): StreamEvent[] {
    return this.events.filter((e) => e.event === event);
  }

  /** The id of the last event that had one (what EventSource would send as Last-Event-ID). */
  lastEventId(): string | undefined {
    return this.events.filter((e) => e.id).at(-1)?.id;
  }

  /** The next event (after those already taken by earlier calls) that passes `filter`. */
  async next(
    filter: (e: StreamEvent) => boolean = () => true,
    timeoutMs = 30000,
  ): Promise<StreamEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(this.taken).findIndex(filter);
      if (found >= 0) {
        this.taken += found + 1;
        return this.events[this.taken - 1];
      }
      if (this.ended)
        throw new Error(`The stream ended without the event; it sent: ${this.describe()}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `No such event within ${timeoutMs} ms; the stream sent: ${this.describe()}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.finished;
  }

  private describe(): string {
    return JSON.stringify(this.events.map((e) => [e.id, e.event]));
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}
