// fast-check arbitraries for op property tests: small shapes, broadcast-compatible shape pairs, and
// values kept away from the points where an op is not differentiable (so that central differences
// agree with the analytic gradient).
//
// fast-check prints the seed and path of a failing run; set FC_SEED=<seed> to replay one.

import fc from 'fast-check';

import { ref, sizeOfShape, type Ref } from './ref.js';

/** Parameters of fc.assert: a small number of runs, the replay seed from FC_SEED when set. */
export function runs(numRuns: number): fc.Parameters<unknown> {
  const seed = process.env['FC_SEED'];
  return seed === undefined ? { numRuns } : { numRuns, seed: Number(seed) };
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

function valueArb(kind: ValueKind): fc.Arbitrary<number> {
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

/** A Ref of the given shape with values of one kind. */
export function refArb(shape: readonly number[], kind: ValueKind = 'smooth'): fc.Arbitrary<Ref> {
  const n = sizeOfShape(shape);
  return fc.array(valueArb(kind), { minLength: n, maxLength: n }).map((vals) => ref(shape, vals));
}

/** A Ref with pairwise distinct values at least 0.05 apart (max/min without ties). */
export function distinctRefArb(shape: readonly number[]): fc.Arbitrary<Ref> {
  const n = sizeOfShape(shape);
  return fc.uniqueArray(fc.integer({ min: -60, max: 60 }), { minLength: n, maxLength: n }).map((ks) => ref(shape, ks.map((k) => k * 0.05)));
}

/** A non-empty subset of the dims of a rank-n tensor (some as negative dims), or null (= all dims). */
export function dimsArb(rank: number): fc.Arbitrary<number[] | null> {
  if (rank === 0) return fc.constant(null);
  const all = Array.from({ length: rank }, (_, i) => i);
  // each dim given either as d or as its negative alias d - rank
  const subset = fc.subarray(all, { minLength: 1 }).chain((ds) => fc.tuple(...ds.map((d) => fc.constantFrom(d, d - rank))));
  return fc.oneof(fc.constant(null), subset);
}
