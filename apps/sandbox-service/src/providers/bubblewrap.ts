import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface BubblewrapMounts {
  workdir: string;
  packageInstallDir: string | null;
  launcher: string;
  network: boolean;
}

/** Where things appear inside the sandbox. */
export const INSIDE = {
  workdir: '/work',
  packageRoot: '/pkg',
  launcher: '/opt/athenic/launcher.cjs',
} as const;

/**
 * Whether bubblewrap works here (installed, and allowed to create namespaces). Checked once, by
 * running a trivial sandbox the way real ones run.
 */
export function bubblewrapUsable(
  uid: number | undefined,
): { ok: true } | { ok: false; reason: string } {
  try {
    execFileSync(
      'bwrap',
      [
        '--unshare-all',
        '--die-with-parent',
        ...systemMounts(),
        '--proc',
        '/proc',
        '--dev',
        '/dev',
        '--',
        'true',
      ],
      {
        stdio: 'pipe',
        timeout: 5000,
        ...(uid !== undefined ? { uid, gid: uid } : {}),
      },
    );
    return { ok: true };
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    const code = (error as NodeJS.ErrnoException).code;
    return {
      ok: false,
      reason: code === 'ENOENT' ? 'bwrap is not installed' : stderr || (error as Error).message,
    };
  }
}

/** System libraries and Node, read-only; top-level symlinks (usr-merged /lib) kept as symlinks. */
function systemMounts(): string[] {
  const args: string[] = [];
  for (const dir of ['/usr', '/lib', '/lib64', '/lib32', '/bin', '/sbin']) {
    if (!fs.existsSync(dir)) continue;
    const stat = fs.lstatSync(dir);
    if (stat.isSymbolicLink()) args.push('--symlink', fs.readlinkSync(dir), dir);
    else args.push('--ro-bind', dir, dir);
  }
  // Node itself, wherever it is installed.
  const nodeDir = path.dirname(path.dirname(fs.realpathSync(process.execPath)));
  if (!['/usr', '/'].includes(nodeDir) && !nodeDir.startsWith('/usr/'))
    args.push('--ro-bind', nodeDir, nodeDir);
  return args;
}

/**
 * The bubblewrap arguments of one sandbox: new namespaces for everything (pid, ipc, uts, user,
 * cgroup, and network unless the type declares egress), read-only system files, the package
 * read-only, a private writable working dir and /tmp, nothing else of the host. The process dies
 * with its parent, so a crashed sandbox service leaves no server behind.
 */
export function bubblewrapArgs(mounts: BubblewrapMounts): string[] {
  const args = ['--die-with-parent', '--new-session', '--unshare-all'];
  if (mounts.network) {
    args.push('--share-net');
    for (const file of [
      '/etc/resolv.conf',
      '/etc/hosts',
      '/etc/nsswitch.conf',
      '/etc/ssl',
      '/etc/ca-certificates',
    ]) {
      if (fs.existsSync(file)) args.push('--ro-bind', file, file);
    }
  }
  args.push(...systemMounts());
  if (mounts.packageInstallDir)
    args.push('--ro-bind', mounts.packageInstallDir, INSIDE.packageRoot);
  const rest: string[][] = [
    ['--ro-bind', mounts.launcher, INSIDE.launcher],
    ['--bind', mounts.workdir, INSIDE.workdir],
    ['--chdir', INSIDE.workdir],
    // A bounded private /tmp: a server cannot fill the host's memory through it.
    ['--size', String(64 * 1024 * 1024), '--tmpfs', '/tmp'],
    ['--proc', '/proc'],
    ['--dev', '/dev'],
    ['--hostname', 'sandbox'],
    // The sandbox's own root (a tmpfs bubblewrap made) stays read-only too.
    ['--remount-ro', '/'],
  ];
  args.push(...rest.flat());
  return args;
}
