import { createParser } from 'eventsource-parser';

/** One server-sent event, its data parsed as JSON. */
export interface StreamEvent {
  id?: string;
  event: string;
  data: any;
}

/**
 * A server-sent event stream read as a client reads it (fetch, with the key in a header), its
 * events parsed by eventsource-parser. `next(filter)` waits for the next event that passes;
 * `ended` resolves when the server ends the stream; `close()` hangs up.
 */
export class EventStreamReader {
  readonly events: StreamEvent[] = [];
  /** Comment lines (heartbeats) seen. */
  comments = 0;
  /** Events already handed out by next(). */
  private taken = 0;
  private readonly waiters: (() => void)[] = [];
  private done = false;
  private readonly abort = new AbortController();
  readonly ended: Promise<void>;
  status = 0;
  body: unknown;

  private constructor(private readonly response: Response) {
    this.status = response.status;
    this.ended = this.pump();
  }

  static async open(
    url: string,
    key: string,
    headers: Record<string, string> = {},
  ): Promise<EventStreamReader> {
    const abort = new AbortController();
    const response = await fetch(url, {
      headers: { Authorization: `Bearer ${key}`, Accept: 'text/event-stream', ...headers },
      signal: abort.signal,
    });
    const reader = new EventStreamReader(response);
    reader.abort.signal.addEventListener('abort', () => abort.abort());
    return reader;
  }

  private async pump(): Promise<void> {
    if (!this.response.headers.get('content-type')?.startsWith('text/event-stream')) {
      const text = await this.response.text();
      try {
        this.body = JSON.parse(text);
      } catch {
        this.body = text;
      }
      this.finish();
      return;
    }
    const parser = createParser({
      onEvent: (message) => {
        this.events.push({
          id: message.id,
          event: message.event ?? 'message',
          data: JSON.parse(message.data),
        });
        this.wake();
      },
      onComment: () => {
        this.comments++;
      },
    });
    const decoder = new TextDecoder();
    try {
      for await (const chunk of this.response.body as unknown as AsyncIterable<Uint8Array>)
        parser.feed(decoder.decode(chunk, { stream: true }));
    } catch {
      // Hung up by close(), or the connection dropped: the stream is over either way.
    }
    this.finish();
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
      if (this.done)
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

  close(): void {
    this.abort.abort();
  }

  private describe(): string {
    return JSON.stringify(this.events.map((e) => [e.id, e.event]));
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  private finish(): void {
    this.done = true;
    this.wake();
  }
}
