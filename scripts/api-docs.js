#!/usr/bin/env node
// `npm run docs:api`: the API reference of the two entry points, generated from the doc comments into
// docs/api/ (Markdown, one page per export). API Extractor reads the compiled declarations
// (dist/src/index.d.ts, dist/src/yolo/index.d.ts, so run the build first) into one doc model per entry
// point; API Documenter turns them into pages. Both use their own TypeScript, so the project's compiler
// (TypeScript 7, which has no compiler API) is not involved.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { Extractor, ExtractorConfig } = require('@microsoft/api-extractor');

/** Entry point → the name its pages carry (API Documenter wants package-like names; '/' is restored below). */
const ENTRIES = [
  { name: 'tsgrad', dts: 'dist/src/index.d.ts' },
  { name: 'tsgrad-yolo', dts: 'dist/src/yolo/index.d.ts', shown: 'tsgrad/yolo' },
];
const model = path.join(root, 'build', 'api-model');
const out = path.join(root, 'docs', 'api');

for (const e of ENTRIES) {
  if (!existsSync(path.join(root, e.dts))) {
    console.error(`docs:api: ${e.dts} is missing: build first (npm run build)`);
    process.exit(1);
  }
}
rmSync(model, { recursive: true, force: true });
mkdirSync(model, { recursive: true });
for (const e of ENTRIES) {
  const file = path.join(model, `${e.name}.api.json`);
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder: root,
      mainEntryPointFilePath: path.join(root, e.dts),
      compiler: { overrideTsconfig: { compilerOptions: { target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', types: ['node'], skipLibCheck: true } } },
      apiReport: { enabled: false },
      docModel: { enabled: true, apiJsonFilePath: file },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        compilerMessageReporting: { default: { logLevel: 'warning' } },
        extractorMessageReporting: { default: { logLevel: 'none' } },
        tsdocMessageReporting: { default: { logLevel: 'none' } },
      },
    },
    configObjectFullPath: path.join(root, 'api-extractor.json'),
    packageJsonFullPath: path.join(root, 'package.json'),
  });
  const r = Extractor.invoke(config, { localBuild: true });
  if (!r.succeeded) {
    console.error(`docs:api: API Extractor failed on ${e.dts} (${r.errorCount} errors)`);
    process.exit(1);
  }
  if (e.name !== 'tsgrad') {
    // Both declaration trees belong to the one package "tsgrad": give the second its own name.
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    const rename = (node) => {
      if (typeof node.canonicalReference === 'string') node.canonicalReference = node.canonicalReference.replace(/^tsgrad!/, `${e.name}!`);
      for (const m of node.members ?? []) rename(m);
    };
    doc.name = e.name;
    rename(doc);
    writeFileSync(file, JSON.stringify(doc));
  }
}
const documenter = path.join(path.dirname(require.resolve('@microsoft/api-documenter/package.json')), 'bin', 'api-documenter');
const r = spawnSync(process.execPath, [documenter, 'markdown', '--input-folder', model, '--output-folder', out], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
// Show the subpath entry under its import name.
let pages = 0;
for (const f of readdirSync(out)) {
  const p = path.join(out, f);
  const text = readFileSync(p, 'utf8');
  const fixed = ENTRIES.filter((e) => e.shown).reduce((t, e) => t.replaceAll(`[${e.name}]`, `[${e.shown}]`).replaceAll(`${e.name} package`, `${e.shown} entry point`), text);
  if (fixed !== text) writeFileSync(p, fixed);
  pages++;
}
console.log(`docs:api: ${pages} pages in docs/api (start at docs/api/index.md)`);
