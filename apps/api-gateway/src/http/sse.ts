import type { ServerResponse } from 'node:http';

/** A client that has not read this much of what it was sent is dropped (it may resume). */
export const SSE_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/**
 * One server-sent event stream on a response: events written as `id`/`event`/`data` lines (data
 * as one line of JSON), comments for heartbeats. A client that reads too slowly is not buffered
 * for without end: once SSE_MAX_BUFFERED_BYTES are waiting, the stream is ended (the client
 * resumes with Last-Event-ID). `closed` once ended, by us or by the client.
 */
export class SseStream {
  private ended = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly onEnd: () => void,
  ) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // Proxies (nginx in deploy/compose) must pass each event on at once.
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    res.on('close', () => this.end());
  }

  get closed(): boolean {
    return this.ended;
  }

  send(event: string, data: unknown, id?: string): void {
    const lines = `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    this.write(lines);
  }

  comment(text: string): void {
    this.write(`: ${text}\n\n`);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd();
    if (!this.res.writableEnded) this.res.end();
  }

  private write(chunk: string): void {
    if (this.ended) return;
    this.res.write(chunk);
    if (this.res.writableLength > SSE_MAX_BUFFERED_BYTES) this.end();
  }
}
