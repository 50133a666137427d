// The network and optimiser part of a training state file (src/nn/checkpoint.ts holds the container):
// every network state entry as `net/<name>` and every optimiser slot as `opt/<index>/<key>`, plus the
// hash of the cfg's layer sections that a resume must match.

import { createHash } from 'node:crypto';

import { tensorFromEntry, type TensorFileEntry, type TensorFileInput } from '../../nn/checkpoint.js';
import { Adam } from '../../nn/optim/adam.js';
import type { Optimizer } from '../../nn/optim/optimizer.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Network } from '../net/network.js';

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
