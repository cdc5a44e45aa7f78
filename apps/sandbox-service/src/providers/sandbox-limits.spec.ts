import { type ChildProcess, spawn } from 'node:child_process';
import {
  chownSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SandboxCgroup, type SandboxLimits, SandboxWatchdog, prlimitArgs } from './sandbox-limits';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const BASE: SandboxLimits = { memoryMb: 256, maxProcesses: 64, openFiles: 1024, workdirMb: 64 };

const isRoot = process.getuid?.() === 0;
const describeAsRoot = isRoot ? describe : describe.skip;
const asRootTitle = isRoot
  ? 'as root, children under a dedicated uid'
  : 'as root, children under a dedicated uid (SKIPPED: not running as root, cannot run children under another uid)';

// Whether this host gives the platform a cgroup (probed once, removed again).
const probe = isRoot ? SandboxCgroup.create(`jest-probe-${process.pid}`, BASE) : null;
probe?.destroy();
const itWithCgroup = probe ? it : it.skip;
const cgroupTitle = probe
  ? `(cgroup v${probe.version})`
  : '(SKIPPED: no writable cgroup with memory and pids controllers here)';

// Each test runs its children under a uid of its own, so RLIMIT_NPROC and the watchdog's scan see
// only that test's processes.
let nextUid = 61234;
const uids: number[] = [];
const children: ChildProcess[] = [];
const cgroups: SandboxCgroup[] = [];
const dirs: string[] = [];

function newUid(): number {
  const uid = nextUid++;
  uids.push(uid);
  return uid;
}

function tempDir(owner?: number): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sandbox-limits-'));
  dirs.push(dir);
  if (owner !== undefined) chownSync(dir, owner, owner);
  return dir;
}

/** `node -e script` as `uid`, in its own process group (so its own children die with it). */
function runAs(
  uid: number,
  script: string,
  opts: { cwd?: string; prlimit?: string[] } = {},
): ChildProcess {
  const node = [process.execPath, '-e', script];
  const [command, ...args] = opts.prlimit ? ['prlimit', ...opts.prlimit, '--', ...node] : node;
  const child = spawn(command, args, {
    uid,
    gid: uid,
    cwd: opts.cwd ?? '/',
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: '/usr/local/bin:/usr/bin:/bin' },
  });
  children.push(child);
  return child;
}

/** The child's first line on stdout; fails if it ends first or says nothing for 20 s. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const onOut = (chunk: Buffer) => {
      out += chunk.toString();
      const end = out.indexOf('\n');
      if (end >= 0) finish(null, out.slice(0, end));
    };
    const onErr = (chunk: Buffer) => (err += chunk.toString());
    const onClose = (code: number | null, signal: string | null) =>
      finish(new Error(`child ended (${code ?? signal}) without a line; stderr: ${err}`));
    const timer = setTimeout(
      () => finish(new Error(`no line from the child within 20 s; stderr: ${err}`)),
      20_000,
    );
    const finish = (error: Error | null, line?: string) => {
      clearTimeout(timer);
      child.stdout?.off('data', onOut);
      child.stderr?.off('data', onErr);
      child.off('close', onClose);
      if (error) reject(error);
      else resolve(line as string);
    };
    child.stdout?.on('data', onOut);
    child.stderr?.on('data', onErr);
    child.once('close', onClose);
  });
}

/** How the child ended; fails if it still runs after 30 s. */
function ended(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the child still runs after 30 s')), 30_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

function pidsOf(uid: number): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) === uid) pids.push(Number(pid));
    } catch {
      // Gone.
    }
  }
  return pids;
}

