import { findInstalledPackage } from '@athenic/mcp-packages';
import { REPO_ROOT } from '@athenic/testing';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { addPackage, folderOf } from '../../scripts/mcp-add';

/**
 * `npm run mcp:add` on a temporary copy of mcp-packages/ (the manifests and lockfiles only: the
 * real folder is never touched), installing small real packages from the npm registry.
 */
describe('npm run mcp:add', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mcp-packages-'));

  beforeAll(() => {
    const memory = 'modelcontextprotocol__server-memory';
    for (const file of ['package.json', 'package-lock.json'])
      cpSync(path.join(REPO_ROOT, 'mcp-packages', memory, file), path.join(dir, memory, file));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('installs an exact version into a folder of its own with its lockfile, stamped for setup.sh', async () => {
    const { installed, folder, already } = await addPackage('semver@7.6.3', dir);
    expect(already).toBe(false);
    expect(folder).toBe(path.join(dir, 'semver'));
    expect(installed).toMatchObject({ name: 'semver', version: '7.6.3', bins: ['semver'] });
    const manifest = JSON.parse(readFileSync(path.join(folder, 'package.json'), 'utf8'));
    expect(manifest).toMatchObject({ private: true, dependencies: { semver: '7.6.3' } });
    const lock = readFileSync(path.join(folder, 'package-lock.json'));
    expect(JSON.parse(lock.toString()).packages['node_modules/semver'].version).toBe('7.6.3');
    expect(readFileSync(path.join(folder, 'node_modules/.athenic-lock-hash'), 'utf8').trim()).toBe(
      createHash('sha256').update(lock).digest('hex'),
    );
    // The registry and the sandboxes find it as they find the shipped ones.
    expect(await findInstalledPackage(dir, 'semver')).toMatchObject({ version: '7.6.3' });
    // Again: nothing to do.
    expect((await addPackage('semver@7.6.3', dir)).already).toBe(true);
  });

  it.each([
    ['no version', 'semver', 'is not an npm package with an exact version'],
    ['a range', 'semver@^7.6.3', 'is not an npm package with an exact version'],
    ['a tag', 'semver@latest', 'is not an npm package with an exact version'],
    ['a path', '../evil@1.0.0', 'is not an npm package with an exact version'],
  ])('refuses %s', async (_what, spec, message) => {
    await expect(addPackage(spec, dir)).rejects.toThrow(message);
  });

  it('refuses another version of an installed package, naming the folder', async () => {
    await expect(addPackage('semver@7.6.2', dir)).rejects.toThrow(
      'semver is installed at version 7.6.3',
    );
  });

  it('refuses a package with no executable and leaves no folder behind', async () => {
    await expect(addPackage('is-number@7.0.0', dir)).rejects.toThrow('declares no executable');
    expect(existsSync(path.join(dir, folderOf('is-number')))).toBe(false);
  });

  it('reports a version npm cannot find and leaves no folder behind', async () => {
    await expect(addPackage('semver-nonexistent-athenic-pkg@1.0.0', dir)).rejects.toThrow(
      'npm could not install semver-nonexistent-athenic-pkg@1.0.0',
    );
    expect(existsSync(path.join(dir, 'semver-nonexistent-athenic-pkg'))).toBe(false);
  });

  it('names scoped packages as the shipped folders are named', () => {
    expect(folderOf('@modelcontextprotocol/server-memory')).toBe(
      'modelcontextprotocol__server-memory',
    );
  });
});
