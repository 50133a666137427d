// Where the reference data of the tests lives and how tests read it (one place for every test file).
// Everything is inside the repository; environment variables point a run at other copies:
//   TSGRAD_TORCH_REFS    PyTorch float64 reference cases        (default test/fixtures/torch-refs)
//   TSGRAD_DARKNET_REFS  Darknet reference outputs               (default test/fixtures/darknet)
//   TSGRAD_DARKNET_CFG   Darknet's cfg files                      (default cfg/darknet)
// A reference file may be stored gzip-compressed as `<name>.gz`; the readers here take either.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { RefCase as CheckerRefCase } from '../../src/refs/torch-refs.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/test/helpers
/** The repository root (the folder holding package.json). */
export const REPO_ROOT = resolve(here, '../../..');
export const TORCH_REFS = process.env['TSGRAD_TORCH_REFS'] ?? join(REPO_ROOT, 'test/fixtures/torch-refs');
export const DARKNET_REFS = process.env['TSGRAD_DARKNET_REFS'] ?? join(REPO_ROOT, 'test/fixtures/darknet');
export const DARKNET_CFG = process.env['TSGRAD_DARKNET_CFG'] ?? join(REPO_ROOT, 'cfg/darknet');
/** Darknet's class-name files and sample images. */
export const DARKNET_DATA = join(REPO_ROOT, 'data');

export type { RefTensor } from '../../src/refs/torch-refs.js';
/** A reference case whose meta carries absmax for every tensor (as the reference cases do). */
export type RefCase = CheckerRefCase & { meta: { absmax: Record<string, number> } };

/** One case of the PyTorch reference folder by name (e.g. 'conv2d_1'). */
export function loadRef(name: string): RefCase {
  return readRefJson(join(TORCH_REFS, `${name}.json`)) as RefCase;
}

/** The bytes of a reference file, or of its gzip-compressed `.gz` sibling. */
export function readRefBytes(p: string): Buffer {
  if (existsSync(p)) return readFileSync(p);
  if (existsSync(`${p}.gz`)) return gunzipSync(readFileSync(`${p}.gz`));
  throw new Error(`reference file missing: ${p} (nor ${p}.gz)`);
}

/** A JSON reference file (plain or `.gz`). */
export function readRefJson(p: string): unknown {
  return JSON.parse(readRefBytes(p).toString('utf8'));
}

/** A little-endian float32 dump (Darknet reference layers; plain or `.gz`). */
export function readF32(p: string): Float32Array {
  const buf = readRefBytes(p);
  const out = new Float32Array(buf.byteLength / 4);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}
