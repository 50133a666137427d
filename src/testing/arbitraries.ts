// fast-check arbitraries for op property tests (the ones tsgrad's own tests use): shapes, broadcast-
// compatible shape tuples, host tensors of a dtype with values kept away from the points where an op is
// not differentiable (so that central differences agree with the analytic gradient), dim subsets and
// convolution geometries.
//
// Values are host tensors (shape + float64 data), never Tensors: fast-check generates and shrinks many
// of them, and a host value holds no device memory. toTensor() makes the Tensor inside the property.
// fast-check prints the seed and path of a failing run; FC_SEED=<seed> replays one, FC_RUNS=<n> sets the
// number of runs of every property that takes its parameters from runs().

import fc from 'fast-check';

import type { DType } from '../tensor/dtype.js';
import type { DeviceLike } from '../tensor/device.js';
import { fromHost } from '../tensor/ops/creation.js';
import type { Tensor } from '../tensor/tensor.js';

/** A tensor's values on the host: row-major float64 data and a shape (and the dtype to make it in). */
export interface HostTensor {
  shape: number[];
  data: Float64Array;
  dtype?: DType;
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function hostTensor(shape: readonly number[], data: ArrayLike<number>, dtype?: DType): HostTensor {
  if (sizeOf(shape) !== data.length) throw new Error(`hostTensor: ${data.length} values for shape [${shape.join(', ')}]`);
  return { shape: [...shape], data: Float64Array.from(data), ...(dtype ? { dtype } : {}) };
}

/** A Tensor with the host tensor's values (dtype: the option, else the host tensor's, else float64). */
export function toTensor(h: HostTensor, opts: { dtype?: DType; requiresGrad?: boolean; device?: DeviceLike } = {}): Tensor {
  const dtype = opts.dtype ?? h.dtype ?? 'float64';
  const host = dtype === 'float64' ? Float64Array.from(h.data) : dtype === 'float32' ? Float32Array.from(h.data) : Int32Array.from(h.data);
  const t = fromHost(host, h.shape, opts.device === undefined ? {} : { device: opts.device });
  return opts.requiresGrad ? t.requireGrad() : t;
}

/** Parameters of fc.assert: `numRuns` runs (FC_RUNS overrides it), the replay seed from FC_SEED when set. */
export function runs(numRuns: number): fc.Parameters<unknown> {
  const seed = process.env['FC_SEED'];
  const override = Number(process.env['FC_RUNS']);
  const n = Number.isInteger(override) && override > 0 ? override : numRuns;
  return seed === undefined ? { numRuns: n } : { numRuns: n, seed: Number(seed) };
}

/** A shape of rank minRank..maxRank with dims 1..maxDim. */
export function shapeArb(minRank = 0, maxRank = 3, maxDim = 3): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: minRank, maxLength: maxRank });
}

/** An operand shape that broadcasts to `out`: some leading dims dropped, some dims set to 1. */
function operandOf(out: readonly number[]): fc.Arbitrary<number[]> {
  return fc
    .tuple(fc.integer({ min: 0, max: out.length }), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }))
    .map(([drop, ones]) => out.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));
}

/** `count` shapes that broadcast together (to a shape of rank <= maxRank). */
export function broadcastShapesArb(count: number, maxRank = 3, maxDim = 3): fc.Arbitrary<number[][]> {
  return shapeArb(0, maxRank, maxDim).chain((out) => fc.tuple(...Array.from({ length: count }, () => operandOf(out))));
}

export type ValueKind =
  /** anywhere in [-2, 2] (smooth ops) */
  | 'smooth'
  /** |v| in [0.25, 2] (relu, leaky relu, abs at 0; divisors) */
  | 'awayFromZero'
  /** [0.3, 2.5] (log, sqrt, pow bases) */
  | 'positive'
  /** 0.2k + [0, 0.04]: with 'gridB' never closer than 0.06 (maximum/minimum ties) */
  | 'gridA'
  | 'gridB'
  /** [-2, 2] but at least 0.05 from ±0.5 (clamp bounds) */
  | 'clampSafe';

/** One value of a kind. */
export function valueArb(kind: ValueKind): fc.Arbitrary<number> {
  const d = (min: number, max: number): fc.Arbitrary<number> => fc.double({ min, max, noNaN: true });
  switch (kind) {
    case 'smooth':
      return d(-2, 2);
    case 'awayFromZero':
      return fc.tuple(fc.boolean(), d(0.25, 2)).map(([neg, v]) => (neg ? -v : v));
    case 'positive':
      return d(0.3, 2.5);
    case 'gridA':
      return fc.tuple(fc.integer({ min: -8, max: 8 }), d(0, 0.04)).map(([k, u]) => 0.2 * k + u);
    case 'gridB':
      return fc.tuple(fc.integer({ min: -8, max: 8 }), d(0, 0.04)).map(([k, u]) => 0.2 * k + 0.1 + u);
    case 'clampSafe':
      return d(-2, 2).filter((v) => Math.abs(Math.abs(v) - 0.5) > 0.05);
  }
}

/** Values in [lo, hi] at least `gap` away from each of `points` (the kinks of one's own op). */
export function awayFromArb(points: readonly number[], gap = 0.05, lo = -2, hi = 2): fc.Arbitrary<number> {
  return fc.double({ min: lo, max: hi, noNaN: true }).filter((v) => points.every((p) => Math.abs(v - p) >= gap));
}

/** A host tensor of the given shape with values of one kind (or from a value arbitrary). */
export function hostTensorArb(shape: readonly number[], kind: ValueKind | fc.Arbitrary<number> = 'smooth', dtype?: DType): fc.Arbitrary<HostTensor> {
  const n = sizeOf(shape);
  const values = typeof kind === 'string' ? valueArb(kind) : kind;
  // float32 tensors get float32 values, so that the host copy is exactly what the tensor holds
  const v = dtype === 'float32' ? values.map(Math.fround) : values;
  return fc.array(v, { minLength: n, maxLength: n }).map((vals) => hostTensor(shape, vals, dtype));
}

