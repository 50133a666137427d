// Every native kernel, called directly through the addon (allocate, upload, launch, download), against a
// plain float64 JavaScript reference, on each addon variant that was built: 'emu' (g++ host emulation;
// always built where a C++ compiler exists, so CI runs it) and 'cuda' (only with a GPU). Odd sizes and
// sizes that are not multiples of the tile sizes are used throughout; shapes stay small because emulated
// kernels run one thread at a time.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';

import { loadAddon, type AddonVariant, type NativeAddon } from '../src/backends/cuda/addon.js';
import { philox4x32, Rng, u32ToUnit } from '../src/tensor/random.js';

// ---------------------------------------------------------------------------------------------------
// helpers

type Arr = ArrayLike<number>;

function close(actual: Arr, expected: Arr, what: string, rtol = 2e-6, atol = 2e-6): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} values, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (a === e) continue;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) assert.fail(`${what}: element ${i} is ${a}, expected ${e}`);
  }
}

function exact(actual: Arr, expected: Arr, what: string): void {
  close(actual, expected, what, 0, 0);
}

function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = new Rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r.range(lo, hi);
  return a;
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let k = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = k;
    k *= shape[i]!;
  }
  return s;
}

/** Offsets of each operand for every element of `shape` (row-major order). */
function offsets(shape: readonly number[], strides: readonly (readonly number[])[]): number[][] {
  const n = sizeOf(shape);
  const out = strides.map(() => new Array<number>(n));
  for (let i = 0; i < n; i++) {
    let r = i;
    const offs = strides.map(() => 0);
    for (let d = shape.length - 1; d >= 0; d--) {
      const c = r % shape[d]!;
      r = Math.floor(r / shape[d]!);
      strides.forEach((s, k) => (offs[k]! += c * s[d]!));
    }
    offs.forEach((o, k) => (out[k]![i] = o));
  }
  return out;
}

/** Device memory of one test, freed at the end. */
class Mem {
  private readonly ptrs: number[] = [];
  constructor(readonly n: NativeAddon) {}
  alloc(count: number): number {
    const p = this.n.malloc(count * 4);
    this.ptrs.push(p);
    return p;
  }
  f32(data: Arr): number {
    const a = Float32Array.from(data);
    const p = this.alloc(a.length);
    if (a.length) this.n.memcpyHtoD(p, 0, a);
    return p;
  }
  i32(data: Arr): number {
    const a = Int32Array.from(data);
    const p = this.alloc(a.length);
    if (a.length) this.n.memcpyHtoD(p, 0, a);
    return p;
  }
  /** Output buffer pre-filled with NaN, so an element the kernel forgot to write is noticed. */
  out(count: number): number {
    const p = this.alloc(count);
    if (count) this.n.fill(p, this.n.constants.dtype.float32, count, NaN);
    return p;
  }
  get(p: number, count: number): Float32Array {
    const a = new Float32Array(count);
    if (count) this.n.memcpyDtoH(a, p, 0);
    return a;
  }
  geti(p: number, count: number): Int32Array {
    const a = new Int32Array(count);
    if (count) this.n.memcpyDtoH(a, p, 0);
    return a;
  }
  release(): void {
    for (const p of this.ptrs.splice(0)) this.n.free(p);
  }
}

function withMem(n: NativeAddon, fn: (m: Mem) => void): void {
  const m = new Mem(n);
  try {
    fn(m);
  } finally {
    m.release();
  }
}

function throwsMatching(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof Error, 'expected an Error');
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------------
// references (float64)

function gemmRef(
  A: Arr, B: Arr, Cin: Arr | null, M: number, N: number, K: number, ta: boolean, tb: boolean,
  lda: number, ldb: number, ldc: number, alpha: number, beta: number, bias: Arr | null, biasMode: 'none' | 'row' | 'col',
): Float64Array {
  const C = new Float64Array(M * ldc);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[ta ? k * lda + m : m * lda + k]! * B[tb ? n * ldb + k : k * ldb + n]!;
      let v = alpha * s;
      if (beta !== 0) v += beta * Cin![m * ldc + n]!;
      if (biasMode === 'row') v += bias![m]!;
      if (biasMode === 'col') v += bias![n]!;
      C[m * ldc + n] = v;
    }
  }
  return C;
}

interface ConvG {
  B: number; C: number; H: number; W: number; O: number; kh: number; kw: number; sh: number; sw: number;
  dh: number; dw: number; pt: number; pb: number; pl: number; pr: number; groups: number;
}
function convOut(g: ConvG): [number, number] {
  return [
    Math.floor((g.H + g.pt + g.pb - g.dh * (g.kh - 1) - 1) / g.sh) + 1,
    Math.floor((g.W + g.pl + g.pr - g.dw * (g.kw - 1) - 1) / g.sw) + 1,
  ];
}
function convArgs(g: ConvG): number[] {
  return [g.B, g.C, g.H, g.W, g.O, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pt, g.pb, g.pl, g.pr, g.groups];
}
/** Calls f(b, o, oy, ox, c, i, j, xIndex | -1) for every tap of the convolution. */
function convTaps(g: ConvG, f: (yIdx: number, wIdx: number, xIdx: number) => void): void {
  const [OH, OW] = convOut(g);
  const Cg = g.C / g.groups;
  const Og = g.O / g.groups;
  for (let b = 0; b < g.B; b++)
    for (let o = 0; o < g.O; o++)
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++)
          for (let c = 0; c < Cg; c++)
            for (let i = 0; i < g.kh; i++)
              for (let j = 0; j < g.kw; j++) {
                const h = oy * g.sh - g.pt + i * g.dh;
                const w = ox * g.sw - g.pl + j * g.dw;
                const cin = Math.floor(o / Og) * Cg + c;
                const xIdx = h >= 0 && h < g.H && w >= 0 && w < g.W ? ((b * g.C + cin) * g.H + h) * g.W + w : -1;
                f(((b * g.O + o) * OH + oy) * OW + ox, ((o * Cg + c) * g.kh + i) * g.kw + j, xIdx);
              }
}

// ---------------------------------------------------------------------------------------------------
// the suites

function skipReason(variant: AddonVariant): string | false {
  const load = loadAddon(variant);
  if (!load.addon) return `${variant} addon not built: ${load.reason}`;
  const info = load.addon.info();
  if (!info.available) {
    if (variant === 'emu') return false; // must never happen: the test below then fails loudly
    return `cuda addon built but no usable GPU here: ${info.reason}`;
  }
  return false;
}

