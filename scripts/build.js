#!/usr/bin/env node
// Compiles apps/, libs/ (their test helpers too, which benches reuse; never the specs), bench/ and
// scripts/*.ts to dist/ with swc (types are checked separately
// by `npm run typecheck`). Path aliases of tsconfig.base.json become relative requires.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const swc = require('@swc/core');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'dist');
const tsconfig = JSON.parse(fs.readFileSync(path.join(root, 'tsconfig.base.json'), 'utf8'));
const swcrc = JSON.parse(fs.readFileSync(path.join(root, '.swcrc'), 'utf8'));
delete swcrc.$schema;

const SKIP = /(\.spec|\.int-spec|\.e2e-spec|\.serial-spec|\.d)\.ts$/;

function* sources(dir) {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules') continue;
      yield* sources(full);
    } else if (entry.name.endsWith('.ts') && !SKIP.test(entry.name)) {
      yield full;
    }
  }
}

async function main() {
  const started = Date.now();
  fs.rmSync(out, { recursive: true, force: true });
  const files = ['apps', 'libs', 'bench', 'scripts'].flatMap((d) => [
    ...sources(path.join(root, d)),
  ]);
  await Promise.all(
    files.map(async (file) => {
      const target = path.join(out, path.relative(root, file)).replace(/\.ts$/, '.js');
      const result = await swc.transformFile(file, {
        ...swcrc,
        swcrc: false,
        filename: file,
        sourceMaps: true,
        sourceFileName: path.relative(path.dirname(target), file),
        jsc: { ...swcrc.jsc, baseUrl: root, paths: tsconfig.compilerOptions.paths },
      });
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(
        target,
        `${result.code}\n//# sourceMappingURL=${path.basename(target)}.map\n`,
      );
      if (result.map) fs.writeFileSync(`${target}.map`, result.map);
    }),
  );
  process.stdout.write(
    `build: ${files.length} files compiled to dist/ in ${Date.now() - started} ms\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`build failed: ${error.stack || error}\n`);
  process.exit(1);
});