export interface TensorArbOptions {
  dtype?: DType;
  /** A fixed shape, or the rank and dim ranges of a random one. */
  shape?: readonly number[];
  minRank?: number;
  maxRank?: number;
  maxDim?: number;
  /** Value kind (default 'smooth'; int32 tensors get integers in [0, intMax)). */
  kind?: ValueKind | fc.Arbitrary<number>;
  intMax?: number;
}

/** A host tensor of a dtype with a fixed or random shape. */
export function tensorArb(opts: TensorArbOptions = {}): fc.Arbitrary<HostTensor> {
  const shapes = opts.shape ? fc.constant([...opts.shape]) : shapeArb(opts.minRank ?? 0, opts.maxRank ?? 3, opts.maxDim ?? 3);
  if (opts.dtype === 'int32') {
    const max = opts.intMax ?? 10;
    return shapes.chain((s) => hostTensorArb(s, fc.integer({ min: 0, max: max - 1 }), 'int32'));
  }
  return shapes.chain((s) => hostTensorArb(s, opts.kind ?? 'smooth', opts.dtype));
}

/** A host tensor with pairwise distinct values at least 0.05 apart (max/min without ties). */
export function distinctHostTensorArb(shape: readonly number[]): fc.Arbitrary<HostTensor> {
  const n = sizeOf(shape);
  return fc.uniqueArray(fc.integer({ min: -60, max: 60 }), { minLength: n, maxLength: n }).map((ks) => hostTensor(shape, ks.map((k) => k * 0.05)));
}

/** A non-empty subset of the dims of a rank-n tensor (some as negative dims), or null (= all dims). */
export function dimsArb(rank: number): fc.Arbitrary<number[] | null> {
  if (rank === 0) return fc.constant(null);
  const all = Array.from({ length: rank }, (_, i) => i);
  // each dim given either as d or as its negative alias d - rank
  const subset = fc.subarray(all, { minLength: 1 }).chain((ds) => fc.tuple(...ds.map((d) => fc.constantFrom(d, d - rank))));
  return fc.oneof(fc.constant(null), subset);
}

/** A valid conv2d configuration: shapes and the options conv2d takes. */
export interface ConvGeometry {
  inputShape: [number, number, number, number];
  weightShape: [number, number, number, number];
  outputShape: [number, number, number, number];
  stride: [number, number];
  /** [top, bottom, left, right] */
  padding: [number, number, number, number];
  dilation: [number, number];
  groups: number;
}

export interface ConvGeometryOptions {
  maxBatch?: number;
  maxGroups?: number;
  /** channels per group, in and out */
  maxChannels?: number;
  maxKernel?: number;
  maxStride?: number;
  maxDilation?: number;
  maxPadding?: number;
  /** output rows and columns */
  maxOutput?: number;
}

/** Random conv2d geometries with outputs of at least 1x1 (every dim small by default). */
export function convGeometryArb(o: ConvGeometryOptions = {}): fc.Arbitrary<ConvGeometry> {
  const int = (max: number, min = 1): fc.Arbitrary<number> => fc.integer({ min, max: Math.max(min, max) });
  return fc
    .record({
      N: int(o.maxBatch ?? 2),
      G: int(o.maxGroups ?? 2),
      Cg: int(o.maxChannels ?? 2),
      Og: int(o.maxChannels ?? 2),
      kh: int(o.maxKernel ?? 3),
      kw: int(o.maxKernel ?? 3),
      sh: int(o.maxStride ?? 2),
      sw: int(o.maxStride ?? 2),
      dh: int(o.maxDilation ?? 2),
      dw: int(o.maxDilation ?? 2),
      pad: fc.tuple(int(o.maxPadding ?? 1, 0), int(o.maxPadding ?? 1, 0), int(o.maxPadding ?? 1, 0), int(o.maxPadding ?? 1, 0)),
      OH: int(o.maxOutput ?? 3),
      OW: int(o.maxOutput ?? 3),
      extraH: int(1, 0),
      extraW: int(1, 0),
    })
    .map((r) => {
      // the smallest input giving OH rows, plus up to stride-1 rows the last window does not reach
      const size = (out: number, s: number, k: number, d: number, p0: number, p1: number, extra: number): number =>
        Math.max(1, (out - 1) * s + d * (k - 1) + 1 - p0 - p1 + Math.min(extra, s - 1));
      const H = size(r.OH, r.sh, r.kh, r.dh, r.pad[0], r.pad[1], r.extraH);
      const W = size(r.OW, r.sw, r.kw, r.dw, r.pad[2], r.pad[3], r.extraW);
      const out = (n: number, k: number, s: number, d: number, p0: number, p1: number): number => Math.floor((n + p0 + p1 - d * (k - 1) - 1) / s) + 1;
      const OH = out(H, r.kh, r.sh, r.dh, r.pad[0], r.pad[1]);
      const OW = out(W, r.kw, r.sw, r.dw, r.pad[2], r.pad[3]);
      return {
        inputShape: [r.N, r.G * r.Cg, H, W],
        weightShape: [r.G * r.Og, r.Cg, r.kh, r.kw],
        outputShape: [r.N, r.G * r.Og, OH, OW],
        stride: [r.sh, r.sw],
        padding: [...r.pad],
        dilation: [r.dh, r.dw],
        groups: r.G,
      } as ConvGeometry;
    })
    .filter((g) => g.outputShape[2] >= 1 && g.outputShape[3] >= 1);
}
