import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type RawAmqpClient, REPO_ROOT } from '@athenic/testing';

export const MEMORY_SERVER_ENTRY = path.join(
  REPO_ROOT,
  'mcp-packages/modelcontextprotocol__server-memory/node_modules/@modelcontextprotocol/server-memory/dist/index.js',
);

/** Installs the baseline tools (supergateway) into bench/baselines once. */
export function baselineBin(name: string, script: string): string {
  const dir = path.join(REPO_ROOT, 'bench', 'baselines');
  const entry = path.join(dir, 'node_modules', name, script);
  if (!fs.existsSync(entry)) {
    process.stdout.write(`installing benchmark baselines into ${dir}\n`);
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
      cwd: dir,
      stdio: 'inherit',
    });
  }
  return entry;
}

export function startProcess(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): ChildProcess {
  return spawn(command, args, {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export async function waitForPort(port: number, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(500) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`nothing listens on port ${port}`);
}

export function line(label: string, figures: { p50: number; p99: number; mean?: number }): string {
  return `  ${label.padEnd(58)} p50 ${figures.p50.toFixed(2).padStart(7)} ms   p99 ${figures.p99.toFixed(2).padStart(7)} ms`;
}

/** A tap on the bus's status-changed events (RawAmqpClient.tap). */
export type StatusTap = Pick<Awaited<ReturnType<RawAmqpClient['tap']>>, 'messages'>;

/**
 * When (by `clock`) the tap saw a connection reach mcpRunning; rejects with the reason on
 * mcpError, or after 60 s without either.
 */
export function runningAt(
  tap: StatusTap,
  id: string,
  clock: () => number = Date.now,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const deadline = Date.now() + 60000;
    const poll = () => {
      const event = tap.messages
        .map((m) => JSON.parse(m.body).data)
        .find((e) => e.connection_id === id && (e.to === 'mcpRunning' || e.to === 'mcpError'));
      if (event?.to === 'mcpRunning') return resolve(clock());
      if (event || Date.now() > deadline)
        return reject(new Error(`connection ${id}: ${event?.reason ?? 'no answer'}`));
      setTimeout(poll, 2);
    };
    poll();
  });
}

/** Stops a child that exits when its stdin closes; SIGKILL if it is still there after 5 s. */
export async function stopByStdin(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stdin!.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
