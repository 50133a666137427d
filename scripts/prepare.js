#!/usr/bin/env node
// The package's `prepare` script: compiles the TypeScript into dist/ where the compiler is installed
// (a clone of the repository, or the checkout npm makes of a git dependency, both of which install the
// devDependencies). An installed tarball never runs it: it ships dist/ compiled.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = path.join(path.dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
} catch {
  tsc = null;
}
if (tsc === null) {
  if (existsSync(path.join(root, 'dist', 'src', 'index.js'))) process.exit(0);
  console.error('tsgrad: dist/ is missing and the TypeScript compiler (a devDependency) is not installed: run `npm install` in the repository');
  process.exit(1);
}
const t0 = Date.now();
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json')], { cwd: root, stdio: 'inherit' });
if (r.error || r.status !== 0) {
  console.error(`tsgrad: the TypeScript build failed (tsc exit ${r.status ?? r.error?.message})`);
  process.exit(1);
}
console.log(`tsgrad: TypeScript built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
