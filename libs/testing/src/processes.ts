import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessInfo {
  pid: number;
  argv: string[];
  env: Record<string, string>;
}

/** Live processes that pass the test (those gone meanwhile, or not readable, are left out). */
export function processes(test: (process: ProcessInfo) => boolean): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env: Record<string, string> = {};
      for (const pair of readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0')) {
        const at = pair.indexOf('=');
        if (at > 0) env[pair.slice(0, at)] = pair.slice(at + 1);
      }
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const info = { pid: Number(entry), argv, env };
      if (test(info)) found.push(info);
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found;
}

/** Processes serving the given connections (the platform marks them ATHENIC_CONNECTION_ID). */
export function connectionProcesses(ids: string | Set<string>): ProcessInfo[] {
  const wanted = typeof ids === 'string' ? new Set([ids]) : ids;
  return processes((p) => wanted.has(p.env.ATHENIC_CONNECTION_ID ?? ''));
}

/** Processes a local sandbox provider started under the given sandbox root. */
export function sandboxRootProcesses(root: string): ProcessInfo[] {
  return processes((p) => p.env.ATHENIC_SANDBOX_ROOT === root);
}
