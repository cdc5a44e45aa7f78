import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

/** The resource limits of one sandbox (one server and everything it starts). */
export interface SandboxLimits {
  /** Resident memory of all the sandbox's processes together, in MiB (SANDBOX_MEMORY_MB). */
  memoryMb: number;
  /** Tasks of the sandbox: processes AND their threads, as the kernel counts them for RLIMIT_NPROC and pids.max (SANDBOX_MAX_PROCESSES). */
  maxProcesses: number;
  /** RLIMIT_NOFILE: open file descriptors per process. */
  openFiles: number;
  /** Size cap of the working dir, in MiB; also the largest single file (SANDBOX_WORKDIR_MB). */
  workdirMb: number;
  /** Relative CPU weight (cgroup v1 cpu.shares scale, 2..262144; 1024 is the default) where a cgroup is available. */
  cpuShares?: number;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/**
 * The prlimit(1) options that put hard (= soft) rlimits under the server: processes (RLIMIT_NPROC,
 * per real uid, so per sandbox once each sandbox has its own uid), open files, no core dumps,
 * and the largest single file it may write (the working dir's cap; a bigger write fails with
 * EFBIG, Node ignores SIGXFSZ). Use as `['prlimit', ...prlimitArgs(limits), '--', ...command]`.
 *
 * No address-space cap (--as), on purpose. Measured with Node 20.20 on x86_64 and
 * --max-old-space-size=256, the smallest --as that works is 712 MiB for `console.log(1 + 1)`,
 * about 1.1 GiB for a script that builds a heap of a million objects, about 1.2 GiB to hold
 * 256 MiB of Buffers, and 10.7 GiB (10952 MiB) as soon as any WebAssembly module is
 * instantiated, 10.9 GiB (11211 MiB) for a `fetch()` (undici's HTTP parser is WebAssembly):
 * V8 reserves an 8 GiB + guard region of address space per wasm memory, and
 * --wasm-enforce-bounds-checks does not change that. A cap an ordinary MCP server (which uses
 * fetch) survives limits nothing, and a tighter one kills servers with SIGTRAP/SIGABRT instead of
 * a reason; resident memory is capped by the cgroup and the watchdog instead.
 */
export function prlimitArgs(limits: SandboxLimits): string[] {
  return [
    `--nproc=${whole(limits.maxProcesses, 'maxProcesses')}`,
    `--nofile=${whole(limits.openFiles, 'openFiles')}`,
    '--core=0',
    `--fsize=${whole(limits.workdirMb * MiB, 'workdirMb')}`,
  ];
}

function whole(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 1) {
    throw new RangeError(`${name} must be a positive number, not ${value}`);
  }
  return Math.floor(value);
}

export interface SandboxWatchdogOptions {
  /** The sandbox's own uid: every process whose real uid is this one belongs to the sandbox. */
  uid: number;
  /** The working dir on the host. */
  workdir: string;
  limits: SandboxLimits;
  /** How often to sample; 1000 ms unless told. */
  intervalMs?: number;
  /** Called once, with a sentence for the user, on the first limit broken; watching stops. */
  onBreach: (reason: string) => void;
  /** A limit the kernel enforced already (the sandbox's cgroup), as a reason; checked first. */
  kernelBreach?: () => string | null;
}

/**
 * Watches one sandbox: every `intervalMs` it sums the resident memory and counts the tasks of
 * the sandbox's uid (from /proc/<pid>/status), and measures the working dir; on the first limit
 * broken it calls `onBreach(reason)` once and stops. The caller stops the server.
 *
 * Memory is the sum of VmRSS, so pages shared between the sandbox's processes count once per
 * process: an overestimate, never an underestimate.
 */
export class SandboxWatchdog {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private busy = false;

