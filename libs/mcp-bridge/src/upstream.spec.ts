import { PassThrough } from 'node:stream';
import type { JsonRpcMessage } from './jsonrpc';
import {
  type DroppedLine,
  type ExitInfo,
  type LogStream,
  StdioChannel,
  type UpstreamProcess,
} from './upstream';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A process that is only its three pipes: the test writes its stdout and stderr. */
interface FakeProcess extends UpstreamProcess {
  stdout: PassThrough;
  stderr: PassThrough;
  exit: (info: ExitInfo) => void;
}

function fakeProcess(): FakeProcess {
  let exit!: (info: ExitInfo) => void;
  const exited = new Promise<ExitInfo>((resolve) => (exit = resolve));
  return {
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    exited,
    exit,
    stop: () => {
      exit({ code: 0, signal: null });
      return exited;
    },
  };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

/** Writes `text` then `size` bytes of filler then `end`, 64 KiB at a time, letting each be read. */
async function writeLong(
  stream: PassThrough,
  text: string,
  size: number,
  end: string,
  each: () => void = () => undefined,
): Promise<void> {
  stream.write(text);
  const chunk = Buffer.alloc(64 * KiB, 0x78);
  for (let sent = 0; sent < size; sent += chunk.length) {
    stream.write(sent + chunk.length <= size ? chunk : chunk.subarray(0, size - sent));
    await turn();
    each();
  }
  stream.write(end);
  await turn();
}

function channel(process: UpstreamProcess, maxLineBytes?: number, withDropped = true) {
  const messages: JsonRpcMessage[] = [];
  const logs: { stream: LogStream; line: string }[] = [];
  const dropped: DroppedLine[] = [];
  const c = new StdioChannel(
    process,
    (m) => messages.push(m),
    (stream, line) => logs.push({ stream, line }),
    { maxLineBytes, ...(withDropped ? { onDropped: (d: DroppedLine) => dropped.push(d) } : {}) },
  );
  return { c, messages, logs, dropped };
}

describe('StdioChannel', () => {
  it('reads messages and log lines, in whatever pieces they come', async () => {
    const p = fakeProcess();
    const { messages, logs } = channel(p);
    p.stdout.write('{"jsonrpc":"2.0","id":1,"res');
    p.stdout.write('ult":{}}\nstarting up\n{not json}\n');
    p.stderr.write('warn');
    // A spawn failure arrives as a string (child-upstream.ts).
    p.stderr.emit('data', 'ing\n');
    await turn();
    expect(messages).toEqual([{ jsonrpc: '2.0', id: 1, result: {} }]);
    expect(logs).toEqual([
      { stream: 'stdout', line: 'starting up' },
      { stream: 'stdout', line: '{not json}' },
      { stream: 'stderr', line: 'warning' },
    ]);
  });

  it('drops a 40 MB response as it streams, holding no more than the limit, and names its id', async () => {
    const p = fakeProcess();
    const { c, messages, dropped } = channel(p);
    let maxHeld = 0;
    await writeLong(
      p.stdout,
      '{"result":{"content":[{"type":"text","text":"',
      40 * 1000 * 1000,
      '"}]},"jsonrpc":"2.0","id":17}\n',
      () => (maxHeld = Math.max(maxHeld, c.heldBytes)),
    );
    expect(maxHeld).toBeLessThanOrEqual(8 * MiB);
    expect(c.heldBytes).toBe(0);
    expect(dropped).toHaveLength(1);
    expect(dropped[0].id).toBe(17);
    expect(dropped[0].method).toBeUndefined();
    expect(dropped[0].bytes).toBeGreaterThan(40 * 1000 * 1000);
    // The next message is read as usual.
    p.stdout.write('{"jsonrpc":"2.0","id":18,"result":{}}\n');
    await turn();
    expect(messages).toEqual([{ jsonrpc: '2.0', id: 18, result: {} }]);
  });

  it('says in a system line that a line was dropped when nobody else is told', async () => {
    const p = fakeProcess();
    const { logs } = channel(p, 64 * KiB, false);
    await writeLong(p.stdout, '', 200 * KiB, '\n');
    expect(logs).toEqual([
      {
        stream: 'system',
        line: "Dropped a 200 KiB line from the server's stdout: over the 64 KiB line limit",
      },
    ]);
  });

  it('cuts a stderr line at the limit, with a marker, and finishes lines when the process exits', async () => {
    const p = fakeProcess();
    const { c, logs } = channel(p, 64 * KiB);
    let maxHeld = 0;
    await writeLong(
      p.stderr,
      'Error: ',
      MiB,
      '\n',
      () => (maxHeld = Math.max(maxHeld, c.heldBytes)),
    );
    expect(maxHeld).toBeLessThanOrEqual(64 * KiB);
    expect(logs).toHaveLength(1);
    expect(logs[0].stream).toBe('stderr');
    expect(logs[0].line.startsWith(`Error: ${'x'.repeat(64 * KiB - 7)} [... cut:`)).toBe(true);
    expect(logs[0].line).toContain(`${MiB + 7} bytes, over the 64 KiB limit`);
    p.stderr.write('last words');
    await turn();
    p.exit({ code: 1, signal: null });
    await p.exited;
    await turn();
    expect(logs[1]).toEqual({ stream: 'stderr', line: 'last words' });
  });
});
