import { findInstalledPackage } from '@athenic/mcp-packages';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestPackagesDir } from './packages-dir';

function writePackage(dir: string, manifest: Record<string, unknown>, files = {}): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest));
  for (const [name, content] of Object.entries(files))
    fs.writeFileSync(path.join(dir, name), String(content));
}

/** Every file under `dir`, relative, sorted. */
function tree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((entry) => !entry.isDirectory())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

describe('TestPackagesDir', () => {
  let root: string;
  let shipped: string;
  let from: string;
  let source: string;
  let packages: TestPackagesDir | undefined;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'packages-dir-spec-'));
    // A shipped package, installed as the platform's setup installs one.
    shipped = path.join(root, 'mcp-packages');
    writePackage(path.join(shipped, 'shipped', 'node_modules', 'shipped-server'), {
      name: 'shipped-server',
      version: '2.0.0',
      bin: 'index.js',
    });
    fs.mkdirSync(path.join(shipped, 'not-installed'));
    // A node_modules folder: what the package needs, a nested copy, and what it does not need.
    from = path.join(root, 'node_modules');
    writePackage(path.join(from, 'lib-a'), {
      name: 'lib-a',
      version: '1.0.0',
      dependencies: { 'lib-b': '^2', 'lib-c': '^1' },
      peerDependencies: { 'absent-peer': '^1' },
    });
    writePackage(path.join(from, 'lib-a', 'node_modules', 'lib-b'), {
      name: 'lib-b',
      version: '2.0.0',
      dependencies: { 'lib-d': '^1' },
    });
    writePackage(path.join(from, 'lib-b'), { name: 'lib-b', version: '1.0.0' });
    writePackage(path.join(from, '@scope', 'lib-c'), { name: '@scope/lib-c', version: '1.0.0' });
    writePackage(path.join(from, 'lib-c'), {
      name: 'lib-c',
      version: '1.0.0',
      dependencies: { '@scope/lib-c': '^1' },
    });
    writePackage(path.join(from, 'lib-d'), { name: 'lib-d', version: '1.0.0' });
    writePackage(path.join(from, 'unrelated'), { name: 'unrelated', version: '1.0.0' });
    source = path.join(root, 'fixture');
    writePackage(
      source,
      {
        name: 'fixture-server',
        version: '1.0.0',
        bin: { 'fixture-server': 'server.mjs' },
        dependencies: { 'lib-a': '1.0.0' },
      },
      { 'server.mjs': '// the server' },
    );
  });

  afterEach(() => {
    packages?.dispose();
    packages = undefined;
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('installs a package with what it needs as Node resolves it, copied, where the platform finds it', async () => {
    packages = TestPackagesDir.create(shipped);
    const installed = packages.install(source, from);
    expect(installed).toEqual({
      name: 'fixture-server',
      version: '1.0.0',
      spec: 'fixture-server@1.0.0',
      bins: {
        'fixture-server': path.join(
          packages.dir,
          'fixture-server/node_modules/fixture-server/server.mjs',
        ),
      },
      installDir: path.join(packages.dir, 'fixture-server'),
    });
    // lib-a with its own lib-b (whose lib-d is top-level), lib-c and its scoped dependency; not
    // the top-level lib-b (no one resolves it), nor what nothing needs, nor the absent peer.
    expect(tree(path.join(installed.installDir, 'node_modules'))).toEqual([
      '@scope/lib-c/package.json',
      'fixture-server/package.json',
      'fixture-server/server.mjs',
      'lib-a/node_modules/lib-b/package.json',
      'lib-a/package.json',
      'lib-c/package.json',
      'lib-d/package.json',
    ]);
    expect(
      fs
        .readdirSync(installed.installDir, { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isSymbolicLink()),
    ).toEqual([]);
    await expect(findInstalledPackage(packages.dir, 'fixture-server')).resolves.toMatchObject({
      version: '1.0.0',
      installDir: installed.installDir,
      binPaths: { 'fixture-server': 'server.mjs' },
    });
    // The shipped packages are there too (linked), and stay when the dir goes.
    await expect(findInstalledPackage(packages.dir, 'shipped-server')).resolves.toMatchObject({
      version: '2.0.0',
    });
    expect(fs.readdirSync(packages.dir).sort()).toEqual(['fixture-server', 'shipped']);
    packages.dispose();
    packages = undefined;
    expect(fs.existsSync(path.join(shipped, 'shipped', 'node_modules', 'shipped-server'))).toBe(
      true,
    );
  });

  it('refuses a dependency at another version than the package pins, or missing', () => {
    packages = TestPackagesDir.create(shipped);
    writePackage(path.join(from, 'lib-a'), { name: 'lib-a', version: '1.0.1' });
    expect(() => packages!.install(source, from)).toThrow(
      'fixture-server pins lib-a@1.0.0; ' + from + ' has 1.0.1',
    );
    fs.rmSync(path.join(from, 'lib-a'), { recursive: true });
    expect(() => packages!.install(source, from)).toThrow('has none');
  });

  it('refuses a package whose dependency needs something missing', () => {
    packages = TestPackagesDir.create(shipped);
    fs.rmSync(path.join(from, 'lib-d'), { recursive: true });
    expect(() => packages!.install(source, from)).toThrow('lib-b needs lib-d, which');
  });
});