  constructor(private readonly opts: SandboxWatchdogOptions) {}

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.tick(), this.opts.intervalMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * One sample: the reason of the first limit broken, or null. Calls no callback. The processes
   * come from a scan of /proc at most `maxAgeMs` old, shared by every watchdog of the process.
   */
  async check(maxAgeMs = 0): Promise<string | null> {
    const { uid, workdir, limits } = this.opts;
    const enforced = this.opts.kernelBreach?.();
    if (enforced) return enforced;
    const usage = usageOf(uid, maxAgeMs);
    const memoryCap = limits.memoryMb * MiB;
    if (usage.rssBytes > memoryCap) {
      return `Memory limit exceeded: the server's processes used ${size(usage.rssBytes, true)} of the ${size(memoryCap)} allowed (SANDBOX_MEMORY_MB).`;
    }
    if (usage.tasks >= limits.maxProcesses) {
      return `Process limit reached: ${usage.tasks} of ${limits.maxProcesses} processes and threads (SANDBOX_MAX_PROCESSES).`;
    }
    const workdirCap = limits.workdirMb * MiB;
    const dir = await directorySize(workdir, workdirCap);
    if (dir.bytes > workdirCap) {
      return `Working directory limit exceeded: ${dir.complete ? '' : 'at least '}${size(dir.bytes, true)} of ${size(workdirCap)} (SANDBOX_WORKDIR_MB).`;
    }
    return null;
  }

  private async tick(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      // Watchdogs ticking within half an interval of each other share one scan of /proc.
      const reason = await this.check((this.opts.intervalMs ?? 1000) / 2);
      if (reason !== null && !this.stopped) {
        this.stop();
        this.opts.onBreach(reason);
      }
    } catch (error) {
      process.emitWarning(`Sandbox watchdog (uid ${this.opts.uid}): ${String(error)}`);
    } finally {
      this.busy = false;
    }
  }
}

interface Usage {
  rssBytes: number;
  tasks: number;
}

/** The last scan of /proc: resident memory and tasks per real uid. */
let snapshot: { at: number; byUid: Map<number, Usage> } | undefined;

/** Resident memory and tasks of every process whose real uid is `uid`, from a scan at most `maxAgeMs` old. */
function usageOf(uid: number, maxAgeMs: number): Usage {
  const now = Date.now();
  if (!snapshot || now - snapshot.at > maxAgeMs) snapshot = { at: now, byUid: scanProcesses() };
  return snapshot.byUid.get(uid) ?? { rssBytes: 0, tasks: 0 };
}

/** One pass over /proc: every process's real uid, resident memory and threads, summed per uid. */
function scanProcesses(): Map<number, Usage> {
  const byUid = new Map<number, Usage>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, 'latin1');
    } catch {
      continue; // Gone since the listing.
    }
    const real = /^Uid:\s+(\d+)/m.exec(status);
    if (!real) continue;
    const usage = byUid.get(Number(real[1])) ?? { rssBytes: 0, tasks: 0 };
    usage.tasks += Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 1);
    // Zombies and kernel threads have no VmRSS.
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    if (rss) usage.rssBytes += Number(rss[1]) * 1024;
    byUid.set(Number(real[1]), usage);
  }
  return byUid;
}

/**
 * The size of everything under `root` (each entry's apparent or allocated size, whichever is
 * larger; hard links once), stopping as soon as it passes `cap`. Symlinks are counted, never
 * followed; entries that vanish are skipped.
 */
async function directorySize(
  root: string,
  cap: number,
): Promise<{ bytes: number; complete: boolean }> {
  let bytes = 0;
  const linked = new Set<string>();
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop() as string;
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      continue;
    }
    for (const [index, name] of names.entries()) {
      const entry = path.join(dir, name);
      let stat;
      try {
        stat = await fs.lstat(entry);
      } catch {
        continue;
      }
      if (stat.isDirectory()) pending.push(entry);
      else if (stat.nlink > 1) {
        const key = `${stat.dev}:${stat.ino}`;
        if (linked.has(key)) continue;
        linked.add(key);
      }
      bytes += Math.max(stat.size, stat.blocks * 512);
      if (bytes > cap) {
        return { bytes, complete: pending.length === 0 && index === names.length - 1 };
      }
    }
  }
  return { bytes, complete: true };
}

/** "612 MiB", "1.2 GiB"; a figure over a limit is rounded up so it never reads as the limit. */
function size(bytes: number, roundUp = false): string {
  const [value, unit] = bytes >= GiB ? [bytes / GiB, 'GiB'] : [bytes / MiB, 'MiB'];
  const scale = value < 10 ? 10 : 1;
  const scaled = roundUp ? Math.ceil(value * scale - 1e-9) : Math.round(value * scale);
  return `${scaled / scale} ${unit}`;
}

