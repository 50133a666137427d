// Darknet .weights values ⇄ the tensors of a Network's layer modules.
//
// The weights module (src/yolo/darknet/weights.ts) reads a file into one Float32Array per tensor, in
// Darknet's order; every module keeps its tensors under the same names (biases, scales, rollingMean,
// rollingVariance, weights) with shapes whose row-major order IS that order:
//   convolutional  weights [filters, c/groups, size, size], biases/scales/rolling* [filters]
//   connected      weights [outputs, inputs], biases/scales/rolling* [outputs]
//   local          weights [out_h, out_w, filters, c, size, size], biases [filters, out_h, out_w]
// so loading is a flat copy. Tensors a file does not carry (dontloadscales) keep their values.

import { noGrad } from '../../autograd/grad-mode.js';
import { shapeStr } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { fromHost } from '../../tensor/ops/creation.js';
import { copyInto } from '../../tensor/ops/copy.js';
import type { TensorName } from '../darknet/cfg-types.js';
import { nonFiniteWeights, readWeightsFile, writeWeightsFile, type DarknetWeights, type LayerWeights, type WeightedLayerType, type WeightsHeader } from '../darknet/weights.js';
import { describeLayer } from './layers.js';
import type { Network } from './network.js';

const TENSOR_NAMES: readonly TensorName[] = ['biases', 'scales', 'rollingMean', 'rollingVariance', 'weights'];

/** Copies host values into tensor `t` (any device; float32 values widened for a float64 network). */
function assign(t: Tensor, data: Float32Array, what: string): void {
  if (data.length !== t.size) throw new Error(`${what}: ${data.length} values for a tensor of shape ${shapeStr(t.shape)} (${t.size} values)`);
  noGrad(() => {
    const host = t.dtype === 'float64' ? Float64Array.from(data) : data;
    const src = fromHost(host, t.shape, { device: t.device });
    copyInto(t, src);
    src.dispose();
  });
}

/**
 * Copies the values of `weights` (read for net.cfg) into the network's tensors; sets net.header.
 * Returns a warning per layer whose values hold NaN or infinities (nonFiniteWeights), which load as they
 * are (a diverged checkpoint is still worth inspecting) but make every output they reach non-finite.
 */
export function loadWeights(net: Network, weights: DarknetWeights): string[] {
  for (const lw of weights.layers) {
    const m = net.layers[lw.layerIndex];
    if (m === undefined) throw new Error(`loadWeights: weights for layer ${lw.layerIndex} [${lw.type}], but ${net.cfg.file} has ${net.layers.length} layers`);
    if (m.layer.type !== lw.type) throw new Error(`loadWeights: weights for a [${lw.type}] layer given to ${describeLayer(m.layer)}`);
    for (const name of TENSOR_NAMES) {
      const data = lw[name];
      if (data === null) continue;
      const t = m.weightTensor(name);
      if (t === null) {
        if (data.length === 0) continue;
        throw new Error(`loadWeights: ${describeLayer(m.layer)} has no '${name}' tensor, but the weights carry ${data.length} values for it`);
      }
      assign(t, data, `loadWeights: ${describeLayer(m.layer)} '${name}'`);
    }
  }
  net.header = { ...weights.header };
  return nonFiniteWeights(weights, net.cfg);
}

/** Host float32 copy of a tensor's values (row-major). */
function hostValues(t: Tensor): Float32Array {
  const d = t.data();
  return d instanceof Float32Array ? d : Float32Array.from(d);
}

/**
 * The network's current parameters as DarknetWeights (every layer with parameters, BN tensors included
 * when the layer has BN), ready for writeWeights. Header: `header` if given, else net.header.
 */
export function exportWeights(net: Network, header?: WeightsHeader): DarknetWeights {
  const layers: LayerWeights[] = [];
  for (const m of net.layers) {
    const l = m.layer;
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
    for (const spec of l.tensors) {
      const t = m.weightTensor(spec.name);
      if (t === null) throw new Error(`exportWeights: ${describeLayer(l)} has no '${spec.name}' tensor`);
      if (t.size !== spec.count) throw new Error(`exportWeights: ${describeLayer(l)} '${spec.name}' holds ${t.size} values, the cfg needs ${spec.count}`);
      lw[spec.name] = hostValues(t);
    }
    layers.push(lw);
  }
  return { header: { ...(header ?? net.header) }, layers };
}

/** Reads a .weights file for net.cfg (every size checked) and loads it; returns loadWeights' warnings. */
export async function loadWeightsFile(net: Network, path: string): Promise<string[]> {
  return loadWeights(net, await readWeightsFile(path, net.cfg));
}

/** Writes the network's parameters as a Darknet .weights file (atomically). */
export async function saveWeightsFile(net: Network, path: string, header?: WeightsHeader): Promise<void> {
  await writeWeightsFile(path, exportWeights(net, header), net.cfg);
}
