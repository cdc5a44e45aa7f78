import * as fs from 'node:fs/promises';
import * as path from 'node:path';

export interface InstalledPackage {
  name: string;
  version: string;
  /** Executable names the package declares. */
  bins: string[];
}

/**
 * Finds an npm package installed ahead under the packages dir (one folder per package, each
 * with its own node_modules). Deploys never download: a type may only name what is here.
 */
export async function findInstalledPackage(
  packagesDir: string,
  name: string,
): Promise<InstalledPackage | undefined> {
  let folders: string[];
  try {
    folders = await fs.readdir(packagesDir);
  } catch {
    return undefined;
  }
  for (const folder of folders) {
    const manifest = path.join(packagesDir, folder, 'node_modules', name, 'package.json');
    try {
      const pkg = JSON.parse(await fs.readFile(manifest, 'utf8')) as {
        version: string;
        name: string;
        bin?: string | Record<string, string>;
      };
      const bins =
        typeof pkg.bin === 'string' ? [pkg.name.split('/').pop()!] : Object.keys(pkg.bin ?? {});
      return { name: pkg.name, version: pkg.version, bins };
    } catch {
      continue;
    }
  }
  return undefined;
}

/** Splits `name@version` (the name may be scoped). */
export function splitPackageSpec(spec: string): { name: string; version: string } {
  const at = spec.lastIndexOf('@');
  return { name: spec.slice(0, at), version: spec.slice(at + 1) };
}
