import { EventStreamClient, type StreamEvent, type StreamState } from './event-stream';

/** A response whose body is these SSE chunks, then ends (the connection drops). */
function sse(...chunks: string[]): Response {
  const encoder = new TextEncoder();
  return new Response(
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
        controller.close();
      },
    }),
    { status: 200, headers: { 'content-type': 'text/event-stream' } },
  );
}

/** A client over scripted responses, its timers run by hand. */
function harness(
  responses: (() => Response | Promise<Response>)[],
  isFinal?: (e: StreamEvent) => boolean,
) {
  const requests: Headers[] = [];
  const events: StreamEvent[] = [];
  const states: StreamState[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  let settle!: () => void;
  let settled = new Promise<void>((resolve) => (settle = resolve));
  const client = new EventStreamClient({
    url: 'http://console.test/stream',
    headers: () => ({ Authorization: 'Bearer ak_test' }),
    onEvent: (e) => events.push(e),
    onState: (s) => {
      states.push(s);
      if (s === 'waiting' || s === 'closed') {
        settle();
        settled = new Promise<void>((resolve) => (settle = resolve));
      }
    },
    isFinal,
    fetch: (async (_url: unknown, init?: RequestInit) => {
      requests.push(new Headers(init?.headers));
      const next = responses.shift();
      if (!next) throw new TypeError('fetch failed');
      return next();
    }) as typeof fetch,
    schedule: (fn, ms) => {
      timers.push({ fn, ms });
      return () => undefined;
    },
  });
  return {
    client,
    requests,
    events,
    states,
    timers,
    /** Until the stream drops or closes. */
    next: () => settled,
  };
}

describe('the console event stream client', () => {
  it('parses events, and on a drop reconnects after a back-off from the last event id', async () => {
    const h = harness([
      () =>
        sse(
          'id: 1\nevent: status\ndata: {"connection_id":"c1","to":"mcpRunning"}\n\n',
          ': heartbeat\n\n',
        ),
      () => sse('id: 2\nevent: status\ndata: {"connection_id":"c1","to":"mcpStopped"}\n\n'),
    ]);
    const first = h.next();
    h.client.start();
    await first;
    expect(h.events).toEqual([
      { id: '1', event: 'status', data: { connection_id: 'c1', to: 'mcpRunning' } },
    ]);
    expect(h.requests[0].get('authorization')).toBe('Bearer ak_test');
    expect(h.requests[0].get('last-event-id')).toBeNull();
    expect(h.timers.map((t) => t.ms)).toEqual([1000]);
    const second = h.next();
    h.timers[0].fn();
    await second;
    expect(h.requests[1].get('last-event-id')).toBe('1');
    expect(h.events.map((e) => e.id)).toEqual(['1', '2']);
    // An open stream resets the back-off.
    expect(h.timers.map((t) => t.ms)).toEqual([1000, 1000]);
    h.client.stop();
    expect(h.states[h.states.length - 1]).toBe('closed');
  });

  it('backs off longer after each failed attempt, up to 30 s', async () => {
    const h = harness([]);
    for (let i = 0; i < 7; i++) {
      const dropped = h.next();
      if (i === 0) h.client.start();
      else h.timers[i - 1].fn();
      await dropped;
    }
    expect(h.timers.map((t) => t.ms)).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    h.client.stop();
  });

  it('stops for good on a refusal (a wrong key), and after a final event', async () => {
    const refused = harness([
      () => new Response(JSON.stringify({ message: 'The API key is not valid.' }), { status: 401 }),
    ]);
    const closed = refused.next();
    refused.client.start();
    await closed;
    expect(refused.states).toEqual(['connecting', 'closed']);
    expect(refused.timers).toEqual([]);

    const finished = harness(
      [
        () =>
          sse(
            'id: 3.f\nevent: tool_call.finished\ndata: {}\n\n',
            'id: end\nevent: run.finished\ndata: {"status":"completed"}\n\n',
          ),
      ],
      (e) => e.event === 'run.finished',
    );
    const ended = finished.next();
    finished.client.start();
    await ended;
    expect(finished.events.map((e) => e.event)).toEqual(['tool_call.finished', 'run.finished']);
    expect(finished.states[finished.states.length - 1]).toBe('closed');
    expect(finished.timers).toEqual([]);
  });

  it('retries a 429 or a 503 (the platform is busy or restarting), not only network errors', async () => {
    const h = harness([
      () => new Response('{}', { status: 429 }),
      () => new Response('{}', { status: 503 }),
    ]);
    let dropped = h.next();
    h.client.start();
    await dropped;
    dropped = h.next();
    h.timers[0].fn();
    await dropped;
    expect(h.states.filter((s) => s === 'waiting')).toHaveLength(2);
    h.client.stop();
  });
});
