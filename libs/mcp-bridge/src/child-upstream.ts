import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';
import type { ExitInfo, UpstreamProcess } from './upstream';

/**
 * A spawned process as an upstream: in its own process group, so stopping it reaches every
 * process it started; SIGTERM first, SIGKILL after the grace period; always reaped.
 */
export class ChildUpstream implements UpstreamProcess {
  readonly exited: Promise<ExitInfo>;
  private exit: ExitInfo | undefined;

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      // Spawning itself failed (no such command): report it as an exit, with the reason on stderr.
      child.once('error', (error) => {
        if (this.exit) return;
        child.stderr?.emit('data', `${error.message}\n`);
        this.exit = { code: 127, signal: null };
        resolve(this.exit);
      });
    });
  }

  static spawn(command: string, args: string[], options: SpawnOptions): ChildUpstream {
    return new ChildUpstream(
      spawn(command, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'], detached: true }),
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get stdin() {
    return this.child.stdin!;
  }

  get stdout() {
    return this.child.stdout!;
  }

  get stderr() {
    return this.child.stderr!;
  }

  async stop(graceMs = 5000): Promise<ExitInfo> {
    if (this.exit) return this.exit;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    const info = await this.exited;
    clearTimeout(timer);
    return info;
  }

  private signal(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (!pid) return;
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        this.child.kill(signal);
      } catch {
        // Already gone.
      }
    }
  }
}
