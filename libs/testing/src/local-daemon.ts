import { type ChildProcess, spawn } from 'node:child_process';
import { type Server, connect, createServer } from 'node:net';
import { processes } from './processes';

/**
 * Helpers for the real servers a test runs as its own children on loopback (Dovecot, Radicale):
 * free ports, readiness polling, output kept for error messages, and a stop that waits.
 */

/** A user of a local test server; `user` is the login name (the full address for mail). */
export interface LocalUser {
  user: string;
  password: string;
}

/**
 * Ports free on 127.0.0.1 right now. All are held open until every one is picked, so the same
 * port is not handed out twice; another process may still take one before the daemon binds it,
 * which is why the callers retry on "address in use".
 */
export async function freeLoopbackPorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((server) => (server.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/**
 * Whether 127.0.0.1:port answers a new connection with a greeting line that matches `greeting`
 * (IMAP's `* OK`, SMTP's and LMTP's `220`): the server is ready, not only listening.
 */
export function greets(port: number, greeting: RegExp, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(timeoutMs);
    let received = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (received.includes('\n')) done(greeting.test(received));
    });
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
    socket.once('end', () => done(false));
  });
}

export interface Daemon {
  child: ChildProcess;
  /** The last few KB it wrote to stdout and stderr (or the spawn error), for error messages. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
}

/** Starts a server process in the foreground as a child of the test process. */
export function spawnDaemon(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Daemon {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let tail = '';
  const keep = (chunk: Buffer | string) => void (tail = (tail + String(chunk)).slice(-8192));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | string>((resolve) => {
    child.once('error', (error) => {
      keep(`${error.message}\n`);
      resolve(error.message);
    });
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  return { child, output: () => tail.trim() || '(no output)', exited };
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
}

/**
 * Polls `ready` until it answers true. Fails with `detail()` when the daemon exits first or
 * `timeoutMs` passes; an exit is reported as such so callers can retry on a port taken meanwhile.
 */
export async function waitUntilReady(
  what: string,
  daemon: Daemon,
  ready: () => Promise<boolean>,
  detail: () => string,
  timeoutMs = 15000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (hasExited(daemon.child)) {
      throw new DaemonExitedError(
        `${what} exited (${await daemon.exited}) before it was ready`,
        detail(),
      );
    }
    if (await ready()) return;
    if (Date.now() > deadline) {
      throw new Error(`${what} was not ready within ${timeoutMs} ms:\n${detail()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export class DaemonExitedError extends Error {
  constructor(
    summary: string,
    readonly detail: string,
  ) {
    super(`${summary}:\n${detail}`);
  }
}

/** SIGTERM, then waits for the exit; SIGKILL if it has not exited after `graceMs`. */
export async function stopDaemon(daemon: Daemon, graceMs = 10000): Promise<void> {
  if (hasExited(daemon.child)) return;
  daemon.child.kill('SIGTERM');
  const timer = setTimeout(() => daemon.child.kill('SIGKILL'), graceMs);
  await daemon.exited;
  clearTimeout(timer);
}

/**
 * Waits until no process whose command line mentions `marker` is left (a daemon's own children
 * that end on their own after their master), then SIGKILLs whatever still is after `graceMs`.
 */
export async function waitForProcessesGone(marker: string, graceMs = 5000): Promise<void> {
  const ours = () => processes((p) => p.pid !== process.pid && p.argv.join(' ').includes(marker));
  const deadline = Date.now() + graceMs;
  while (ours().length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (const leftover of ours()) {
    try {
      process.kill(leftover.pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}

/**
 * Refuses user names and passwords the servers' plain-text user files cannot hold (a `:` ends a
 * field, a line break a record), and names that would not be a single URL path segment.
 */
export function checkUsers(what: string, users: readonly LocalUser[]): void {
  if (users.length === 0) throw new Error(`${what}: at least one user is needed`);
  for (const { user, password } of users) {
    if (!/^[A-Za-z0-9._+@-]+$/.test(user)) {
      throw new Error(`${what}: user name ${JSON.stringify(user)} must match [A-Za-z0-9._+@-]+`);
    }
    if (password.length === 0 || /[:\r\n]/.test(password)) {
      throw new Error(
        `${what}: the password of ${user} must be non-empty, without ':' or line breaks`,
      );
    }
  }
}
