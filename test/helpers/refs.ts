// Where the shared reference data lives and how tests read it (one place for every test file).
// TSGRAD_TORCH_REFS / TSGRAD_DARKNET_REFS override the default ../shared beside the repository.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RefCase as CheckerRefCase } from '../../src/refs/torch-refs.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/test/helpers
export const TORCH_REFS = process.env['TSGRAD_TORCH_REFS'] ?? resolve(here, '../../../../shared/torch-refs');
export const DARKNET_REFS = process.env['TSGRAD_DARKNET_REFS'] ?? resolve(here, '../../../../shared/darknet/reference');

export type { RefTensor } from '../../src/refs/torch-refs.js';
/** A reference case whose meta carries absmax for every tensor (as the shared cases do). */
export type RefCase = CheckerRefCase & { meta: { absmax: Record<string, number> } };

/** One case of the PyTorch reference folder by name (e.g. 'conv2d_1'). */
export function loadRef(name: string): RefCase {
  const p = join(TORCH_REFS, `${name}.json`);
  if (!existsSync(p)) throw new Error(`torch reference missing: ${p} (set TSGRAD_TORCH_REFS)`);
  return JSON.parse(readFileSync(p, 'utf8')) as RefCase;
}

/** A little-endian float32 dump (Darknet reference layers). */
export function readF32(p: string): Float32Array {
  if (!existsSync(p)) throw new Error(`Darknet reference file missing: ${p} (set TSGRAD_DARKNET_REFS)`);
  const buf = readFileSync(p);
  const out = new Float32Array(buf.byteLength / 4);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}
