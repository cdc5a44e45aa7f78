// Installs an MCP server's npm package for the platform's sandboxes:
//   npm run mcp:add -- <package>@<exact version>
// Each package gets its own folder under MCP_PACKAGES_DIR (default mcp-packages/) with its own
// package.json and lockfile (commit both), like the shipped ones; scripts/setup.sh reinstalls it
// from the lockfile on another machine. Deploys never download: a server type or template may
// name only a package installed this way.
import { NPM_PACKAGE_PATTERN } from '@athenic/contracts';
import {
  findInstalledPackage,
  type InstalledPackage,
  splitPackageSpec,
} from '@athenic/mcp-packages';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export class McpAddError extends Error {}

/** `@scope/name` → `scope__name`, the folder naming of mcp-packages/. */
export function folderOf(name: string): string {
  return name.replace(/^@/, '').replace('/', '__');
}

/**
 * Installs `spec` (`name@1.2.3`, an exact version) into its own folder of `packagesDir` and
 * returns it. Refuses a spec without an exact version, a package already installed at another
 * version, and a package that declares no executable (it could not be started over stdio); a
 * failed install leaves no folder behind.
 */
export async function addPackage(
  spec: string,
  packagesDir: string,
): Promise<{ installed: InstalledPackage; folder: string; already: boolean }> {
  if (!NPM_PACKAGE_PATTERN.test(spec))
    throw new McpAddError(
      `"${spec}" is not an npm package with an exact version; give one such as @modelcontextprotocol/server-memory@2026.8.31`,
    );
  const { name, version } = splitPackageSpec(spec);
  const existing = await findInstalledPackage(packagesDir, name);
  if (existing && existing.version === version)
    return { installed: existing, folder: existing.installDir, already: true };
  if (existing)
    throw new McpAddError(
      `${name} is installed at version ${existing.version} in ${existing.installDir}; server types name that version. Remove that folder first to install ${version}.`,
    );

  const folder = path.join(packagesDir, folderOf(name));
  await fs.mkdir(packagesDir, { recursive: true });
  try {
    await fs.mkdir(folder);
  } catch {
    throw new McpAddError(`${folder} exists already; remove it first.`);
  }
  try {
    const manifest = {
      name: `mcp-package-${folderOf(name).replace('__', '--')}`,
      private: true,
      description: `Installs ${name} for the platform's sandboxes.`,
      dependencies: { [name]: version },
    };
    await fs.writeFile(path.join(folder, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    try {
      await run(
        'npm',
        [
          'install',
          '--no-audit',
          '--no-fund',
          '--ignore-scripts',
          '--save-exact',
          '--loglevel=error',
        ],
        { cwd: folder, maxBuffer: 16 * 1024 * 1024 },
      );
    } catch (error) {
      const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
      throw new McpAddError(
        `npm could not install ${spec}: ${stderr.split('\n').slice(-5).join(' ')}`,
      );
    }
    const installed = await findInstalledPackage(packagesDir, name);
    if (!installed || installed.version !== version)
      throw new McpAddError(`npm did not install ${spec} as asked.`);
    if (installed.bins.length === 0)
      throw new McpAddError(
        `${spec} declares no executable ("bin" in its package.json), so it cannot be started as a stdio MCP server.`,
      );
    // The stamp scripts/setup.sh compares, so it does not install the folder again.
    const lock = await fs.readFile(path.join(folder, 'package-lock.json'));
    await fs.writeFile(
      path.join(folder, 'node_modules', '.athenic-lock-hash'),
      `${createHash('sha256').update(lock).digest('hex')}\n`,
    );
    return { installed, folder, already: false };
  } catch (error) {
    await fs.rm(folder, { recursive: true, force: true });
    throw error;
  }
}

async function main(): Promise<void> {
  const specs = process.argv.slice(2);
  if (specs.length !== 1) {
    process.stderr.write('usage: npm run mcp:add -- <package>@<exact version>\n');
    process.exit(2);
  }
  const dir = path.resolve(process.env.MCP_PACKAGES_DIR || 'mcp-packages');
  try {
    const { installed, folder, already } = await addPackage(specs[0], dir);
    process.stdout.write(
      `${already ? 'already installed' : 'installed'}: ${installed.name}@${installed.version} in ${folder.startsWith(`${process.cwd()}${path.sep}`) ? path.relative(process.cwd(), folder) : folder}\n` +
        `executables: ${installed.bins.join(', ')}\n` +
        `A server type or template may now name "package": "${installed.name}@${installed.version}" with "launch": {"command": "${installed.bins[0]}", ...}.\n` +
        "Commit the folder's package.json and package-lock.json (scripts/setup.sh installs it elsewhere from them).\n",
    );
  } catch (error) {
    process.stderr.write(`mcp:add: ${(error as Error).message}\n`);
    process.exit(1);
  }
}

if (require.main === module) void main();
