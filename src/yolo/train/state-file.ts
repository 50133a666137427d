// The network and optimiser part of a training state file (src/nn/checkpoint.ts holds the container):
// every network state entry as `net/<name>` and every optimiser slot as `opt/<index>/<key>`, plus the
// hash of the cfg's layer sections that a resume must match.

import { createHash } from 'node:crypto';

import { tensorFromEntry, type TensorFileEntry, type TensorFileInput } from '../../nn/checkpoint.js';
import { Adam } from '../../nn/optim/adam.js';
import type { Optimizer } from '../../nn/optim/optimizer.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Network } from '../net/network.js';
import { LossAverage } from './progress.js';

export interface OptimizerMeta {
  type: 'sgd' | 'adam';
  stepCount: number;
  slots: { index: number; key: string }[];
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Hash of the cfg's layer sections without comments and blank lines ([net] left out): what a resume must keep. */
export function layersHash(cfgText: string): string {
  const lines = cfgText
    .split(/\r?\n/)
    .map((l) => l.replace(/[#;].*$/, '').trim())
    .filter((l) => l.length > 0);
  const second = lines.findIndex((l, i) => i > 0 && l.startsWith('['));
  return sha256(second < 0 ? '' : lines.slice(second).join('\n'));
}

/** The tensors to write and the optimiser's description for the meta. */
export function trainingTensors(net: Network, opt: Optimizer): { tensors: Map<string, TensorFileInput>; optimizer: OptimizerMeta } {
  const tensors = new Map<string, TensorFileInput>();
  for (const [name, t] of net.stateDict()) tensors.set(`net/${name}`, t);
  const slots: { index: number; key: string }[] = [];
  for (const s of opt.stateTensors()) {
    tensors.set(`opt/${s.index}/${s.key}`, s.tensor);
    slots.push({ index: s.index, key: s.key });
  }
  return { tensors, optimizer: { type: opt instanceof Adam ? 'adam' : 'sgd', stepCount: opt.stepCount, slots } };
}

/** Loads what trainingTensors wrote into `net` and `opt` (errors name `path`). */
export function restoreTraining(path: string, tensors: ReadonlyMap<string, TensorFileEntry>, net: Network, opt: Optimizer, meta: OptimizerMeta): void {
  const state = new Map<string, Tensor>();
  for (const [name] of net.stateDict()) {
    const e = tensors.get(`net/${name}`);
    if (e === undefined) throw new Error(`${path}: no tensor for network entry '${name}'`);
    state.set(name, tensorFromEntry(e, 'cpu', name));
  }
  net.loadStateDict(state);
  for (const t of state.values()) t.dispose();
  const expected = opt instanceof Adam ? 'adam' : 'sgd';
  if (meta.type !== expected) throw new Error(`${path}: the state holds ${meta.type} moments, the cfg trains with ${expected}`);
  opt.loadStateTensors(
    meta.slots.map((s) => {
      const e = tensors.get(`opt/${s.index}/${s.key}`);
      if (e === undefined) throw new Error(`${path}: optimiser slot ${s.index}/${s.key} is missing`);
      return { index: s.index, key: s.key, tensor: tensorFromEntry(e, net.device, `${s.index}/${s.key}`) };
    }),
    meta.stepCount,
  );
}

/** Throws `${path}: training state field 'f' is v, expected ...`. */
export type StateFieldError = (field: string, value: unknown, want: string) => never;

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * The checks every training state's metadata passes after its CRC (types and ranges; a state edited or
 * written by something else): kind and version, the cfg hashes, iteration, seen and seed, the optimiser
 * description, the RNG state and the loss average. Returns the meta as a record and the error helper
 * for the caller's own fields.
 */
export function checkTrainingMeta(raw: unknown, path: string, o: { kind: string; version: number; what: string }): { meta: Record<string, unknown>; bad: StateFieldError } {
  const bad: StateFieldError = (field, v, want) => {
    throw new Error(`${path}: training state field '${field}' is ${JSON.stringify(v) ?? String(v)}, expected ${want}`);
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${path}: not a tsgrad ${o.what}`);
  const m = raw as Record<string, unknown>;
  if (m['kind'] !== o.kind) throw new Error(`${path}: not a tsgrad ${o.what}`);
  if (m['version'] !== o.version) throw new Error(`${path}: ${o.what} version ${String(m['version'])}, this tsgrad reads version ${o.version}`);
  for (const k of ['cfgSha256', 'layersSha256'] as const) if (typeof m[k] !== 'string' || !/^[0-9a-f]{64}$/.test(m[k] as string)) bad(k, m[k], 'a SHA-256 in hex');
  if (typeof m['cfgFile'] !== 'string') bad('cfgFile', m['cfgFile'], 'a string');
  for (const k of ['iteration', 'seen', 'seed'] as const) if (!isCount(m[k])) bad(k, m[k], 'a non-negative integer');
  const opt = m['optimizer'] as Record<string, unknown> | null;
  if (opt === null || typeof opt !== 'object') bad('optimizer', opt, 'an object');
  if (opt!['type'] !== 'sgd' && opt!['type'] !== 'adam') bad('optimizer.type', opt!['type'], "'sgd' or 'adam'");
  if (!isCount(opt!['stepCount'])) bad('optimizer.stepCount', opt!['stepCount'], 'a non-negative integer');
  if (!Array.isArray(opt!['slots'])) bad('optimizer.slots', opt!['slots'], 'a list');
  (opt!['slots'] as unknown[]).forEach((s, i) => {
    const e = s as Record<string, unknown> | null;
    if (e === null || typeof e !== 'object' || !isCount(e['index']) || typeof e['key'] !== 'string') bad(`optimizer.slots[${i}]`, s, '{ index: integer, key: string }');
  });
  const rng = m['netRng'] as Record<string, unknown> | null;
  const used = rng?.['used'];
  if (rng === null || typeof rng !== 'object' || !Number.isFinite(rng['seed']) || !isCount(rng['counter']) || !(Number.isInteger(used) && (used as number) >= 0 && (used as number) <= 4)) {
    bad('netRng', rng, '{ seed: number, counter: integer >= 0, used: 0..4 }');
  }
  try {
    LossAverage.fromJSON(m['avg']);
  } catch (e) {
    bad('avg', m['avg'], `a loss average (${(e as Error).message})`);
  }
  return { meta: m, bad };
}

/** A list of { iteration, loss, avg } (the chart history). */
export function checkLossList(v: unknown, field: string, bad: StateFieldError): void {
  if (!Array.isArray(v)) bad(field, v, 'a list');
  (v as unknown[]).forEach((e, i) => {
    const o = e as Record<string, unknown> | null;
    if (o === null || typeof o !== 'object' || !isCount(o['iteration']) || typeof o['loss'] !== 'number' || typeof o['avg'] !== 'number') {
      bad(`${field}[${i}]`, e, '{ iteration: integer, loss: number, avg: number }');
    }
  });
}

/** A list of { iteration, map }. */
export function checkMapList(v: unknown, field: string, bad: StateFieldError): void {
  if (!Array.isArray(v)) bad(field, v, 'a list');
  (v as unknown[]).forEach((e, i) => {
    const o = e as Record<string, unknown> | null;
    if (o === null || typeof o !== 'object' || !isCount(o['iteration']) || typeof o['map'] !== 'number') bad(`${field}[${i}]`, e, '{ iteration: integer, map: number }');
  });
}
