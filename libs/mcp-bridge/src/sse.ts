import type { ServerResponse } from 'node:http';

/** A Server-Sent Events response, flushed message by message (no buffering anywhere). */
export class SseStream {
  private readonly keepAlive: NodeJS.Timeout;
  closed = false;

  constructor(
    readonly res: ServerResponse,
    headers: Record<string, string>,
    onClose: () => void,
  ) {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...headers,
    });
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    // A comment now and then keeps idle proxies from closing the stream.
    this.keepAlive = setInterval(() => this.res.write(': keep-alive\n\n'), 15000);
    this.keepAlive.unref();
    res.on('close', () => {
      this.closed = true;
      clearInterval(this.keepAlive);
      onClose();
    });
  }

  send(data: unknown, eventId?: string): void {
    if (this.closed) return;
    this.res.write(
      `event: message\n${eventId ? `id: ${eventId}\n` : ''}data: ${JSON.stringify(data)}\n\n`,
    );
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepAlive);
    this.res.end();
  }
}
