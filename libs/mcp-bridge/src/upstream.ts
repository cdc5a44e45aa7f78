import type { Readable, Writable } from 'node:stream';
import { asMessage, type JsonRpcMessage } from './jsonrpc';

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

/** Newline-delimited JSON-RPC over the process's stdio; anything else on stdout is a log line. */
export class StdioChannel {
  private stdoutRest = '';
  private stderrRest = '';
  private closed = false;

  constructor(
    private readonly process: UpstreamProcess,
    private readonly onMessage: (message: JsonRpcMessage) => void,
    private readonly onLog: (stream: LogStream, line: string) => void,
  ) {
    process.stdout.setEncoding('utf8');
    process.stderr.setEncoding('utf8');
    process.stdout.on('data', (chunk: string) => {
      this.stdoutRest = this.lines(this.stdoutRest + chunk, (line) => this.stdoutLine(line));
    });
    process.stderr.on('data', (chunk: string) => {
      this.stderrRest = this.lines(this.stderrRest + chunk, (line) => this.onLog('stderr', line));
    });
    process.stdin.on('error', () => undefined);
    void process.exited.then(() => {
      this.closed = true;
      if (this.stdoutRest.trim()) this.stdoutLine(this.stdoutRest);
      if (this.stderrRest.trim()) this.onLog('stderr', this.stderrRest);
    });
  }

  send(message: JsonRpcMessage): boolean {
    if (this.closed || this.process.stdin.destroyed) return false;
    this.process.stdin.write(`${JSON.stringify(message)}\n`);
    return true;
  }

  private lines(text: string, each: (line: string) => void): string {
    let start = 0;
    let nl: number;
    while ((nl = text.indexOf('\n', start)) >= 0) {
      const line = text.slice(start, nl).replace(/\r$/, '');
      if (line.length > 0) each(line);
      start = nl + 1;
    }
    return text.slice(start);
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
