import { REPO_ROOT } from '@athenic/testing';
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// `npm start`'s supervisor (scripts/keep-running.js) with real child processes.
const SCRIPT = path.join(REPO_ROOT, 'scripts', 'keep-running.js');

function supervise(childSource: string): { proc: ChildProcess; output: () => string } {
  const proc = spawn(process.execPath, [SCRIPT, 'demo', process.execPath, '-e', childSource], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  proc.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  proc.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { proc, output: () => text };
}

function exited(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve(proc.exitCode);
    proc.once('exit', (code) => resolve(code));
  });
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 50));
}

describe('keep-running: a dead service is started again', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keep-running-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('restarts a crashing service with a log line, then passes SIGTERM on and stops', async () => {
    // Crashes twice (a throw, then a kill by signal), then stays up.
    const counter = path.join(dir, 'starts');
    const { proc, output } = supervise(`
      const fs = require('fs');
      const n = fs.existsSync(${JSON.stringify(counter)}) ? Number(fs.readFileSync(${JSON.stringify(counter)}, 'utf8')) : 0;
      fs.writeFileSync(${JSON.stringify(counter)}, String(n + 1));
      if (n === 0) throw new Error('boom');
      if (n === 1) process.kill(process.pid, 'SIGKILL');
      console.log('up, start ' + (n + 1));
      process.on('SIGTERM', () => { console.log('stopping on SIGTERM'); process.exit(0); });
      setInterval(() => undefined, 1000);
    `);
    await until(() => output().includes('up, start 3'));
    expect(output()).toContain('demo died (exit code 1); restarting in 1 s');
    expect(output()).toContain('demo died (signal SIGKILL); restarting in 2 s');
    proc.kill('SIGTERM');
    expect(await exited(proc)).toBe(0);
    expect(output()).toContain('stopping on SIGTERM');
    expect(fs.readFileSync(counter, 'utf8')).toBe('3');
  });

  it('does not restart a service refused by its configuration (exit 78)', async () => {
    const { proc, output } = supervise(`console.error('bad PORT'); process.exit(78);`);
    expect(await exited(proc)).toBe(78);
    expect(output()).toContain('bad PORT');
    expect(output()).not.toContain('restarting');
  });

  it('stops when the service stops on its own with exit 0', async () => {
    const { proc, output } = supervise(`console.log('done');`);
    expect(await exited(proc)).toBe(0);
    expect(output()).not.toContain('restarting');
  });
});