/** Where the platform makes its cgroups, in each hierarchy. */
const PARENT = 'athenic';
const V1 = {
  memory: '/sys/fs/cgroup/memory',
  pids: '/sys/fs/cgroup/pids',
  cpu: '/sys/fs/cgroup/cpu',
};

/**
 * A cgroup per sandbox, so that the kernel holds its memory and pids limits: cgroup v2 where a
 * cgroup2 hierarchy has the memory and pids controllers (<mount>/athenic/<name>), else the v1
 * memory and pids hierarchies (/sys/fs/cgroup/{memory,pids}/athenic/<name>). A task the memory
 * limit cannot be kept for is killed by the kernel's OOM killer; a fork past pids.max fails.
 *
 * Add the server's pid right after it is spawned: what it forked before stays outside.
 */
export class SandboxCgroup {
  private destroyed = false;

  private constructor(
    readonly version: 1 | 2,
    private readonly memoryDir: string,
    private readonly pidsDir: string,
    private readonly dirs: string[],
  ) {}

  /** Null when no writable cgroup with memory and pids controllers is available here. */
  static create(name: string, limits: SandboxLimits): SandboxCgroup | null {
    if (!/^[\w.-]+$/.test(name) || name === '.' || name === '..') return null;
    try {
      const made = createV2(name, limits) ?? createV1(name, limits);
      return made && new SandboxCgroup(made.version, made.memoryDir, made.pidsDir, made.dirs);
    } catch {
      return null;
    }
  }

  /**
   * The files a process writes its pid to, to join the cgroup (one per hierarchy); for a
   * launcher that joins before it starts the sandbox, so nothing escapes.
   */
  procsFiles(): string[] {
    return this.dirs.map((dir) => path.join(dir, 'cgroup.procs'));
  }

  /** Moves a process (all its threads) into the cgroup. */
  add(pid: number): void {
    for (const dir of this.dirs) writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
  }

  /** What the kernel enforced, memory first: an OOM kill in the cgroup, or a fork refused at pids.max. */
  breach(): 'memory' | 'pids' | null {
    if (this.version === 2) {
      if (counter(path.join(this.memoryDir, 'memory.events'), 'oom_kill') > 0) return 'memory';
    } else {
      const oomKills = counter(path.join(this.memoryDir, 'memory.oom_control'), 'oom_kill');
      // Kernels before 4.13 have no oom_kill counter: any failure to charge within the limit.
      if (oomKills > 0) return 'memory';
      if (oomKills < 0 && counter(path.join(this.memoryDir, 'memory.failcnt'), '') > 0) {
        return 'memory';
      }
    }
    if (counter(path.join(this.pidsDir, 'pids.events'), 'max') > 0) return 'pids';
    return null;
  }

