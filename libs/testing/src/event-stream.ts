import { createParser } from 'eventsource-parser';

/** One server-sent event as a test sees it: `data` parsed as JSON. */
export interface StreamEvent {
  id?: string;
  event: string;
  data: any;
}

/**
 * A server-sent event stream read with fetch and eventsource-parser (unlike EventSource, it can
 * send the Authorization header). Every event received is in `events`, in order; `opened` says
 * how the server answered (the JSON error body in `error` when it was not a stream).
 */
export class EventStreamReader {
  readonly events: StreamEvent[] = [];
  ended = false;
  private done: Promise<void> = Promise.resolve();

  private constructor(
    readonly status: number,
    readonly error: any,
    private readonly abort: AbortController,
  ) {}

  static async open(
    url: string,
    key: string,
    options: { lastEventId?: string } = {},
  ): Promise<EventStreamReader> {
    const abort = new AbortController();
    const res = await fetch(url, {
      headers: {
        authorization: `Bearer ${key}`,
        accept: 'text/event-stream',
        ...(options.lastEventId ? { 'last-event-id': options.lastEventId } : {}),
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
      onEvent: (message) =>
        reader.events.push({
          id: message.id,
          event: message.event ?? 'message',
          data: message.data ? JSON.parse(message.data) : undefined,
        }),
    });
    const body = res.body.getReader();
    reader.done = (async () => {
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

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}