for (const variant of ['emu', 'cuda'] as const) {
  const skip = skipReason(variant);
  describe(`native kernels (${variant})`, { skip }, () => {
    const n = loadAddon(variant).addon!;
    const K = n.constants;
    const F32 = K.dtype.float32;
    const I32 = K.dtype.int32;

    after(() => {
      n.synchronize();
    });

    it('reports an available device and exposes the op tables', () => {
      const info = n.info();
      assert.equal(info.available, true, info.reason);
      assert.equal(info.backend, variant);
      assert.equal(n.variant, variant);
      assert.equal(typeof K.unary.leakyRelu, 'number');
      assert.equal(typeof K.binary.maximum, 'number');
    });

    it('copies host <-> device with byte offsets, and device <-> device', () => {
      withMem(n, (m) => {
        const p = m.alloc(10);
        n.memcpyHtoD(p, 0, new Float32Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
        n.memcpyHtoD(p, 8, new Float32Array([20, 30]));
        const host = new Float32Array(12);
        n.memcpyDtoH(host.subarray(1, 5), p, 4);
        exact(host, [0, 1, 20, 30, 4, 0, 0, 0, 0, 0, 0, 0], 'dtoh into a subarray from offset 4 bytes');
        const q = m.alloc(4);
        n.memcpyDtoD(q, 4, p, 24, 12);
        exact(m.get(q, 4).subarray(1), [6, 7, 8], 'dtod');
      });
    });

    it('caching allocator: reuses freed blocks of the same bin and counts bytes', () => {
      n.synchronize();
      n.emptyCache();
      const s0 = n.memoryStats();
      assert.equal(s0.cachedBlocks, 0);
      const a = n.malloc(1000);
      const s1 = n.memoryStats();
      assert.equal(s1.allocatedBytes - s0.allocatedBytes, 1024, '1000 bytes round up to the 1024 bin');
      assert.equal(s1.requestedBytes - s0.requestedBytes, 1000);
      assert.equal(s1.liveBlocks - s0.liveBlocks, 1);
      n.free(a);
      const b = n.malloc(900); // same bin (769..1024)
      assert.equal(b, a, 'a block of the same bin comes back from the cache');
      const s2 = n.memoryStats();
      assert.equal(s2.cacheHits - s1.cacheHits, 1);
      assert.equal(s2.deviceMallocs, s1.deviceMallocs, 'no new device allocation');
      assert.ok(s2.peakAllocatedBytes >= s2.allocatedBytes);
      n.free(b);
      assert.equal(n.memoryStats().cachedBlocks, 1);
      n.emptyCache();
      const s3 = n.memoryStats();
      assert.equal(s3.cachedBlocks, 0);
      assert.equal(s3.reservedBytes, s0.reservedBytes, 'emptyCache returns the cached bytes');
    });

    it('turns bad pointers and arguments into errors naming the entry and the argument', () => {
      throwsMatching(() => n.free(12345), /^free: /, /not the start of a live device allocation/);
      withMem(n, (m) => {
        const p = m.alloc(4);
        throwsMatching(() => n.memcpyHtoD(p, 8, new Float32Array(4)), /^memcpyHtoD: /, /'dst' needs 16 bytes/);
        throwsMatching(() => n.fill(p, F32, 5, 0), /^fill: /, /'y'/);
        throwsMatching(() => n.fill(p + 1_000_000_000, F32, 1, 0), /^fill: /, /not inside a live device allocation/);
        throwsMatching(() => n.fill(p, F32, 1.5, 0), /^fill: argument 2 \('n'\) must be an integer/);
        throwsMatching(() => (n.fill as (...a: unknown[]) => void)(p, F32, 'x', 0), /^fill: argument 2 \('n'\) must be a number/);
        throwsMatching(() => (n.fill as (...a: unknown[]) => void)(p), /^fill: expected 4 arguments, got 1/);
        throwsMatching(() => n.unary(p, p, [4], [1], [1], 9999, 0, 0), /^unary: unknown op code 9999/);
        throwsMatching(() => n.gemm(p, p, p, 0, 2, 2, 2, false, false, 1, 2, 2, 1, 0, K.biasMode.none, 1, 0, 0, 0), /^gemm: lda 1 < 2/);
      });
    });

    if (variant === 'emu') {
      it('emulator: barriers, warp collectives, block reductions and atomics', () => {
        const e = n.emuSelfTest!;
        // barrier: thread t reads what thread (t+1) % 96 wrote before the barrier, per block
        exact(e('barrier'), Array.from({ length: 192 }, (_, i) => ((i % 96) + 1) % 96 + 1000 * Math.floor(i / 96)), 'barrier');
        const w = e('warp');
        for (let t = 0; t < 64; t++) {
          const lane = t % 32;
          const base = t - lane;
          const sum = 32 * base + 496;
          const expect = [sum, lane >= 1 ? t - 1 : t, lane + 3 < 32 ? t + 3 : t, base + 7, 1, 1, 1];
          exact(w.slice(t * 7, t * 7 + 7), expect, `warp ops of thread ${t}`);
        }
        exact(e('blockReduce'), [11120, 149, 160], 'block_sum / block_max / block_sum');
        exact(e('atomics'), [3 * 64 * 1.5, 63], 'atomicAdd / atomicMax');
      });

      it('emulator: divergent barriers, exited lanes and deadlocks are launch errors, never hangs', () => {
        const e = n.emuSelfTest!;
        throwsMatching(() => e('divergentBarrier'), /divergent_barrier/, /cudaErrorLaunchFailure \(719\)/, /divergent __syncthreads/);
        throwsMatching(() => e('exitBeforeBarrier'), /exited while 5 thread\(s\) wait at a barrier/);
        throwsMatching(() => e('shuffleExitedLane'), /waits at __shfl_xor_sync for lane 3 which has exited/);
        throwsMatching(() => e('shuffleVsBarrier'), /deadlock/, /__syncthreads/);
        throwsMatching(() => e('badConfig'), /cudaErrorInvalidConfiguration \(9\)/, /block \(2048,1,1\)/);
        throwsMatching(() => e('barrierInNosyncKernel'), /launched as barrier-free \(TS_LAUNCH_NOSYNC\) reached __shfl_xor_sync/);
        // the emulator is still usable afterwards
        exact(e('blockReduce'), [11120, 149, 160], 'after the failures');
      });
    }

    it('fill: float32 and int32 constants', () => {
      withMem(n, (m) => {
        const p = m.alloc(1001);
        n.fill(p, F32, 1001, -2.5);
        exact(m.get(p, 1001), new Array(1001).fill(-2.5), 'fill f32');
        n.fill(p, I32, 7, -3);
        exact(m.geti(p, 7), new Array(7).fill(-3), 'fill i32');
      });
    });

    it('fillUniform / fillNormal reproduce src/tensor/random.ts stream positions exactly', () => {
      withMem(n, (m) => {
        for (const [seed, skipWords] of [[7, 0], [123456789012, 5], [3, 4099]] as const) {
          const rng = new Rng(seed);
          for (let i = 0; i < skipWords; i++) rng.nextU32();
          const expected = Array.from({ length: 37 }, () => Math.fround(-2 + 5 * rng.uniform()));
          const p = m.out(37);
          n.fillUniform(p, 37, seed, skipWords, -2, 3);
          exact(m.get(p, 37), expected, `uniform seed ${seed} start ${skipWords}`);
        }
        const rng = new Rng(99);
        rng.nextU32();
        const expected = Array.from({ length: 41 }, () => Math.fround(rng.normal(1, 2)));
        const p = m.out(41);
        n.fillNormal(p, 41, 99, 1, 1, 2);
        close(m.get(p, 41), expected, 'normal (libm vs V8 log/cos: at most 1 float ulp)', 1.2e-7, 1e-7);
      });
    });

    it('unary: every op on a transposed (strided) view and on contiguous data', () => {
      const x = rand(35, 1, -3, 3);
      x[3] = 0;
      x[4] = 2.5;
      x[5] = -2.5;
      x[6] = 0.5;
      const pos = Float32Array.from(x, (v) => Math.abs(v) + 0.25);
      const f32 = Math.fround;
      const sig = (v: number): number => 1 / (1 + Math.exp(-v));
      const sp = (v: number): number => (v > 20 ? v : Math.log1p(Math.exp(v)));
      const roundEven = (v: number): number => {
        const r = Math.round(v);
        return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
      };
      const cases: [string, number, number, (v: number) => number, Float32Array][] = [
        ['identity', 0, 0, (v) => v, x],
        ['neg', 0, 0, (v) => -v, x],
        ['abs', 0, 0, Math.abs, x],
        ['sign', 0, 0, Math.sign, x],
        ['exp', 0, 0, Math.exp, x],
        ['log', 0, 0, Math.log, pos],
        ['sqrt', 0, 0, Math.sqrt, pos],
        ['rsqrt', 0, 0, (v) => 1 / Math.sqrt(v), pos],
        ['square', 0, 0, (v) => v * v, x],
        ['reciprocal', 0, 0, (v) => 1 / v, pos],
        ['sin', 0, 0, Math.sin, x],
        ['cos', 0, 0, Math.cos, x],
        ['tanh', 0, 0, Math.tanh, x],
        ['sigmoid', 0, 0, sig, x],
        ['relu', 0, 0, (v) => (v > 0 ? v : 0), x],
        ['leakyRelu', f32(0.1), 0, (v) => (v > 0 ? v : f32(0.1) * v), x],
        ['leakyDarknet', 0.1, 0, (v) => (v > 0 ? v : 0.1 * v), x],
        ['sigmoidDarknet', 0, 0, sig, x],
        ['softplus', 0, 0, sp, x],
        ['silu', 0, 0, (v) => v * sig(v), x],
        ['mish', 0, 0, (v) => v * Math.tanh(sp(v)), x],
        ['floor', 0, 0, Math.floor, x],
        ['ceil', 0, 0, Math.ceil, x],
        ['round', 0, 0, roundEven, x],
        ['trunc', 0, 0, Math.trunc, x],
        ['clamp', -1, 1.5, (v) => (v < -1 ? -1 : v > 1.5 ? 1.5 : v), x],
        ['heaviside', 0.25, 0, (v) => (v > 0 ? 1 : 0.25), x],
        ['inRange', -1, 1, (v) => (v >= -1 && v <= 1 ? 1 : 0), x],
        ['addScalar', 2, 0, (v) => v + 2, x],
        ['mulScalar', -3, 0, (v) => v * -3, x],
        ['rsubScalar', 2, 0, (v) => 2 - v, x],
        ['rdivScalar', 2, 0, (v) => 2 / v, pos],
        ['powScalar', 1.5, 0, (v) => Math.pow(v, 1.5), pos],
        ['maximumScalar', 0.5, 0, (v) => Math.max(v, 0.5), x],
        ['minimumScalar', 0.5, 0, (v) => Math.min(v, 0.5), x],
      ];
      assert.equal(cases.length, Object.keys(K.unary).length, 'every native unary op is tested');
      withMem(n, (m) => {
        for (const [name, p0, p1, f, src] of cases) {
          const xp = m.f32(src); // viewed as [7, 5]: y[i][j] = x[j][i] (x stored [5, 7])
          const y = m.out(35);
          n.unary(y, xp, [7, 5], [5, 1], [1, 7], K.unary[name]!, p0, p1);
          const expected = Array.from({ length: 35 }, (_, t) => f(src[(t % 5) * 7 + Math.floor(t / 5)]!));
          close(m.get(y, 35), expected, `unary ${name} (strided)`, 4e-6, 2e-6);
          const y2 = m.out(35);
          n.unary(y2, xp, [35], [1], [1], K.unary[name]!, p0, p1);
          close(m.get(y2, 35), Array.from(src, f), `unary ${name} (contiguous)`, 4e-6, 2e-6);
        }
      });
    });

    it('unary: leakyDarknet is Darknet\'s double product and differs from the float32 one where it should', () => {
      const x = Float32Array.from({ length: 200 }, (_, i) => -(i + 1) * 0.0137);
      withMem(n, (m) => {
        const xp = m.f32(x);
        const yd = m.out(200);
        const yf = m.out(200);
        n.unary(yd, xp, [200], [1], [1], K.unary.leakyDarknet!, 0.1, 0);
        n.unary(yf, xp, [200], [1], [1], K.unary.leakyRelu!, Math.fround(0.1), 0);
        exact(m.get(yd, 200), Array.from(x, (v) => Math.fround(0.1 * v)), 'darknet leaky bit-exact');
        exact(m.get(yf, 200), Array.from(x, (v) => Math.fround(Math.fround(0.1) * v)), 'pytorch leaky bit-exact');
      });
    });

    it('binary: every op with broadcasting through stride-0 dims, float32 and int32', () => {
      const shape = [3, 4, 5];
      const a = rand(15, 2, -2, 2); // [3, 1, 5]
      const b = rand(4, 3, -2, 2); //  [4, 1]
      a[0] = b[0]!; // an equality
      a[1] = NaN;
      const sa = [5, 0, 1];
      const sb = [0, 1, 0];
      const [, oa, ob] = offsets(shape, [contiguousStrides(shape), sa, sb]) as [number[], number[], number[]];
      const fs: Record<string, (x: number, y: number) => number> = {
        add: (x, y) => x + y, sub: (x, y) => x - y, mul: (x, y) => x * y, div: (x, y) => x / y,
        pow: (x, y) => Math.pow(Math.abs(x), y),
        maximum: (x, y) => (x > y || x !== x ? x : y), minimum: (x, y) => (x < y || x !== x ? x : y),
        eq: (x, y) => +(x === y), ne: (x, y) => +(x !== y), lt: (x, y) => +(x < y), le: (x, y) => +(x <= y),
        gt: (x, y) => +(x > y), ge: (x, y) => +(x >= y),
      };
      assert.equal(Object.keys(fs).length, Object.keys(K.binary).length, 'every native binary op is tested');
      withMem(n, (m) => {
        const absA = Float32Array.from(a, Math.abs);
        for (const [name, f] of Object.entries(fs)) {
          const src = name === 'pow' ? absA : a;
          const ap = m.f32(src);
          const bp = m.f32(b);
          const out = m.out(60);
          n.binary(out, ap, bp, shape, contiguousStrides(shape), sa, sb, K.binary[name]!, F32);
          close(m.get(out, 60), oa.map((o, i) => f(src[o]!, b[ob[i]!]!)), `binary ${name}`, 4e-6, 1e-6);
        }
        // int32: computed in double, stored with ToInt32 (as an Int32Array store)
        const ai = [7, -7, 2147483647, 5, 0, -9];
        const bi = [2, 2, 1, 0, 0, -4];
        const api = m.i32(ai);
        const bpi = m.i32(bi);
        const out = m.alloc(6);
        for (const name of ['add', 'div', 'mul', 'maximum', 'eq', 'pow']) {
          n.binary(out, api, bpi, [6], [1], [1], [1], K.binary[name]!, I32);
          const expected = Int32Array.from(ai, (v, i) => fs[name]!(v, bi[i]!));
          exact(m.geti(out, 6), expected, `binary int32 ${name}`);
        }
      });
    });

    it('where: broadcast condition and operands, float32 and int32', () => {
      const shape = [2, 3, 4];
      const cond = [1, 0, NaN, 0]; // [4]: NaN counts as true
      const a = rand(6, 5); // [2, 3, 1]
      const b = rand(24, 6);
      const strides = [contiguousStrides(shape), [0, 0, 1], [3, 1, 0], contiguousStrides(shape)];
      const [, oc, oa, ob] = offsets(shape, strides) as number[][];
      withMem(n, (m) => {
        const out = m.out(24);
        n.where(out, m.f32(cond), m.f32(a), m.f32(b), shape, strides[0]!, strides[1]!, strides[2]!, strides[3]!, F32);
        exact(m.get(out, 24), oc!.map((c, i) => (cond[c]! !== 0 ? a[oa![i]!]! : b[ob![i]!]!)), 'where f32');
        const outi = m.alloc(4);
        n.where(outi, m.i32([0, 5, 0, -1]), m.i32([1, 2, 3, 4]), m.i32([9, 9, 9, 9]), [4], [1], [1], [1], [1], I32);
        exact(m.geti(outi, 4), [9, 2, 9, 4], 'where i32');
      });
    });

    it('copy: strided to contiguous, into a strided slice, and casts with ToInt32 semantics', () => {
      withMem(n, (m) => {
        const x = rand(60, 7, -10, 10); // [3, 4, 5] permuted to [5, 3, 4]
        const shape = [5, 3, 4];
        const xs = [1, 20, 5];
        const [, ox] = offsets(shape, [contiguousStrides(shape), xs]) as number[][];
        const y = m.out(60);
        n.copy(y, F32, m.f32(x), F32, shape, contiguousStrides(shape), xs);
        exact(m.get(y, 60), ox!.map((o) => x[o]!), 'permuted copy');
        // write a [2, 3] block into columns 1..3 of a [2, 5] buffer (a cat slot)
        const dst = m.f32(new Array(10).fill(-1));
        n.copy(dst + 4, F32, m.f32([1, 2, 3, 4, 5, 6]), F32, [2, 3], [5, 1], [3, 1]);
        exact(m.get(dst, 10), [-1, 1, 2, 3, -1, -1, 4, 5, 6, -1], 'slice write');
        const f = [1.9, -1.9, 0, NaN, Infinity, -0.5, 3e9, -3e9, 2147483647.5];
        const ip = m.alloc(f.length);
        n.copy(ip, I32, m.f32(f), F32, [f.length], [1], [1]);
        exact(m.geti(ip, f.length), Int32Array.from(Float32Array.from(f), (v) => Math.trunc(v)), 'float32 -> int32');
        const back = m.out(3);
        n.copy(back, F32, m.i32([16777217, -5, 2147483647]), I32, [3], [1], [1]);
        exact(m.get(back, 3), Float32Array.from([16777217, -5, 2147483647]), 'int32 -> float32 (rounded)');
      });
    });

    it('oneHot: rows, and an out-of-range class reported at the next synchronisation', () => {
      withMem(n, (m) => {
        const idx = [2, 0, 4, 4, 1];
        const out = m.out(25);
        n.oneHot(out, F32, m.i32(idx), 5, 5);
        exact(m.get(out, 25), Array.from({ length: 25 }, (_, t) => +(idx[Math.floor(t / 5)] === t % 5)), 'one hot');
        const bad = m.out(6);
        n.oneHot(bad, F32, m.i32([0, 3]), 2, 3);
        throwsMatching(() => n.synchronize(), /^synchronize: an earlier kernel failed: one_hot: index 3 at position 1 is outside \[0, 3\)/);
        n.synchronize(); // reported once
      });
    });

    it('reduce: rows (one and two passes), columns, max/min indices with ties and NaN', () => {
      withMem(n, (m) => {
        const cases: [number, number, number][] = [[7, 33, 1], [3, 1, 1], [2, 20000, 1], [1, 9000, 1], [4, 11, 6], [2, 5, 130]];
        for (const [outer, len, inner] of cases) {
          const x = rand(outer * len * inner, outer + len + inner, -5, 5);
          if (len > 3) {
            x[2 * inner] = 7; // a tie of the maximum in row 0 (first one wins)
            x[3 * inner] = 7;
          }
          const xp = m.f32(x);
          const at = (o: number, k: number, j: number): number => x[(o * len + k) * inner + j]!;
          for (const op of ['sum', 'max', 'min'] as const) {
            const out = m.out(outer * inner);
            const idx = m.alloc(outer * inner);
            n.reduce(out, op === 'sum' ? 0 : idx, xp, outer, len, inner, K.reduce[op], op === 'sum' ? 0.5 : 1);
            const ev: number[] = [];
            const ei: number[] = [];
            for (let o = 0; o < outer; o++)
              for (let j = 0; j < inner; j++) {
                let s = 0;
                let best = at(o, 0, j);
                let bi = 0;
                for (let k = 0; k < len; k++) {
                  const v = at(o, k, j);
                  s += v;
                  if (k > 0 && (op === 'max' ? v > best : v < best)) {
                    best = v;
                    bi = k;
                  }
                }
                ev.push(op === 'sum' ? 0.5 * s : best);
                ei.push(bi);
              }
            close(m.get(out, outer * inner), ev, `reduce ${op} [${outer}, ${len}, ${inner}]`, 1e-6, 1e-5);
            if (op !== 'sum') exact(m.geti(idx, outer * inner), ei, `reduce ${op} index [${outer}, ${len}, ${inner}]`);
          }
        }
        // NaN wins max and min, the first NaN's index
        const x = [1, NaN, 5, NaN, -2];
        const out = m.out(1);
        const idx = m.alloc(1);
        for (const op of ['max', 'min'] as const) {
          n.reduce(out, idx, m.f32(x), 1, 5, 1, K.reduce[op], 1);
          assert.ok(Number.isNaN(m.get(out, 1)[0]), `${op} propagates NaN`);
          exact(m.geti(idx, 1), [1], `${op} NaN index`);
        }
        const s = m.out(3);
        n.reduce(s, 0, m.f32([]), 3, 0, 1, K.reduce.sum, 1);
        exact(m.get(s, 3), [0, 0, 0], 'sum over an empty dim');
      });
    });

    it('softmax / log_softmax and their backward, along rows and along a strided middle dim', () => {
      withMem(n, (m) => {
        for (const [outer, len, inner] of [[5, 13, 1], [2, 300, 1], [3, 7, 5], [1, 1, 4]] as const) {
          const size = outer * len * inner;
          const x = rand(size, len, -4, 4);
          const dy = rand(size, len + 1, -1, 1);
          const xp = m.f32(x);
          const dyp = m.f32(dy);
          for (const log of [false, true]) {
            const y = m.out(size);
            n.softmax(y, xp, outer, len, inner, log);
            const ey = new Float64Array(size);
            const edx = new Float64Array(size);
            for (let o = 0; o < outer; o++)
              for (let j = 0; j < inner; j++) {
                const idx = (k: number): number => (o * len + k) * inner + j;
                let mx = -Infinity;
                for (let k = 0; k < len; k++) mx = Math.max(mx, x[idx(k)]!);
                let s = 0;
                for (let k = 0; k < len; k++) s += Math.exp(x[idx(k)]! - mx);
                for (let k = 0; k < len; k++) ey[idx(k)] = log ? x[idx(k)]! - mx - Math.log(s) : Math.exp(x[idx(k)]! - mx) / s;
                let t = 0;
                for (let k = 0; k < len; k++) t += log ? dy[idx(k)]! : dy[idx(k)]! * ey[idx(k)]!;
                for (let k = 0; k < len; k++) edx[idx(k)] = log ? dy[idx(k)]! - Math.exp(ey[idx(k)]!) * t : ey[idx(k)]! * (dy[idx(k)]! - t);
              }
            const yv = m.get(y, size);
            close(yv, ey, `${log ? 'log_' : ''}softmax [${outer}, ${len}, ${inner}]`, 2e-6, 2e-6);
            const dx = m.out(size);
            n.softmaxBackward(dx, dyp, m.f32(yv), outer, len, inner, log);
            close(m.get(dx, size), edx, `${log ? 'log_' : ''}softmax backward [${outer}, ${len}, ${inner}]`, 1e-5, 1e-5);
          }
        }
      });
    });

    it('gemm: NN, NT, TN, TT at odd sizes and past one 128x128 tile, alpha/beta, bias, batch strides', () => {
      withMem(n, (m) => {
        const shapes: [number, number, number][] = [[1, 1, 1], [37, 53, 29], [5, 3, 0], [130, 141, 19], [64, 64, 16], [17, 200, 9]];
        for (const [M, N, Kd] of shapes) {
          for (const ta of [false, true]) {
            for (const tb of [false, true]) {
              const lda = (ta ? M : Kd) + (M % 2); // odd padding disables float4 loads in some cases
              const ldb = (tb ? Kd : N) + 3;
              const ldc = N + 1;
              const A = rand((ta ? Kd : M) * lda, M * 7 + Kd, -1, 1);
              const B = rand((tb ? N : Kd) * ldb, N * 3 + Kd, -1, 1);
              const C0 = rand(M * ldc, M + N, -1, 1);
              const bias = rand(Math.max(M, N), 11, -1, 1);
              const biasMode = ta === tb ? 'row' : 'col';
              const cp = m.f32(C0);
              n.gemm(cp, m.f32(A), m.f32(B), m.f32(bias), M, N, Kd, ta, tb, lda, ldb, ldc, 0.75, -0.5, K.biasMode[biasMode], 1, 0, 0, 0);
              const e = gemmRef(A, B, C0, M, N, Kd, ta, tb, lda, ldb, ldc, 0.75, -0.5, bias, biasMode);
              const got = m.get(cp, M * ldc);
              for (let r = 0; r < M; r++) e[r * ldc + N] = C0[r * ldc + N]!; // the padding column stays untouched
              close(got, e, `gemm ${ta ? 'T' : 'N'}${tb ? 'T' : 'N'} ${M}x${N}x${Kd}`, 1e-5, 1e-5);
            }
          }
        }
        // beta = 0 never reads C (NaN there must not leak); aligned float4 paths; batch with a broadcast A
        const [M, N, Kd, batch] = [33, 36, 40, 3];
        const A = rand(M * Kd, 1);
        const B = rand(batch * Kd * N, 2);
        const cp = m.out(batch * M * N);
        n.gemm(cp, m.f32(A), m.f32(B), 0, M, N, Kd, false, false, Kd, N, N, 1, 0, K.biasMode.none, batch, 0, Kd * N, M * N);
        const got = m.get(cp, batch * M * N);
        for (let b = 0; b < batch; b++) {
          const e = gemmRef(A, B.subarray(b * Kd * N), null, M, N, Kd, false, false, Kd, N, N, 1, 0, null, 'none');
          close(got.subarray(b * M * N, (b + 1) * M * N), e, `batched gemm item ${b}`, 1e-5, 1e-5);
        }
      });
    });

    it('gemm: large enough for the 128x128 tiles on this device (checked against the reference)', () => {
      withMem(n, (m) => {
        // 2 * multiprocessors 128x128 tiles or more selects the big configuration
        const sms = Math.max(1, n.info().multiProcessorCount);
        const M = 129;
        const N = 128 * Math.max(2, Math.ceil((2 * sms) / 2));
        if (M * N > 3_000_000) return; // a real GPU runs the big tiles in the other shapes anyway
        const Kd = 21;
        const A = rand(M * Kd, 5);
        const B = rand(Kd * N, 6);
        const cp = m.out(M * N);
        n.gemm(cp, m.f32(A), m.f32(B), 0, M, N, Kd, false, false, Kd, N, N, 1, 0, K.biasMode.none, 1, 0, 0, 0);
        close(m.get(cp, M * N), gemmRef(A, B, null, M, N, Kd, false, false, Kd, N, N, 1, 0, null, 'none'), 'big-tile gemm', 1e-5, 1e-5);
      });
    });

    it('im2col matches its definition and col2im is its adjoint (<col2im(c), x> = <c, im2col(x)>)', () => {
      withMem(n, (m) => {
        const g: ConvG = { B: 2, C: 3, H: 7, W: 6, O: 1, kh: 3, kw: 2, sh: 2, sw: 1, dh: 1, dw: 2, pt: 1, pb: 2, pl: 0, pr: 1, groups: 1 };
        const [OH, OW] = convOut(g);
        const L = OH * OW;
        const Kc = g.C * g.kh * g.kw;
        const x = rand(g.B * g.C * g.H * g.W, 8);
        const col = m.out(g.B * Kc * L);
        n.im2col(col, m.f32(x), ...convArgs(g), 0);
        const expected = new Float64Array(g.B * Kc * L);
        for (let b = 0; b < g.B; b++)
          for (let c = 0; c < g.C; c++)
            for (let i = 0; i < g.kh; i++)
              for (let j = 0; j < g.kw; j++)
                for (let oy = 0; oy < OH; oy++)
                  for (let ox = 0; ox < OW; ox++) {
                    const h = oy * g.sh - g.pt + i * g.dh;
                    const w = ox * g.sw - g.pl + j * g.dw;
                    const v = h >= 0 && h < g.H && w >= 0 && w < g.W ? x[((b * g.C + c) * g.H + h) * g.W + w]! : 0;
                    expected[(b * Kc + (c * g.kh + i) * g.kw + j) * L + oy * OW + ox] = v;
                  }
        exact(m.get(col, g.B * Kc * L), expected, 'im2col');
        const cvals = rand(g.B * Kc * L, 9);
        const xo = m.out(x.length);
        n.col2im(xo, m.f32(cvals), ...convArgs(g), 0);
        const back = m.get(xo, x.length);
        let lhs = 0;
        let rhs = 0;
        for (let i = 0; i < x.length; i++) lhs += back[i]! * x[i]!;
        for (let i = 0; i < expected.length; i++) rhs += cvals[i]! * expected[i]!;
        close([lhs], [rhs], 'adjoint identity', 1e-5, 1e-5);
      });
    });

    it('conv2d forward/backward (groups, dilation, per-side padding, stride; and the 1x1 path) vs direct sums', () => {
      withMem(n, (m) => {
        const geoms: ConvG[] = [
          { B: 2, C: 4, H: 7, W: 9, O: 6, kh: 3, kw: 3, sh: 2, sw: 1, dh: 1, dw: 2, pt: 1, pb: 0, pl: 2, pr: 1, groups: 2 },
          { B: 3, C: 5, H: 4, W: 3, O: 7, kh: 1, kw: 1, sh: 1, sw: 1, dh: 1, dw: 1, pt: 0, pb: 0, pl: 0, pr: 0, groups: 1 },
          { B: 1, C: 3, H: 5, W: 5, O: 2, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pt: 1, pb: 1, pl: 1, pr: 1, groups: 1 },
        ];
        for (const g of geoms) {
          const [OH, OW] = convOut(g);
          const nx = g.B * g.C * g.H * g.W;
          const nw = (g.O * g.C / g.groups) * g.kh * g.kw;
          const ny = g.B * g.O * OH * OW;
          const x = rand(nx, g.C * 10 + 1);
          const w = rand(nw, g.C * 10 + 2);
          const bias = rand(g.O, g.C * 10 + 3);
          const gy = rand(ny, g.C * 10 + 4);
          const ey = new Float64Array(ny);
          const edx = new Float64Array(nx);
          const edw = new Float64Array(nw);
          convTaps(g, (yi, wi, xi) => {
            if (xi < 0) return;
            ey[yi] += w[wi]! * x[xi]!;
            edx[xi] += w[wi]! * gy[yi]!;
            edw[wi] += x[xi]! * gy[yi]!;
          });
          const L = OH * OW;
          for (let i = 0; i < ny; i++) ey[i] += bias[Math.floor(i / L) % g.O]!;
          const edb = new Float64Array(g.O);
          for (let i = 0; i < ny; i++) edb[Math.floor(i / L) % g.O] += gy[i]!;
          const xp = m.f32(x);
          const wp = m.f32(w);
          const gyp = m.f32(gy);
          const y = m.out(ny);
          n.conv2d(y, xp, wp, m.f32(bias), ...convArgs(g));
          const tag = `${g.kh}x${g.kw} groups ${g.groups}`;
          close(m.get(y, ny), ey, `conv2d ${tag}`, 1e-5, 1e-5);
          const dx = m.out(nx);
          n.conv2dBackwardInput(dx, gyp, wp, ...convArgs(g));
          close(m.get(dx, nx), edx, `conv2d backward input ${tag}`, 1e-5, 1e-5);
          const dw = m.out(nw);
          n.conv2dBackwardWeight(dw, xp, gyp, ...convArgs(g));
          close(m.get(dw, nw), edw, `conv2d backward weight ${tag}`, 1e-5, 1e-5);
          const db = m.out(g.O);
          n.conv2dBackwardBias(db, gyp, g.B, g.O, L);
          close(m.get(db, g.O), edb, `conv2d backward bias ${tag}`, 1e-6, 1e-6);
        }
      });
    });

    it('local2d (Darknet [local]: one filter bank per output location) forward/backward vs direct sums', () => {
      withMem(n, (m) => {
        const g: ConvG = { B: 3, C: 2, H: 5, W: 4, O: 3, kh: 3, kw: 3, sh: 2, sw: 1, dh: 1, dw: 1, pt: 1, pb: 1, pl: 1, pr: 1, groups: 1 };
        const [OH, OW] = convOut(g);
        const L = OH * OW;
        const Kr = g.C * g.kh * g.kw;
        const nx = g.B * g.C * g.H * g.W;
        const ny = g.B * g.O * L;
        const nw = L * g.O * Kr;
        const x = rand(nx, 61);
        const w = rand(nw, 62);
        const bias = rand(g.O * L, 63);
        const gy = rand(ny, 64);
        const ey = new Float64Array(ny);
        const edx = new Float64Array(nx);
        const edw = new Float64Array(nw);
        for (let b = 0; b < g.B; b++)
          for (let o = 0; o < g.O; o++)
            for (let l = 0; l < L; l++) {
              const yi = (b * g.O + o) * L + l;
              ey[yi] = bias[o * L + l]!;
              const oy = Math.floor(l / OW);
              const ox = l % OW;
              for (let c = 0; c < g.C; c++)
                for (let i = 0; i < g.kh; i++)
                  for (let j = 0; j < g.kw; j++) {
                    const h = oy * g.sh - g.pt + i;
                    const ww = ox * g.sw - g.pl + j;
                    if (h < 0 || h >= g.H || ww < 0 || ww >= g.W) continue;
                    const xi = ((b * g.C + c) * g.H + h) * g.W + ww;
                    const wi = (l * g.O + o) * Kr + (c * g.kh + i) * g.kw + j;
                    ey[yi] += w[wi]! * x[xi]!;
                    edx[xi] += w[wi]! * gy[yi]!;
                    edw[wi] += x[xi]! * gy[yi]!;
                  }
            }
        const xp = m.f32(x);
        const wp = m.f32(w);
        const gyp = m.f32(gy);
        const y = m.out(ny);
        n.local2d(y, xp, wp, m.f32(bias), ...convArgs(g));
        close(m.get(y, ny), ey, 'local2d', 1e-5, 1e-5);
        const dx = m.out(nx);
        n.local2dBackwardInput(dx, gyp, wp, ...convArgs(g));
        close(m.get(dx, nx), edx, 'local2d backward input', 1e-5, 1e-5);
        const dw = m.out(nw);
        n.local2dBackwardWeight(dw, xp, gyp, ...convArgs(g));
        close(m.get(dw, nw), edw, 'local2d backward weight', 1e-5, 1e-5);
      });
    });

    it('batchnorm2d: both variants, training (statistics, running update) and eval, and every backward rule', () => {
      const [B, C, H, W] = [3, 4, 5, 3];
      const HW = H * W;
      const cnt = B * HW;
      const x = rand(B * C * HW, 31, -2, 3);
      for (let i = 0; i < x.length; i++) x[i] = x[i]! + (Math.floor(i / HW) % C) * 10; // channel means 0..30
      const gamma = rand(C, 32, 0.5, 1.5);
      const beta = rand(C, 33, -1, 1);
      const rm0 = rand(C, 34, -1, 1);
      const rv0 = rand(C, 35, 0.5, 2);
      const gy = rand(x.length, 36);
      const at = (c: number, f: (i: number) => void): void => {
        for (let b = 0; b < B; b++) for (let k = 0; k < HW; k++) f((b * C + c) * HW + k);
      };
      withMem(n, (m) => {
        for (const variant of ['pytorch', 'darknet'] as const) {
          const darknet = variant === 'darknet';
          const eps = darknet ? Math.fround(1e-6) : 1e-5;
          const mom = darknet ? 0.01 : 0.1;
          const xp = m.f32(x);
          const [y, bm, bv, rm, rv] = [m.out(x.length), m.out(C), m.out(C), m.f32(rm0), m.f32(rv0)];
          n.batchnorm2d(y, bm, bv, xp, m.f32(gamma), m.f32(beta), rm, rv, B, C, HW, true, mom, eps, K.bnVariant[variant]);
          const mean: number[] = [];
          const vr: number[] = [];
          const ey = new Float64Array(x.length);
          for (let c = 0; c < C; c++) {
            let s = 0;
            at(c, (i) => (s += x[i]!));
            const mu = s / cnt;
            let q = 0;
            at(c, (i) => (q += (x[i]! - mu) ** 2));
            const v = darknet ? q / (cnt - 1) : q / cnt;
            mean.push(mu);
            vr.push(v);
            at(c, (i) => (ey[i] = darknet ? ((x[i]! - mu) / (Math.sqrt(v) + eps)) * gamma[c]! + beta[c]! : ((x[i]! - mu) / Math.sqrt(v + eps)) * gamma[c]! + beta[c]!));
          }
          close(m.get(bm, C), mean, `${variant} batch mean`, 1e-6, 1e-6);
          close(m.get(bv, C), vr, `${variant} batch var`, 1e-5, 1e-6);
          close(m.get(y, x.length), ey, `${variant} train y`, 1e-5, 1e-5);
          const erm = mean.map((mu, c) => (1 - mom) * rm0[c]! + mom * mu);
          const erv = vr.map((v, c) => (1 - mom) * rv0[c]! + mom * (darknet ? v : (v * cnt) / (cnt - 1)));
          close(m.get(rm, C), erm, `${variant} running mean`, 1e-6, 1e-6);
          close(m.get(rv, C), erv, `${variant} running var`, 1e-5, 1e-6);

          // eval with given statistics (bit-exact for darknet: SEMANTICS.md 6.2 arithmetic)
          const ye = m.out(x.length);
          const rmEval = m.f32(rm0);
          const rvEval = m.f32(rv0);
          n.batchnorm2d(ye, 0, 0, xp, m.f32(gamma), m.f32(beta), rmEval, rvEval, B, C, HW, false, mom, eps, K.bnVariant[variant]);
          const eye = new Float64Array(x.length);
          for (let c = 0; c < C; c++) {
            const mu = rm0[c]!;
            const v = rv0[c]!;
            at(c, (i) => {
              if (darknet) {
                const f = Math.fround;
                eye[i] = f(f(f(f(x[i]! - mu) / (Math.sqrt(v) + eps)) * gamma[c]!) + beta[c]!);
              } else eye[i] = ((x[i]! - mu) * (1 / Math.sqrt(v + eps)) * gamma[c]!) + beta[c]!;
            });
          }
          if (darknet) exact(m.get(ye, x.length), eye, 'darknet eval y');
          else close(m.get(ye, x.length), eye, 'pytorch eval y', 1e-6, 1e-6);
          exact(m.get(rmEval, C), rm0, 'eval leaves the running mean alone');

          // backward with the stored batch statistics
          const bmv = m.get(bm, C);
          const bvv = m.get(bv, C);
          const rules: [string, boolean, 'exact' | 'darknet'][] = [['eval', false, 'exact'], ['exact', true, 'exact']];
          if (darknet) rules.push(['darknet', true, 'darknet']);
          for (const [label, batchStats, rule] of rules) {
            const [dx, dwt, db] = [m.out(x.length), m.out(C), m.out(C)];
            n.batchnorm2dBackward(dx, dwt, db, m.f32(gy), xp, m.f32(gamma), m.f32(bmv), m.f32(bvv), B, C, HW, eps, K.bnVariant[variant], batchStats, K.bnRule[rule]);
            const edx = new Float64Array(x.length);
            const edw: number[] = [];
            const edb: number[] = [];
            for (let c = 0; c < C; c++) {
              const mu = bmv[c]!;
              const v = bvv[c]!;
              const s = darknet ? Math.sqrt(v) + eps : Math.sqrt(v + eps);
              const g = gamma[c]!;
              let sg = 0;
              let sgd = 0;
              at(c, (i) => {
                sg += gy[i]!;
                sgd += gy[i]! * (x[i]! - mu);
              });
              edb.push(sg);
              edw.push(sgd / s);
              at(c, (i) => {
                const d = x[i]! - mu;
                if (!batchStats) edx[i] = (g / s) * gy[i]!;
                else if (rule === 'darknet') {
                  const r = Math.sqrt(v + Math.fround(1e-5));
                  const dmean = (-g * sg) / r;
                  const dvar = -0.5 * g * sgd * Math.pow(v + Math.fround(1e-5), -1.5);
                  edx[i] = (g / r) * gy[i]! + (dvar * 2 * d) / cnt + dmean / cnt;
                } else {
                  // exact derivative: d/dx of the forward with mean and var functions of x
                  const xhat = d / s;
                  const k = darknet ? 1 / ((cnt - 1) * Math.sqrt(v)) : 1 / (cnt * s);
                  edx[i] = (g / s) * (gy[i]! - sg / cnt) - (g * xhat * (sgd / s) * k);
                }
              });
            }
            close(m.get(db, C), edb, `${variant} ${label} dbias`, 1e-6, 1e-5);
            close(m.get(dwt, C), edw, `${variant} ${label} dweight`, 1e-5, 1e-5);
            close(m.get(dx, x.length), edx, `${variant} ${label} dx`, 1e-4, 1e-5);
          }
        }
      });
    });

    it('maxpool2d: PyTorch and Darknet padding, dilation, indices, empty windows; backward scatters to argmax', () => {
      withMem(n, (m) => {
        type G = { B: number; C: number; H: number; W: number; OH: number; OW: number; kh: number; kw: number; sh: number; sw: number; dh: number; dw: number; pt: number; pl: number; pb: number; pr: number };
        const geoms: G[] = [
          { B: 2, C: 3, H: 7, W: 5, OH: 4, OW: 3, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pt: 1, pl: 1, pb: 1, pr: 1 }, // pytorch k3 s2 p1
          { B: 1, C: 2, H: 5, W: 5, OH: 5, OW: 5, kh: 2, kw: 2, sh: 1, sw: 1, dh: 1, dw: 1, pt: 0, pl: 0, pb: 1, pr: 1 }, // darknet size 2 stride 1
          { B: 1, C: 2, H: 5, W: 7, OH: 3, OW: 4, kh: 2, kw: 2, sh: 2, sw: 2, dh: 1, dw: 1, pt: 0, pl: 0, pb: 1, pr: 1 }, // darknet size 2 stride 2 odd
          { B: 1, C: 1, H: 6, W: 6, OH: 3, OW: 3, kh: 2, kw: 2, sh: 3, sw: 3, dh: 3, dw: 3, pt: 4, pl: 4, pb: 0, pr: 0 }, // dilation; window (0, 0) is empty
        ];
        for (const g of geoms) {
          const nx = g.B * g.C * g.H * g.W;
          const ny = g.B * g.C * g.OH * g.OW;
          const x = rand(nx, nx);
          x[1] = x[0]!; // a tie
          const y = m.out(ny);
          const idx = m.alloc(ny);
          const args = [g.B, g.C, g.H, g.W, g.OH, g.OW, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl, g.pb, g.pr];
          n.maxpool2d(y, idx, m.f32(x), ...args, -7);
          const ey: number[] = [];
          const ei: number[] = [];
          for (let p = 0; p < g.B * g.C; p++)
            for (let i = 0; i < g.OH; i++)
              for (let j = 0; j < g.OW; j++) {
                let best = -7;
                let at = -1;
                for (let u = 0; u < g.kh; u++)
                  for (let v = 0; v < g.kw; v++) {
                    const h = i * g.sh - g.pt + u * g.dh;
                    const w = j * g.sw - g.pl + v * g.dw;
                    if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;
                    const val = x[p * g.H * g.W + h * g.W + w]!;
                    if (at < 0 || val > best) {
                      best = val;
                      at = h * g.W + w;
                    }
                  }
                ey.push(best);
                ei.push(at);
              }
          exact(m.get(y, ny), Float32Array.from(ey), `maxpool k${g.kh} s${g.sh} values`);
          if (g.dh > 1) assert.equal(ei[0], -1, 'the all-padding window has index -1');
          exact(m.geti(idx, ny), ei, `maxpool k${g.kh} s${g.sh} indices`);
          const gy = rand(ny, 77);
          const dx = m.out(nx);
          n.maxpool2dBackward(dx, m.f32(gy), idx, g.B * g.C, g.H * g.W, g.OH * g.OW);
          const edx = new Float64Array(nx);
          ei.forEach((a, k) => {
            if (a >= 0) edx[Math.floor(k / (g.OH * g.OW)) * g.H * g.W + a] += gy[k]!;
          });
          close(m.get(dx, nx), edx, `maxpool k${g.kh} s${g.sh} backward`, 1e-6, 1e-6);
        }
      });
    });

    it('avgpool2d: count_include_pad on and off, ceil-mode overhang, global pooling; backward is the adjoint', () => {
      withMem(n, (m) => {
        type G = { B: number; C: number; H: number; W: number; OH: number; OW: number; kh: number; kw: number; sh: number; sw: number; pt: number; pl: number; pb: number; pr: number };
        const geoms: G[] = [
          { B: 2, C: 2, H: 7, W: 6, OH: 4, OW: 4, kh: 3, kw: 3, sh: 2, sw: 2, pt: 1, pl: 1, pb: 1, pr: 1 }, // ceil-mode: last window overhangs
          { B: 1, C: 3, H: 5, W: 5, OH: 3, OW: 3, kh: 3, kw: 2, sh: 2, sw: 2, pt: 1, pl: 0, pb: 1, pr: 0 },
          { B: 2, C: 5, H: 4, W: 3, OH: 1, OW: 1, kh: 4, kw: 3, sh: 1, sw: 1, pt: 0, pl: 0, pb: 0, pr: 0 }, // global
        ];
        for (const g of geoms) {
          for (const cip of [true, false]) {
            const nx = g.B * g.C * g.H * g.W;
            const ny = g.B * g.C * g.OH * g.OW;
            const x = rand(nx, nx + 1);
            const gy = rand(ny, ny + 2);
            const args = [g.B, g.C, g.H, g.W, g.OH, g.OW, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, g.pb, g.pr];
            const y = m.out(ny);
            n.avgpool2d(y, m.f32(x), ...args, cip);
            const ey = new Float64Array(ny);
            const edx = new Float64Array(nx);
            for (let p = 0; p < g.B * g.C; p++)
              for (let i = 0; i < g.OH; i++)
                for (let j = 0; j < g.OW; j++) {
                  let h0 = i * g.sh - g.pt;
                  let w0 = j * g.sw - g.pl;
                  let h1 = Math.min(h0 + g.kh, g.H + g.pb);
                  let w1 = Math.min(w0 + g.kw, g.W + g.pr);
                  const padded = (h1 - h0) * (w1 - w0);
                  [h0, w0, h1, w1] = [Math.max(h0, 0), Math.max(w0, 0), Math.min(h1, g.H), Math.min(w1, g.W)];
                  const div = cip ? padded : (h1 - h0) * (w1 - w0);
                  const k = (p * g.OH + i) * g.OW + j;
                  let s = 0;
                  for (let h = h0; h < h1; h++)
                    for (let w = w0; w < w1; w++) {
                      s += x[p * g.H * g.W + h * g.W + w]!;
                      edx[p * g.H * g.W + h * g.W + w] += gy[k]! / div;
                    }
                  ey[k] = s / div;
                }
            const tag = `avgpool k${g.kh}x${g.kw} countIncludePad=${cip}`;
            exact(m.get(y, ny), Float32Array.from(ey), tag);
            const dx = m.out(nx);
            n.avgpool2dBackward(dx, m.f32(gy), ...args, cip);
            exact(m.get(dx, nx), Float32Array.from(edx), `${tag} backward`);
          }
        }
      });
    });

    it('reorg: Darknet, pixel_unshuffle and ardi orders (stride 2 and 3); backward inverts each', () => {
      // Independent references: numpy-style index formulas from SEMANTICS.md 6.5 and torch-refs/README.md
      const darknetSrc = (o: number, C: number, H: number, W: number, s: number): number => {
        const ii = o % W;
        const jj = Math.floor(o / W) % H;
        const k = Math.floor(o / (W * H));
        const cs = C / (s * s);
        const c2 = k % cs;
        const off = Math.floor(k / cs);
        return (c2 * s * H + s * jj + Math.floor(off / s)) * s * W + s * ii + (off % s);
      };
      const spaceSrc = (ardi: boolean) => (o: number, C: number, H: number, W: number, s: number): number => {
        const oh = H / s;
        const ow = W / s;
        const j = o % ow;
        const i = Math.floor(o / ow) % oh;
        const oc = Math.floor(o / (ow * oh));
        const c = ardi ? oc % C : Math.floor(oc / (s * s));
        const blk = ardi ? Math.floor(oc / C) : oc % (s * s);
        return (c * H + s * i + Math.floor(blk / s)) * W + s * j + (blk % s);
      };
      withMem(n, (m) => {
        const modes = [['darknet', darknetSrc], ['pixelUnshuffle', spaceSrc(false)], ['ardi', spaceSrc(true)]] as const;
        for (const [mode, src] of modes) {
          for (const [B, C, H, W, s] of [[2, 8, 4, 6, 2], [1, 9, 6, 3, 3]] as const) {
            const item = C * H * W;
            const x = rand(B * item, item + s);
            const y = m.out(B * item);
            n.reorg(y, m.f32(x), B, C, H, W, s, K.reorgMode[mode]);
            const ey = Array.from({ length: B * item }, (_, t) => x[Math.floor(t / item) * item + src(t % item, C, H, W, s)]!);
            exact(m.get(y, B * item), ey, `reorg ${mode} s${s}`);
            const dx = m.out(B * item);
            n.reorgBackward(dx, y, B, C, H, W, s, K.reorgMode[mode]);
            exact(m.get(dx, B * item), x, `reorg ${mode} s${s} backward restores the input`);
          }
        }
        // SEMANTICS.md 6.5's own example: numpy X.reshape(C/4, H, 2, W, 2).transpose(2, 4, 0, 1, 3)
        const [C, H, W] = [8, 4, 2];
        const x = Float32Array.from({ length: C * H * W }, (_, i) => i);
        const y = m.out(x.length);
        n.reorg(y, m.f32(x), 1, C, H, W, 2, K.reorgMode.darknet);
        const e: number[] = [];
        for (let a = 0; a < 2; a++)
          for (let bb = 0; bb < 2; bb++)
            for (let c2 = 0; c2 < C / 4; c2++)
              for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) e.push((((c2 * H + h) * 2 + a) * W + w) * 2 + bb);
        exact(m.get(y, x.length), e, 'numpy transpose form');
      });
    });

    it('dropout draws the Philox mask of random.ts (u < p dropped) and scales survivors', () => {
      withMem(n, (m) => {
        const count = 1003;
        const x = rand(count, 41);
        const p = 0.3;
        const seed = 0xdeadbeef;
        const y = m.out(count);
        const mask = m.out(count);
        n.dropout(y, mask, m.f32(x), count, p, seed);
        const scale = Math.fround(1 / (1 - p));
        const block = new Uint32Array(4);
        const em: number[] = [];
        const ey: number[] = [];
        for (let k = 0; k < count; k++) {
          if ((k & 3) === 0) philox4x32(k / 4, 0, 0, 0, seed, 0, block);
          const keep = u32ToUnit(block[k & 3]!) >= p;
          em.push(keep ? scale : 0);
          ey.push(keep ? Math.fround(x[k]! * scale) : 0);
        }
        exact(m.get(mask, count), em, 'dropout mask');
        exact(m.get(y, count), ey, 'dropout output');
      });
    });

    it('sgd (PyTorch and Darknet) and adam reproduce the CPU formulas bit for bit', () => {
      withMem(n, (m) => {
        const count = 77;
        const w0 = rand(count, 51);
        const g = rand(count, 52);
        const v0 = rand(count, 53);
        const f = Math.fround;
        for (const variant of ['pytorch', 'darknet'] as const) {
          for (const firstStep of [false, true]) {
            const wp = m.f32(w0);
            const vp = m.f32(v0);
            n.sgd(wp, m.f32(g), vp, count, 0.01, 0.9, 5e-4, 8, K.sgdVariant[variant], firstStep);
            const ew: number[] = [];
            const ev: number[] = [];
            for (let i = 0; i < count; i++) {
              if (variant === 'darknet') {
                const u = v0[i]! - g[i]! - 5e-4 * 8 * w0[i]!;
                ew.push(f(w0[i]! + (0.01 / 8) * u));
                ev.push(f(0.9 * u));
              } else {
                const gi = g[i]! + 5e-4 * w0[i]!;
                const vi = firstStep ? gi : 0.9 * v0[i]! + gi;
                ev.push(f(vi));
                ew.push(f(w0[i]! - 0.01 * vi));
              }
            }
            exact(m.get(wp, count), ew, `sgd ${variant} weights`);
            exact(m.get(vp, count), ev, `sgd ${variant} velocity`);
          }
        }
        const wp = m.f32(w0);
        const mp = m.f32(v0);
        const vp = m.f32(Float32Array.from(v0, Math.abs));
        const step = 3;
        n.adam(wp, m.f32(g), mp, vp, count, 1e-3, 0.9, 0.999, 1e-8, 1e-4, step);
        const c1 = 1 - Math.pow(0.9, step);
        const c2 = 1 - Math.pow(0.999, step);
        const ew: number[] = [];
        for (let i = 0; i < count; i++) {
          const gi = g[i]! + 1e-4 * w0[i]!;
          const mi = 0.9 * v0[i]! + 0.1 * gi;
          const vi = 0.999 * Math.abs(v0[i]!) + (1 - 0.999) * gi * gi;
          ew.push(f(w0[i]! - (1e-3 * (mi / c1)) / (Math.sqrt(vi / c2) + 1e-8)));
        }
        close(m.get(wp, count), ew, 'adam weights (host pow may differ from V8 pow in the last double bit)', 1.2e-7, 0);
      });
    });

    it('frees everything it allocated (no live blocks left by these tests)', () => {
      n.synchronize();
      assert.equal(n.memoryStats().liveBlocks, 0);
    });
  });
}

describe('native cuda addon on a machine without a usable GPU', () => {
  const load = loadAddon('cuda');
  const info = load.addon?.info();
  const skip = !load.addon ? `cuda addon not built: ${load.reason}` : info!.available ? 'a GPU is available here' : false;
  it('loads, reports unavailable with the CUDA error, and every entry throws instead of crashing', { skip }, () => {
    const n = load.addon!;
    assert.equal(info!.available, false);
    assert.equal(info!.backend, 'cuda');
    assert.ok(info!.reason.length > 0);
    if (info!.errorCode !== 0) assert.match(info!.reason, new RegExp(`\\(${info!.errorCode}\\)`));
    throwsMatching(() => n.malloc(16), /^malloc: cuda device unavailable: /);
    throwsMatching(() => n.synchronize(), /^synchronize: cuda device unavailable/);
    throwsMatching(() => n.fill(0, n.constants.dtype.float32, 1, 0), /^fill: cuda device unavailable/);
    n.emptyCache(); // a no-op without a device
    assert.equal(n.memoryStats().liveBlocks, 0);
  });
});
