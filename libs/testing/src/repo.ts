import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository root (the folder holding package.json with workspaces). */
export const REPO_ROOT = (() => {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'nx.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('Cannot find the repository root');
    dir = parent;
  }
  return dir;
})();
