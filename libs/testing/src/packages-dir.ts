import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from './repo';

/** The stdio MCP server with what the conformance suite's server scenarios call (a package). */
export const CONFORMANCE_SERVER_FIXTURE = path.join(
  REPO_ROOT,
  'libs/testing/fixtures/conformance-server',
);

export interface TestPackage {
  name: string;
  version: string;
  /** `name@version`, as a server type names its package. */
  spec: string;
  /** Its executables, by name, with their absolute paths in the packages dir. */
  bins: Record<string, string>;
  /** Its install folder (what a sandbox mounts). */
  installDir: string;
}

interface Manifest {
  name: string;
  version: string;
  bin?: string | Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const readManifest = (dir: string): Manifest =>
  JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as Manifest;

/**
 * A packages dir of a test's own (MCP_PACKAGES_DIR): the platform's installed packages
 * (`mcp-packages/*`, linked, so its built-in types stay usable), plus packages the test installs
 * from a folder of the repository. Each is laid out as the platform's setup installs one: a
 * folder with a package.json and node_modules holding the package and everything it needs, real
 * files only, since a sandbox mounts that folder alone.
 */
export class TestPackagesDir {
  private constructor(readonly dir: string) {}

  /** A new one, with the installed folders of `shipped` (the repository's mcp-packages) linked in. */
  static create(shipped = path.join(REPO_ROOT, 'mcp-packages')): TestPackagesDir {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'athenic-packages-'));
    // Nothing secret here; an unisolated sandbox (another uid) reaches its package through it.
    fs.chmodSync(dir, 0o755);
    for (const folder of fs.readdirSync(shipped)) {
      if (fs.existsSync(path.join(shipped, folder, 'node_modules')))
        fs.symlinkSync(path.join(shipped, folder), path.join(dir, folder), 'dir');
    }
    return new TestPackagesDir(dir);
  }

  /**
   * Installs the package in `source` (a folder with its package.json), copied, with every
   * dependency it declares copied from `from` (a node_modules folder holding them, the
   * repository's by default) at exactly the version it pins, and theirs after them.
   */
  install(source: string, from = path.join(REPO_ROOT, 'node_modules')): TestPackage {
    const manifest = readManifest(source);
    for (const [name, version] of Object.entries(manifest.dependencies ?? {})) {
      const found = path.join(from, name);
      const installed = fs.existsSync(found) ? readManifest(found).version : undefined;
      if (installed !== version)
        throw new Error(
          `${manifest.name} pins ${name}@${version}; ${from} has ${installed ?? 'none'}`,
        );
    }
    const closure = dependencyClosure(source, from);
    const installDir = path.join(this.dir, manifest.name.replace(/^@/, '').replace('/', '__'));
    const modules = path.join(installDir, 'node_modules');
    fs.mkdirSync(modules, { recursive: true });
    fs.writeFileSync(
      path.join(installDir, 'package.json'),
      JSON.stringify(
        {
          name: `test-package-${manifest.name}`,
          private: true,
          dependencies: { [manifest.name]: manifest.version },
        },
        null,
        2,
      ),
    );
    fs.cpSync(source, path.join(modules, manifest.name), { recursive: true, dereference: true });
    for (const dir of closure)
      fs.cpSync(dir, path.join(modules, path.relative(from, dir)), {
        recursive: true,
        dereference: true,
      });
    const bins =
      typeof manifest.bin === 'string'
        ? { [manifest.name.split('/').pop()!]: manifest.bin }
        : (manifest.bin ?? {});
    return {
      name: manifest.name,
      version: manifest.version,
      spec: `${manifest.name}@${manifest.version}`,
      bins: Object.fromEntries(
        Object.entries(bins).map(([bin, file]) => [bin, path.join(modules, manifest.name, file)]),
      ),
      installDir,
    };
  }

  dispose(): void {
    // The links go, not what they point to.
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The top-level folders of `from` (a node_modules folder) that the package in `source` needs:
 * its dependencies as Node resolves them (a package's own node_modules first, then up the
 * tree), theirs, and so on; optional and peer dependencies when present. A nested copy comes
 * with the top-level folder that holds it.
 */
function dependencyClosure(source: string, from: string): string[] {
  const topLevel = new Set<string>();
  const seen = new Set<string>();
  const visit = (manifest: Manifest, within: string) => {
    const required = Object.keys(manifest.dependencies ?? {});
    const optional = [
      ...Object.keys(manifest.peerDependencies ?? {}),
      ...Object.keys(manifest.optionalDependencies ?? {}),
    ];
    for (const name of [...required, ...optional]) {
      const found = resolvePackage(within, name, from);
      if (!found) {
        if (required.includes(name))
          throw new Error(`${manifest.name} needs ${name}, which ${from} does not have`);
        continue;
      }
      if (seen.has(found)) continue;
      seen.add(found);
      const [first, second] = path.relative(from, found).split(path.sep);
      topLevel.add(path.join(from, first.startsWith('@') ? path.join(first, second) : first));
      visit(readManifest(found), found);
    }
  };
  // The package itself resolves from the top of `from`.
  visit(readManifest(source), from);
  return [...topLevel].sort();
}

/**
 * Where `name` resolves from `dir` (`from` or a package folder inside it), as Node would, without
 * looking above `from`.
 */
function resolvePackage(dir: string, name: string, from: string): string | undefined {
  for (let at = dir; !path.relative(from, at).startsWith('..'); at = path.dirname(at)) {
    if (path.basename(at) === 'node_modules' && at !== from) continue;
    const modules = at === from ? from : path.join(at, 'node_modules');
    const candidate = path.join(modules, name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (at === from) break;
  }
  return undefined;
}
