import type { Readable, Writable } from 'node:stream';
import { asMessage, type Envelope, type JsonRpcMessage, peekEnvelope } from './jsonrpc';
import { DEFAULT_LIMITS, formatBytes } from './limits';
import { LineReader } from './line-reader';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why the platform stopped it, when it did (a limit broken): "was stopped: ...". */
  reason?: string;
}

/** The stdio server process, however the provider started it (bubblewrap, directly, in E2B). */
export interface UpstreamProcess {
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  /** Resolves when the process has exited (and been reaped). */
  exited: Promise<ExitInfo>;
  /** SIGTERM, then SIGKILL after the grace period; resolves once it is gone. */
  stop(graceMs?: number): Promise<ExitInfo>;
}

export type LogStream = 'stdout' | 'stderr' | 'system';

/** A stdout line over the limit, dropped as it streamed in, and what its two ends told of it. */
export interface DroppedLine extends Envelope {
  /** Its length in bytes. */
  bytes: number;
}

export interface StdioChannelOptions {
  /** The longest stdout or stderr line kept, in bytes (limits.ts; default 8 MiB). */
  maxLineBytes?: number;
  /** A stdout line over the limit was dropped; without this, a 'system' log line says so. */
  onDropped?: (line: DroppedLine) => void;
}

/** Of a dropped line, the bytes kept at each end to find its id and method (jsonrpc.ts, peekEnvelope). */
export const DROPPED_LINE_ENDS_BYTES = 1024;

/**
 * Newline-delimited JSON-RPC over the process's stdio; anything else on stdout is a log line.
 * Lines are read in linear time and bounded (line-reader.ts): a stdout line over `maxLineBytes`
 * is dropped as it streams, keeping only its ends to tell whom it was for; a stderr line over it
 * is cut at the limit, with a marker.
 */
export class StdioChannel {
  private readonly stdout: LineReader;
  private readonly stderr: LineReader;
  private closed = false;

  constructor(
    private readonly process: UpstreamProcess,
    private readonly onMessage: (message: JsonRpcMessage) => void,
    private readonly onLog: (stream: LogStream, line: string) => void,
    options: StdioChannelOptions = {},
  ) {
    const maxLineBytes = options.maxLineBytes ?? DEFAULT_LIMITS.maxLineBytes;
    const limit = formatBytes(maxLineBytes);
    const onDropped =
      options.onDropped ??
      ((line: DroppedLine) =>
        onLog(
          'system',
          `Dropped a ${formatBytes(line.bytes)} line from the server's stdout: over the ${limit} line limit`,
        ));
    const ends = Math.min(DROPPED_LINE_ENDS_BYTES, maxLineBytes);
    this.stdout = new LineReader({
      maxLineBytes,
      keepHeadBytes: ends,
      keepTailBytes: ends,
      onLine: (line) => this.stdoutLine(line),
      onOverlong: ({ bytes, head, tail }) =>
        onDropped({ bytes, ...peekEnvelope(head.toString('utf8'), tail.toString('utf8')) }),
    });
    this.stderr = new LineReader({
      maxLineBytes,
      keepHeadBytes: maxLineBytes,
      keepTailBytes: 0,
      onLine: (line) => this.onLog('stderr', line),
      onOverlong: ({ bytes, head }) =>
        this.onLog(
          'stderr',
          `${head.toString('utf8')} [... cut: the line had ${bytes} bytes, over the ${limit} limit]`,
        ),
    });
    process.stdout.on('data', (chunk: Buffer | string) => this.stdout.push(chunk));
    process.stderr.on('data', (chunk: Buffer | string) => this.stderr.push(chunk));
    process.stdin.on('error', () => undefined);
    void process.exited.then(() => {
      this.closed = true;
      this.stdout.end();
      this.stderr.end();
    });
  }

  /** Bytes of unfinished lines held in memory (for tests: it stays within the limit). */
  get heldBytes(): number {
    return this.stdout.heldBytes + this.stderr.heldBytes;
  }

  send(message: JsonRpcMessage): boolean {
    if (this.closed || this.process.stdin.destroyed) return false;
    this.process.stdin.write(`${JSON.stringify(message)}\n`);
    return true;
  }

  private stdoutLine(line: string): void {
    if (line.charCodeAt(0) === 123 /* { */) {
      try {
        const message = asMessage(JSON.parse(line));
        if (typeof message !== 'string') return this.onMessage(message);
      } catch {
        // Not JSON after all: a log line.
      }
    }
    this.onLog('stdout', line);
  }
}
