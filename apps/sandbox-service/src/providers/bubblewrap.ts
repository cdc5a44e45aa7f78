import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface BubblewrapMounts {
  workdir: string;
  packageInstallDir: string | null;
  launcher: string;
  /** The egress shim every Node process of the sandbox preloads. */
  shim: string;
  /** The folder holding the sandbox's egress socket. */
  runDir: string;
}

/** Where things appear inside the sandbox. */
export const INSIDE = {
  workdir: '/work',
  packageRoot: '/pkg',
  launcher: '/opt/athenic/launcher.cjs',
  shim: '/opt/athenic/egress-shim.cjs',
  runDir: '/run/athenic',
  egressSocket: '/run/athenic/egress.sock',
} as const;

const SETPRIV = '/usr/bin/setpriv';

/**
 * How bubblewrap runs. As root ("privileged") it sets the sandbox up with root's rights, so the
 * package and working dir are mounted wherever the checkout lives (even under a mode-700
 * folder), then drops to the sandbox's own uid with setpriv: no capabilities, no new
 * privileges. Otherwise it runs as the platform's user in a user namespace.
 */
export type BubblewrapMode = { privileged: true; uid: number } | { privileged: false };

/** The namespaces of a sandbox: all of them, the network always (its only way out is the egress socket). */
function namespaces(mode: BubblewrapMode): string[] {
  return mode.privileged
    ? ['--unshare-ipc', '--unshare-pid', '--unshare-net', '--unshare-uts', '--unshare-cgroup-try']
    : ['--unshare-all'];
}

/** What runs first inside a privileged sandbox: the drop to the sandbox's uid. */
export function dropPrivileges(mode: BubblewrapMode): string[] {
  if (!mode.privileged) return [];
  const id = String(mode.uid);
  return [
    SETPRIV,
    '--reuid',
    id,
    '--regid',
    id,
    '--clear-groups',
    '--no-new-privs',
    '--inh-caps=-all',
    '--bounding-set=-all',
    '--',
  ];
}

/** Privileged: just what setpriv needs to drop to the sandbox's uid (it then drops them too). */
function setuidCaps(mode: BubblewrapMode): string[] {
  return mode.privileged ? ['--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID'] : [];
}

/**
 * Whether bubblewrap works here (installed, allowed to create namespaces, and, as root, able to
 * drop to a sandbox uid). Checked once, by running a trivial sandbox the way real ones run.
 */
export function bubblewrapUsable(
  mode: BubblewrapMode,
): { ok: true } | { ok: false; reason: string } {
  try {
    execFileSync(
      'bwrap',
      [
        ...namespaces(mode),
        '--die-with-parent',
        ...systemMounts(),
        '--proc',
        '/proc',
        '--dev',
        '/dev',
        ...setuidCaps(mode),
        '--',
        ...dropPrivileges(mode),
        'true',
      ],
      // Only PATH: the probe needs none of the platform's environment (its secrets included).
      { stdio: 'pipe', timeout: 5000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
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
 * The bubblewrap arguments of one sandbox: new namespaces for everything, the network included
 * (nothing but loopback inside; the egress socket is the only way out), read-only system files,
 * the package read-only, a private writable working dir and /tmp, nothing else of the host.
 * The process dies with its parent, so a crashed sandbox service leaves no server behind.
 */
export function bubblewrapArgs(mounts: BubblewrapMounts, mode: BubblewrapMode): string[] {
  const args = ['--die-with-parent', '--new-session', ...namespaces(mode)];
  // Folders bubblewrap makes for mount points are root's with mode 0700 when it runs as root:
  // make the ones the sandbox's uid passes through itself, open for traversal.
  for (const dir of ['/etc', '/opt', '/opt/athenic', '/run'])
    args.push('--perms', '0755', '--dir', dir);
  // Certificates for TLS; no resolver files: names are resolved by the platform's egress proxy.
  for (const dir of ['/etc/ssl', '/etc/ca-certificates']) {
    if (fs.existsSync(dir)) args.push('--ro-bind', dir, dir);
  }
  args.push(...systemMounts());
  if (mounts.packageInstallDir)
    args.push('--ro-bind', mounts.packageInstallDir, INSIDE.packageRoot);
  const rest: string[][] = [
    ['--ro-bind', mounts.launcher, INSIDE.launcher],
    ['--ro-bind', mounts.shim, INSIDE.shim],
    ['--bind', mounts.runDir, INSIDE.runDir],
    ['--bind', mounts.workdir, INSIDE.workdir],
    ['--chdir', INSIDE.workdir],
    // A bounded private /tmp: a server cannot fill the host's memory through it.
    ['--perms', '1777', '--size', String(64 * 1024 * 1024), '--tmpfs', '/tmp'],
    ['--proc', '/proc'],
    ['--dev', '/dev'],
    ['--hostname', 'sandbox'],
    // The sandbox's own root (a tmpfs bubblewrap made) stays read-only too.
    ['--remount-ro', '/'],
    setuidCaps(mode),
  ];
  args.push(...rest.flat());
  return args;
}
