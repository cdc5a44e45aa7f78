import * as fs from 'node:fs/promises';
import * as path from 'node:path';

export interface InstalledPackage {
  name: string;
  version: string;
  /** Executable names the package declares, with their script paths (relative to the package). */
  bins: string[];
  binPaths: Record<string, string>;
  /** The install folder (its own node_modules inside): what a sandbox mounts. */
  installDir: string;
  /** The package's own folder. */
  packageDir: string;
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
      const binPaths: Record<string, string> =
        typeof pkg.bin === 'string'
          ? { [pkg.name.split('/').pop()!]: pkg.bin }
          : { ...(pkg.bin ?? {}) };
      return {
        name: pkg.name,
        version: pkg.version,
        bins: Object.keys(binPaths),
        binPaths,
        installDir: path.join(packagesDir, folder),
        packageDir: path.dirname(manifest),
      };
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
