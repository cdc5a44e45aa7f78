import { createParser } from 'eventsource-parser';

export interface StreamEvent {
  id?: string;
  event: string;
  data: unknown;
}

export type StreamState = 'connecting' | 'open' | 'waiting' | 'closed';

export interface EventStreamOptions {
  url: string;
  /** Headers of each attempt (the key goes here; an EventSource could not send it). */
  headers: () => Record<string, string>;
  onEvent: (event: StreamEvent) => void;
  onState?: (state: StreamState, detail?: string) => void;
  /** Whether an event ends the stream for good (no reconnect after the server closes). */
  isFinal?: (event: StreamEvent) => boolean;
  /** Wait before attempt `n` (1, 2, ...) after a drop: 1 s doubling to 30 s by default. */
  backoffMs?: (attempt: number) => number;
  fetch?: typeof fetch;
  schedule?: (fn: () => void, ms: number) => () => void;
}

export const defaultBackoff = (attempt: number) => Math.min(30000, 1000 * 2 ** (attempt - 1));

/** A refusal (4xx but 429) is not retried: the key or the request is wrong, not the network. */
function permanent(status: number): boolean {
  return status >= 400 && status < 500 && status !== 429;
}

/**
 * A server-sent event stream read with fetch, that reconnects after a drop (with back-off) and
 * resumes where it was (`Last-Event-ID`), until stopped, refused, or ended by a final event.
 */
export class EventStreamClient {
  private lastEventId: string | undefined;
  private attempt = 0;
  private abort: AbortController | undefined;
  private cancelTimer: (() => void) | undefined;
  private stopped = false;
  private readonly fetchFn: typeof fetch;
  private readonly schedule: (fn: () => void, ms: number) => () => void;

  constructor(private readonly options: EventStreamOptions) {
    this.fetchFn = options.fetch ?? ((...args) => fetch(...args));
    this.schedule =
      options.schedule ??
      ((fn, ms) => {
        const timer = setTimeout(fn, ms);
        return () => clearTimeout(timer);
      });
  }

  get resumeFrom(): string | undefined {
    return this.lastEventId;
  }

  start(): this {
    void this.connect();
    return this;
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.abort?.abort();
    this.options.onState?.('closed');
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.options.onState?.('connecting');
    this.abort = new AbortController();
    let ended: 'final' | 'dropped' | 'refused' = 'dropped';
    let detail: string | undefined;
    try {
      const response = await this.fetchFn(this.options.url, {
        headers: {
          Accept: 'text/event-stream',
          ...this.options.headers(),
          ...(this.lastEventId ? { 'Last-Event-ID': this.lastEventId } : {}),
        },
        signal: this.abort.signal,
      });
      if (!response.ok || !response.body) {
        detail = await messageOf(response);
        ended = permanent(response.status) ? 'refused' : 'dropped';
      } else {
        this.attempt = 0;
        this.options.onState?.('open');
        ended = await this.read(response.body);
      }
    } catch (error) {
      detail = String(error);
    }
    if (this.stopped) return;
    if (ended === 'final' || ended === 'refused') {
      this.stopped = true;
      this.options.onState?.('closed', detail);
      return;
    }
    this.attempt++;
    this.options.onState?.('waiting', detail);
    this.cancelTimer = this.schedule(
      () => void this.connect(),
      (this.options.backoffMs ?? defaultBackoff)(this.attempt),
    );
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<'final' | 'dropped'> {
    let final = false;
    const parser = createParser({
      onEvent: (message) => {
        if (message.id !== undefined) this.lastEventId = message.id;
        let data: unknown = message.data;
        try {
          data = JSON.parse(message.data);
        } catch {
          // Not JSON: handed over as text.
        }
        const event = { id: message.id, event: message.event ?? 'message', data };
        if (this.options.isFinal?.(event)) final = true;
        this.options.onEvent(event);
      },
    });
    const reader = body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } catch {
      // Dropped: reconnect below.
    }
    return final ? 'final' : 'dropped';
  }
}

async function messageOf(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { message?: unknown };
    if (typeof body.message === 'string') return body.message;
  } catch {
    // Not the API's error body.
  }
  return `The stream answered ${response.status}.`;
}