afterEach(async () => {
  for (const child of children.splice(0)) {
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // The whole group is gone already.
    }
  }
  for (const cgroup of cgroups.splice(0)) cgroup.destroy();
  // Anything left under the test's uids (e.g. a child that left the group), within 5 s.
  for (const uid of uids.splice(0)) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const left = pidsOf(uid);
      if (left.length === 0) break;
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone.
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('prlimitArgs', () => {
  it('gives nproc, nofile, core=0 and the largest file (the working dir cap), and no --as', () => {
    expect(prlimitArgs({ memoryMb: 256, maxProcesses: 64, openFiles: 1024, workdirMb: 1 })).toEqual(
      ['--nproc=64', '--nofile=1024', '--core=0', '--fsize=1048576'],
    );
  });

  it('refuses limits that are not positive numbers', () => {
    expect(() => prlimitArgs({ ...BASE, maxProcesses: 0 })).toThrow(RangeError);
    expect(() => prlimitArgs({ ...BASE, workdirMb: Number.NaN })).toThrow(RangeError);
  });
});

describe('SandboxWatchdog on the working dir (no processes needed)', () => {
  // A uid nothing runs as: only the working dir can break a limit.
  const idle = 61299;

  it('reports a working dir over its cap with the figures, in GiB when large', async () => {
    const workdir = tempDir();
    // A sparse file: its apparent size counts, without using the disk.
    writeFileSync(path.join(workdir, 'big.bin'), '');
    truncateSync(path.join(workdir, 'big.bin'), Math.floor(1.2 * GiB));
    const watchdog = new SandboxWatchdog({
      uid: idle,
      workdir,
      limits: { ...BASE, workdirMb: 1024 },
      onBreach: () => undefined,
    });
    await expect(watchdog.check()).resolves.toBe(
      'Working directory limit exceeded: 1.2 GiB of 1 GiB (SANDBOX_WORKDIR_MB).',
    );
  });

  it('stops counting once over the cap, and says the figure is a lower bound', async () => {
    const workdir = tempDir();
    for (const name of ['a', 'b', 'c']) {
      writeFileSync(path.join(workdir, name), '');
      truncateSync(path.join(workdir, name), GiB);
    }
    const watchdog = new SandboxWatchdog({
      uid: idle,
      workdir,
      limits: { ...BASE, workdirMb: 1024 },
      onBreach: () => undefined,
    });
    await expect(watchdog.check()).resolves.toBe(
      'Working directory limit exceeded: at least 2 GiB of 1 GiB (SANDBOX_WORKDIR_MB).',
    );
  });

  it('never follows symlinks, and a missing working dir is empty', async () => {
    const workdir = tempDir();
    // Node itself is far bigger than the 1 MiB cap.
    expect(statSync(process.execPath).size).toBeGreaterThan(MiB);
    symlinkSync(process.execPath, path.join(workdir, 'node'));
    symlinkSync('/usr', path.join(workdir, 'usr'));
    const limits = { ...BASE, workdirMb: 1 };
    const onBreach = () => undefined;
    await expect(
      new SandboxWatchdog({ uid: idle, workdir, limits, onBreach }).check(),
    ).resolves.toBeNull();
    const missing = path.join(workdir, 'missing');
    await expect(
      new SandboxWatchdog({ uid: idle, workdir: missing, limits, onBreach }).check(),
    ).resolves.toBeNull();
  });
});

describeAsRoot(asRootTitle, () => {
  const quietScript = `console.log('ready'); setInterval(() => {}, 1000);`;
  // 160 MiB of Buffers whose pages are all written (Buffer.alloc without a fill maps zero pages).
  const hogScript = `const keep = []; for (let i = 0; i < 10; i++) keep.push(Buffer.alloc(16 << 20, 1));
    console.log('ready'); setInterval(() => keep.length, 1000);`;

  describe('SandboxWatchdog', () => {
    it('reports memory over the limit: the resident memory of the uid’s processes', async () => {
      const uid = newUid();
      await firstLine(runAs(uid, hogScript));
      const watchdog = new SandboxWatchdog({
        uid,
        workdir: tempDir(uid),
        limits: { ...BASE, memoryMb: 64 },
        onBreach: () => undefined,
      });
      const reason = await watchdog.check();
      expect(reason).toMatch(
        /^Memory limit exceeded: the server's processes used \d+ MiB of the 64 MiB allowed \(SANDBOX_MEMORY_MB\)\.$/,
      );
      expect(Number(/used (\d+) MiB/.exec(reason as string)?.[1])).toBeGreaterThanOrEqual(160);
    });

    it('reports the process limit reached, counting every process of the uid', async () => {
      const uid = newUid();
      const child = runAs(
        uid,
        `const { spawn } = require('node:child_process');
        for (let i = 0; i < 20; i++) spawn('sleep', ['30'], { stdio: 'ignore' });
        console.log('ready'); setInterval(() => {}, 1000);`,
      );
      await firstLine(child);
      const watchdog = new SandboxWatchdog({
        uid,
        workdir: tempDir(uid),
        limits: { ...BASE, maxProcesses: 16 },
        onBreach: () => undefined,
      });
      const reason = await watchdog.check();
      expect(reason).toMatch(
        /^Process limit reached: \d+ of 16 processes and threads \(SANDBOX_MAX_PROCESSES\)\.$/,
      );
      // 20 sleeps and node with its threads.
      expect(Number(/reached: (\d+)/.exec(reason as string)?.[1])).toBeGreaterThan(21);
    });

    it('reports a working dir over its cap, written by the sandbox’s uid', async () => {
      const uid = newUid();
      const workdir = tempDir(uid);
      await firstLine(
        runAs(
          uid,
          `require('node:fs').writeFileSync('big.bin', Buffer.alloc(3 << 20, 1));
          console.log('ready'); setInterval(() => {}, 1000);`,
          { cwd: workdir },
        ),
      );
      expect(statSync(path.join(workdir, 'big.bin')).uid).toBe(uid);
      const watchdog = new SandboxWatchdog({
        uid,
        workdir,
        limits: { ...BASE, workdirMb: 1 },
        onBreach: () => undefined,
      });
      await expect(watchdog.check()).resolves.toBe(
        'Working directory limit exceeded: 3 MiB of 1 MiB (SANDBOX_WORKDIR_MB).',
      );
    });

    it('finds nothing to report for a quiet server', async () => {
      const uid = newUid();
      await firstLine(runAs(uid, quietScript));
      expect(pidsOf(uid)).toHaveLength(1);
      const watchdog = new SandboxWatchdog({
        uid,
        workdir: tempDir(uid),
        limits: BASE,
        onBreach: () => undefined,
      });
      await expect(watchdog.check()).resolves.toBeNull();
    });

    it('once started, calls onBreach once with the reason and stops watching', async () => {
      const uid = newUid();
      await firstLine(runAs(uid, hogScript));
      const reasons: string[] = [];
      let breached: () => void = () => undefined;
      const breach = new Promise<void>((resolve) => (breached = resolve));
      const watchdog = new SandboxWatchdog({
        uid,
        workdir: tempDir(uid),
        limits: { ...BASE, memoryMb: 64 },
        intervalMs: 20,
        onBreach: (reason) => {
          reasons.push(reason);
          breached();
        },
      });
      watchdog.start();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        breach,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('no breach reported within 20 s')), 20_000);
        }),
      ]);
      clearTimeout(timer);
      // Ten more intervals: a watchdog that kept watching would have reported again.
      await new Promise((resolve) => setTimeout(resolve, 200));
      watchdog.stop();
      expect(reasons).toHaveLength(1);
      expect(reasons[0]).toMatch(/^Memory limit exceeded: /);
    });
  });

  describe('prlimitArgs under prlimit(1)', () => {
    it('stops a write past the largest file (fsize = workdirMb) with EFBIG', async () => {
      const uid = newUid();
      const workdir = tempDir(uid);
      const child = runAs(
        uid,
        `try { require('node:fs').writeFileSync('big.bin', Buffer.alloc(2 << 20, 1)); console.log('written'); }
        catch (error) { console.log(error.code); }`,
        { cwd: workdir, prlimit: prlimitArgs({ ...BASE, workdirMb: 1 }) },
      );
      expect(await firstLine(child)).toBe('EFBIG');
      expect(statSync(path.join(workdir, 'big.bin')).size).toBeLessThanOrEqual(MiB);
    });

    it('holds the uid to maxProcesses tasks (nproc): forks past it fail with EAGAIN', async () => {
      const uid = newUid();
      const child = runAs(
        uid,
        `const { spawn } = require('node:child_process');
        let spawned = 0; const errors = new Set();
        for (let i = 0; i < 30; i++) {
          const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
          sleeper.on('error', (error) => errors.add(error.code));
          if (sleeper.pid) spawned++;
        }
        setImmediate(() => console.log(JSON.stringify({ spawned, errors: [...errors] })));
        setInterval(() => {}, 1000);`,
        { prlimit: prlimitArgs({ ...BASE, maxProcesses: 16 }) },
      );
      const result = JSON.parse(await firstLine(child)) as { spawned: number; errors: string[] };
      expect(result.errors).toContain('EAGAIN');
      expect(result.spawned).toBeLessThan(16);
      const watchdog = new SandboxWatchdog({
        uid,
        workdir: tempDir(uid),
        limits: { ...BASE, maxProcesses: 16 },
        onBreach: () => undefined,
      });
      await expect(watchdog.check()).resolves.toMatch(/^Process limit reached: 16 of 16 /);
    });
  });

  describe(`SandboxCgroup ${cgroupTitle}`, () => {
    const waitForGo = `process.stdin.once('data', () => go()); console.log('ready');`;

    itWithCgroup('has the kernel kill a task past memoryMb, and says memory', async () => {
      const uid = newUid();
      const cgroup = SandboxCgroup.create(`jest-${process.pid}-memory`, {
        ...BASE,
        memoryMb: 64,
      }) as SandboxCgroup;
      cgroups.push(cgroup);
      const child = runAs(
        uid,
        `function go() { const keep = []; for (let i = 0; i < 32; i++) keep.push(Buffer.alloc(16 << 20, 1));
          console.log('survived 512 MiB'); }
        ${waitForGo}`,
      );
      await firstLine(child);
      expect(cgroup.breach()).toBeNull();
      cgroup.add(child.pid as number);
      child.stdin?.write('go\n');
      expect(await ended(child)).toEqual({ code: null, signal: 'SIGKILL' });
      expect(cgroup.breach()).toBe('memory');
    });

    itWithCgroup(
      'refuses forks past maxProcesses, says pids, and destroy() kills the rest',
      async () => {
        const uid = newUid();
        const cgroup = SandboxCgroup.create(`jest-${process.pid}-pids`, {
          ...BASE,
          maxProcesses: 12,
        }) as SandboxCgroup;
        cgroups.push(cgroup);
        const child = runAs(
          uid,
          `function go() {
          const { spawn } = require('node:child_process'); const errors = new Set();
          for (let i = 0; i < 30; i++) spawn('sleep', ['30'], { stdio: 'ignore' }).on('error', (e) => errors.add(e.code));
          setImmediate(() => console.log(JSON.stringify([...errors])));
        }
        process.stdin.once('data', () => go()); setInterval(() => {}, 1000);`,
        );
        cgroup.add(child.pid as number);
        child.stdin?.write('go\n');
        expect(JSON.parse(await firstLine(child))).toContain('EAGAIN');
        expect(cgroup.breach()).toBe('pids');
        cgroup.destroy();
        expect(await ended(child)).toEqual({ code: null, signal: 'SIGKILL' });
      },
    );
  });
});
