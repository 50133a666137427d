// Deterministic pseudo-random Darknet weights and inputs (SEMANTICS.md 3, normative): the files the
// reference cases were made from can be rebuilt byte for byte and checked against their sha256.
//
// All integer arithmetic is uint32 (Math.imul + `>>> 0`):
//   fmix32(h)            murmur3's finalizer
//   key(seed, layer, t)  = fmix32(seed*0x9E3779B9 + (layer+1)*0x85EBCA6B + (t+1)*0xC2B2AE35)
//   h_i                  = fmix32(key + i*0x9E3779B9)
//   v_i                  = float32((2*(h_i>>>8)/2^24 - 1) * A + B)   (double arithmetic, one rounding)
// Tensor ids and (A, B): biases 0 (0.1, 0; [connected] 0.1, 0.5), BN scales 1 (0.25, 1), rolling mean
// 2 (0.1, 0), rolling variance 3 (0.5, 1), weights 4 (sqrt(6/fan_in)*gain, 0) with gain 0.1 for
// [connected], 0.5 for a linear [convolutional], 1 otherwise.
// Input (3.3): k_i = fmix32(key(seed, -1, 0) + i*0x9E3779B9) >>> 24, x_i = float32(k_i/255).

import type { DarknetLayer, DarknetNetwork, TensorName } from './cfg-types.js';
import { defaultHeader, writeWeights, type DarknetWeights, type LayerWeights, type WeightedLayerType } from './weights.js';

const GOLDEN = 0x9e3779b9;
const C1 = 0x85ebca6b;
const C2 = 0xc2b2ae35;

export function fmix32(h: number): number {
  h >>>= 0;
  h ^= h >>> 16;
  h = Math.imul(h, C1);
  h ^= h >>> 13;
  h = Math.imul(h, C2);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Key of tensor `tensor` of layer `layer` (layer -1 for the input). */
export function tensorKey(seed: number, layer: number, tensor: number): number {
  return fmix32((Math.imul(seed >>> 0, GOLDEN) + Math.imul(layer + 1, C1) + Math.imul(tensor + 1, C2)) >>> 0);
}

/** h_i: the i-th hash of a tensor. */
export function hashAt(key: number, i: number): number {
  return fmix32((key + Math.imul(i, GOLDEN)) >>> 0);
}

/** Fills `out` with v_i = float32(s_i*A + B), s_i uniform in [-1, 1) from (key, i). */
export function fillUniform(out: Float32Array, key: number, a: number, b: number): Float32Array {
  for (let i = 0; i < out.length; i++) {
    const u = (hashAt(key, i) >>> 8) / 16777216;
    out[i] = (2 * u - 1) * a + b;
  }
  return out;
}

export const TENSOR_IDS: Readonly<Record<TensorName, number>> = {
  biases: 0,
  scales: 1,
  rollingMean: 2,
  rollingVariance: 3,
  weights: 4,
};

/** (A, B) of a tensor of layer `l` (SEMANTICS.md 3.2 table). */
export function tensorScale(l: DarknetLayer, name: TensorName): { a: number; b: number } {
  switch (name) {
    case 'biases':
      return { a: 0.1, b: l.type === 'connected' ? 0.5 : 0 };
    case 'scales':
      return { a: 0.25, b: 1 };
    case 'rollingMean':
      return { a: 0.1, b: 0 };
    case 'rollingVariance':
      return { a: 0.5, b: 1 };
    case 'weights': {
      let fanIn: number, gain: number;
      if (l.type === 'convolutional') {
        fanIn = (l.shape.c / l.groups) * l.size * l.size;
        gain = l.activation === 'linear' ? 0.5 : 1;
      } else if (l.type === 'local') {
        fanIn = l.size * l.size * l.shape.c;
        gain = 1;
      } else if (l.type === 'connected') {
        fanIn = l.shape.inputs;
        gain = 0.1;
      } else {
        throw new Error(`layer ${l.index} [${l.type}] has no weights`);
      }
      return { a: Math.sqrt(6.0 / fanIn) * gain, b: 0 };
    }
  }
}

/** Generated parameters for every layer of `net` that has any, header version 0.2.0, seen 0. */
export function generateWeights(net: DarknetNetwork, seed: number): DarknetWeights {
  const layers: LayerWeights[] = [];
  for (const l of net.layers) {
    if (l.tensors.length === 0) continue;
    const lw: LayerWeights = {
      layerIndex: l.index,
      type: l.type as WeightedLayerType,
      biases: new Float32Array(0),
      scales: null,
      rollingMean: null,
      rollingVariance: null,
      weights: new Float32Array(0),
    };
    for (const t of l.tensors) {
      const { a, b } = tensorScale(l, t.name);
      lw[t.name] = fillUniform(new Float32Array(t.count), tensorKey(seed, l.index, TENSOR_IDS[t.name]), a, b);
    }
    layers.push(lw);
  }
  return { header: defaultHeader(0), layers };
}

/** The .weights file bytes of `make_weights.py weights` for this cfg (sizes already in `net`). */
export function makeWeightsBytes(net: DarknetNetwork, seed: number): Uint8Array {
  return writeWeights(generateWeights(net, seed), net);
}

/** The synthetic input (SEMANTICS.md 3.3): channels×height×width floats in CHW order. */
export function makeInput(width: number, height: number, seed = 7, channels = 3): Float32Array {
  for (const [k, v] of [['width', width], ['height', height], ['channels', channels]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`makeInput: ${k} must be a positive integer, got ${v}`);
  }
  const key = tensorKey(seed, -1, 0);
  const out = new Float32Array(channels * height * width);
  for (let i = 0; i < out.length; i++) out[i] = (hashAt(key, i) >>> 24) / 255;
  return out;
}

/** Little-endian bytes of a Float32Array (the raw `.f32` file format). */
export function float32Bytes(a: Float32Array): Uint8Array {
  const out = new Uint8Array(a.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) dv.setFloat32(i * 4, a[i] as number, true);
  return out;
}
