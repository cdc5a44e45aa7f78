import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './repo';

export const SERVICE_NAMES = [
  'api-gateway',
  'registry-service',
  'credential-service',
  'sandbox-service',
  'agent-runner',
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface LogLine {
  raw: string;
  json?: Record<string, unknown>;
}

/**
 * One service of the platform as a real child process, run from the build in dist/. Its output
 * is kept for assertions (log contents, correlation ids, the absence of secrets).
 */
export class ServiceProcess {
  readonly lines: LogLine[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);
  private waiters: { test: (line: LogLine) => boolean; resolve: () => void }[] = [];

  constructor(
    readonly name: ServiceName,
    private env: Record<string, string>,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process and waits for its "ready" log line. */
  // 60 s: on a busy two-core machine, loading the agent runner's modules alone has taken 30.
  async start(extraEnv: Record<string, string> = {}, timeoutMs = 60000): Promise<void> {
    const entry = path.join(REPO_ROOT, 'dist', 'apps', this.name, 'src', 'main.js');
    if (!fs.existsSync(entry))
      throw new Error(`${entry} is missing: run "npm run build" before the tests`);
    this.env = { ...this.env, ...extraEnv };
    const child = spawn(process.execPath, ['--enable-source-maps', entry], {
      cwd: REPO_ROOT,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const collect = (stream: NodeJS.ReadableStream) => {
      let buffer = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          this.push(buffer.slice(0, nl));
          buffer = buffer.slice(nl + 1);
        }
      });
    };
    collect(child.stdout!);
    collect(child.stderr!);
    const since = this.lines.length;
    const ready = this.waitForLog(
      (l) => typeof l.json?.msg === 'string' && / ready[ :]/.test(l.json.msg),
      timeoutMs,
      since,
    );
    const died = this.exited.then((code) => {
      throw new Error(
        `${this.name} exited with code ${code} before it was ready:\n${this.tail(30)}`,
      );
    });
    await Promise.race([ready, died]);
  }

  private push(raw: string): void {
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    const line = { raw, json };
    this.lines.push(line);
    this.waiters = this.waiters.filter((w) => {
      if (!w.test(line)) return true;
      w.resolve();
      return false;
    });
  }

  /** Waits for a log line; `since` skips the lines written before that index (earlier runs). */
  waitForLog(test: (line: LogLine) => boolean, timeoutMs = 15000, since = 0): Promise<void> {
    if (this.lines.slice(since).some(test)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `${this.name}: no matching log line within ${timeoutMs} ms:\n${this.tail(20)}`,
            ),
          ),
        timeoutMs,
      );
      this.waiters.push({ test, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  tail(count: number): string {
    return this.lines
      .slice(-count)
      .map((l) => l.raw)
      .join('\n');
  }

  /** SIGTERM and wait for the exit; SIGKILL after the grace period. */
  async stop(graceMs = 12000): Promise<number | null> {
    if (!this.running) return this.exited;
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** kill -9: no chance to clean up. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGKILL');
    await this.exited;
  }
}