  /** Kills whatever still runs in the cgroup and removes it. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const dir of this.dirs) removeCgroup(dir);
  }
}

/** A cgroup made: where its memory and pids files are, and every directory of it. */
interface Made {
  version: 1 | 2;
  memoryDir: string;
  pidsDir: string;
  dirs: string[];
}

function createV2(name: string, limits: SandboxLimits): Made | null {
  for (const root of cgroup2Mounts()) {
    if (!hasControllers(root, ['memory', 'pids'])) continue;
    const base = path.join(root, PARENT);
    let dir: string | undefined;
    try {
      enableControllers(root);
      mkdirSync(base, { recursive: true });
      enableControllers(base);
      dir = freshCgroup(path.join(base, name));
      if (!hasControllers(dir, ['memory', 'pids'])) throw new Error('controllers not delegated');
      writeFileSync(path.join(dir, 'memory.max'), String(whole(limits.memoryMb * MiB, 'memoryMb')));
      tryWrite(path.join(dir, 'memory.swap.max'), '0');
      // An OOM kill takes the whole sandbox, not one of its processes.
      tryWrite(path.join(dir, 'memory.oom.group'), '1');
      writeFileSync(path.join(dir, 'pids.max'), String(whole(limits.maxProcesses, 'maxProcesses')));
      if (limits.cpuShares) {
        // The usual shares -> weight mapping (runc, systemd): 2..262144 onto 1..10000.
        const weight = 1 + ((limits.cpuShares - 2) * 9999) / 262142;
        tryWrite(
          path.join(dir, 'cpu.weight'),
          String(Math.min(10000, Math.max(1, Math.round(weight)))),
        );
      }
      return { version: 2, memoryDir: dir, pidsDir: dir, dirs: [dir] };
    } catch {
      if (dir) removeCgroup(dir);
    }
  }
  return null;
}

function createV1(name: string, limits: SandboxLimits): Made | null {
  if (!existsSync(path.join(V1.memory, 'memory.limit_in_bytes'))) return null;
  if (!existsSync(path.join(V1.pids, 'cgroup.procs'))) return null;
  const made: string[] = [];
  try {
    const memory = freshCgroup(path.join(V1.memory, PARENT, name));
    made.push(memory);
    const pids = freshCgroup(path.join(V1.pids, PARENT, name));
    made.push(pids);
    const bytes = String(whole(limits.memoryMb * MiB, 'memoryMb'));
    writeFileSync(path.join(memory, 'memory.limit_in_bytes'), bytes);
    // Memory + swap, where swap accounting is on: swap is no way around the limit.
    tryWrite(path.join(memory, 'memory.memsw.limit_in_bytes'), bytes);
    writeFileSync(path.join(pids, 'pids.max'), String(whole(limits.maxProcesses, 'maxProcesses')));
    if (limits.cpuShares && existsSync(path.join(V1.cpu, 'cpu.shares'))) {
      try {
        const cpu = freshCgroup(path.join(V1.cpu, PARENT, name));
        made.push(cpu);
        writeFileSync(path.join(cpu, 'cpu.shares'), String(Math.round(limits.cpuShares)));
      } catch {
        // CPU weight is a nicety; memory and pids are what hold.
      }
    }
    return { version: 1, memoryDir: memory, pidsDir: pids, dirs: made };
  } catch {
    for (const dir of made) removeCgroup(dir);
    return null;
  }
}

/** Mount points of cgroup2 hierarchies: /sys/fs/cgroup on unified hosts, else any cgroup2 mount. */
function cgroup2Mounts(): string[] {
  const mounts = new Set<string>();
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) mounts.add('/sys/fs/cgroup');
  try {
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, mountPoint, type] = line.split(' ');
      if (type === 'cgroup2' && mountPoint) mounts.add(mountPoint);
    }
  } catch {
    // No /proc/mounts: the well-known place only.
  }
  return [...mounts];
}

function hasControllers(dir: string, wanted: string[]): boolean {
  try {
    const available = read(path.join(dir, 'cgroup.controllers')).split(/\s+/);
    return wanted.every((controller) => available.includes(controller));
  } catch {
    return false;
  }
}

/** Best effort: a controller already enabled, or one the host does not delegate, is fine. */
function enableControllers(dir: string): void {
  for (const controller of ['memory', 'pids', 'cpu']) {
    tryWrite(path.join(dir, 'cgroup.subtree_control'), `+${controller}`);
  }
}

/** A new, empty cgroup at `dir`; a leftover of an earlier run (a crash) is emptied and replaced. */
function freshCgroup(dir: string): string {
  mkdirSync(path.dirname(dir), { recursive: true });
  if (existsSync(dir) && !removeCgroup(dir)) throw new Error(`cannot replace ${dir}`);
  mkdirSync(dir);
  return dir;
}

/** SIGKILLs every task of the cgroup and removes it; false if it is still there after ~1 s. */
function removeCgroup(dir: string): boolean {
  tryWrite(path.join(dir, 'cgroup.kill'), '1');
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      for (const pid of read(path.join(dir, 'cgroup.procs')).split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // Exited already.
        }
      }
      rmdirSync(dir);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
      // EBUSY while the killed tasks exit.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
  return false;
}

/** The value of `key` in a flat-keyed cgroup file ("oom_kill 3"), or of a single-value file
 *  (key ''); -1 when absent. */
function counter(file: string, key: string): number {
  try {
    const match = new RegExp(`^${key ? `${key} ` : ''}(\\d+)$`, 'm').exec(read(file));
    return match ? Number(match[1]) : -1;
  } catch {
    return -1;
  }
}

function read(file: string): string {
  return readFileSync(file, 'utf8');
}

function tryWrite(file: string, content: string): void {
  try {
    writeFileSync(file, content);
  } catch {
    // Not supported here.
  }
}
