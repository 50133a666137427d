// Creation: empty/zeros/ones/full/arange, from nested arrays or typed arrays, seeded random.
// Device tensors are filled by the device's 'fill' kernel; data from the host is uploaded.

import { cpu, getDevice, type DeviceLike } from '../device.js';
import { allocArray, dtypeOfArray, type DType, type TypedArray } from '../dtype.js';
import { Rng } from '../random.js';
import { checkShape, shapeStr, sizeOf, type Shape } from '../shape.js';
import { registerKernel, getKernel } from '../registry.js';
import { arenaAllocRaw, arenaFree } from '../backends/cpu/arena.js';
import { arenaIndex, chunkFor, parallelFor } from '../backends/cpu/parallel.js';
import { A0, TASK } from '../backends/cpu/tasks.js';
import { Tensor } from '../tensor.js';

export interface CreateOptions {
  dtype?: DType;
  device?: DeviceLike;
  requiresGrad?: boolean;
}

/** Fill a contiguous tensor with one value. Kernel signature shared by every device. */
export type FillKernel = (out: Tensor, value: number) => void;

registerKernel<FillKernel>('fill', 'cpu', (out, value) => {
  out.storage.cpuArray.fill(value, out.offset, out.offset + out.size);
});

function finish(t: Tensor, opts?: CreateOptions): Tensor {
  if (opts?.requiresGrad) t.requireGrad(true);
  return t;
}

export function empty(shape: Shape, opts?: CreateOptions): Tensor {
  return finish(Tensor.empty(checkShape(shape), opts?.dtype ?? 'float32', opts?.device ?? cpu), opts);
}

export function full(shape: Shape, value: number, opts?: CreateOptions): Tensor {
  const t = Tensor.empty(checkShape(shape), opts?.dtype ?? 'float32', opts?.device ?? cpu);
  if (t.size > 0 && !(value === 0 && t.device.name === 'cpu')) getKernel<FillKernel>('fill', t.device.name)(t, value);
  return finish(t, opts);
}

export function zeros(shape: Shape, opts?: CreateOptions): Tensor {
  return full(shape, 0, opts);
}

export function ones(shape: Shape, opts?: CreateOptions): Tensor {
  return full(shape, 1, opts);
}

export function fullLike(x: Tensor, value: number, opts?: CreateOptions): Tensor {
  return full(x.shape, value, { dtype: x.dtype, device: x.device, ...opts });
}

export function zerosLike(x: Tensor, opts?: CreateOptions): Tensor {
  return fullLike(x, 0, opts);
}

export function onesLike(x: Tensor, opts?: CreateOptions): Tensor {
  return fullLike(x, 1, opts);
}

/** A 0-d tensor holding `value` with the dtype and device of `like`. */
export function scalarLike(value: number, like: Tensor): Tensor {
  return full([], value, { dtype: like.dtype, device: like.device });
}

/** A tensor from host data: nested arrays, a flat array with `shape`, or a typed array (copied). */
export function tensor(data: unknown, opts?: CreateOptions & { shape?: Shape }): Tensor {
  let flat: ArrayLike<number>;
  let shape: number[];
  let dtype: DType = opts?.dtype ?? 'float32';
  if (ArrayBuffer.isView(data) && !(data instanceof DataView)) {
    const ta = data as unknown as TypedArray;
    if (!opts?.dtype && (ta instanceof Float32Array || ta instanceof Float64Array || ta instanceof Int32Array)) dtype = dtypeOfArray(ta);
    flat = ta;
    shape = opts?.shape ? checkShape(opts.shape) : [ta.length];
  } else if (typeof data === 'number') {
    flat = [data];
    shape = opts?.shape ? checkShape(opts.shape) : [];
  } else if (Array.isArray(data)) {
    const inferred: number[] = [];
    let probe: unknown = data;
    while (Array.isArray(probe)) {
      inferred.push(probe.length);
      probe = probe[0];
    }
    const values: number[] = [];
    const walk = (v: unknown, dim: number, path: string): void => {
      if (dim === inferred.length) {
        if (typeof v !== 'number') throw new Error(`tensor(): element ${path} is ${typeof v}, expected a number`);
        values.push(v);
        return;
      }
      if (!Array.isArray(v) || v.length !== inferred[dim]) {
        throw new Error(`tensor(): ragged nested array at ${path || 'top'} (expected length ${inferred[dim]} at dim ${dim})`);
      }
      v.forEach((x, i) => walk(x, dim + 1, `${path}[${i}]`));
    };
    walk(data, 0, '');
    flat = values;
    shape = opts?.shape ? checkShape(opts.shape) : inferred;
  } else {
    throw new Error(`tensor(): unsupported data of type ${typeof data}`);
  }
  if (sizeOf(shape) !== flat.length) {
    throw new Error(`tensor(): ${flat.length} values do not fill shape ${shapeStr(shape)} (${sizeOf(shape)} elements)`);
  }
  const host = allocArray(dtype, flat.length);
  for (let i = 0; i < flat.length; i++) host[i] = flat[i]!;
  return fromHost(host, shape, opts);
}

/** Wrap a host typed array's values (copied) into a tensor on `opts.device`. */
export function fromHost(host: TypedArray, shape: Shape, opts?: CreateOptions): Tensor {
  if (!(host instanceof Float32Array || host instanceof Float64Array || host instanceof Int32Array)) {
    throw new Error(`fromHost(): data must be a Float32Array, Float64Array or Int32Array, got ${(host as object)?.constructor?.name ?? typeof host}`);
  }
  const dims = checkShape(shape, 'fromHost(): shape');
  if (host.length !== sizeOf(dims)) {
    throw new Error(`fromHost(): ${host.length} values for shape ${shapeStr(dims)} (${sizeOf(dims)} elements)`);
  }
  const dev = getDevice(opts?.device ?? cpu);
  const t = Tensor.empty(dims, dtypeOfArray(host), dev);
  if (host.length > 0) dev.write(t.storage.handle, t.dtype, 0, host);
  return finish(t, opts);
}

/** 0, 1, ... like Python's range: arange(end) or arange(start, end, step). */
export function arange(start: number, end?: number, step = 1, opts?: CreateOptions): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  if (!(Number.isFinite(start) && Number.isFinite(end) && Number.isFinite(step))) {
    throw new Error(`arange(${start}, ${end}, ${step}): start, end and step must be finite numbers`);
  }
  if (step === 0) throw new Error('arange(): step must be non-zero');
  const n = Math.max(0, Math.ceil((end - start) / step));
  checkShape([n], `arange(${start}, ${end}, ${step})`);
  const host = allocArray(opts?.dtype ?? 'float32', n);
  for (let i = 0; i < n; i++) host[i] = start + i * step;
  return fromHost(host, [n], opts);
}

export interface RandomOptions extends CreateOptions {
  /** Seed of a fresh stream (default 0) — ignored when `rng` is given. */
  seed?: number;
  /** Draw from this stream (advancing it). */
  rng?: Rng;
}

/** Uniform in [low, high): values come from the Philox stream, identical on every machine and device. */
export function rand(shape: Shape, opts?: RandomOptions & { low?: number; high?: number }): Tensor {
  const rng = opts?.rng ?? new Rng(opts?.seed ?? 0);
  const lo = opts?.low ?? 0;
  const hi = opts?.high ?? 1;
  const host = allocArray(opts?.dtype ?? 'float32', sizeOf(checkShape(shape)));
  for (let i = 0; i < host.length; i++) host[i] = lo + (hi - lo) * rng.uniform();
  return fromHost(host, shape, opts);
}

/** Samples per slice of the batched normal sampler (its Philox words take 8 bytes per sample). */
const NORMAL_SLICE = 1 << 19;

/**
 * Fills host[0, n) (an arena array) with rng.normal(mean, std) draws, as the serial loop would: Philox
 * blocks for the stream's next 2n words, then the Box-Muller transform, both on every core
 * (backends/cpu/tasks.ts), slice by slice. Returns false (nothing drawn) without arena room.
 */
function normalBatched(host: Float32Array | Float64Array, rng: Rng, mean: number, std: number): boolean {
  const n = host.length;
  const o = arenaIndex(host, 0, host instanceof Float64Array ? 8 : 4);
  if (o < 0) return false;
  const slice = Math.min(n, NORMAL_SLICE);
  const words = arenaAllocRaw(4 * (2 * slice + 8), false);
  if (words < 0) return false;
  try {
    const [k0, k1] = rng.key;
    for (let s0 = 0; s0 < n; s0 += slice) {
      const len = Math.min(slice, n - s0);
      const pos = rng.position;
      const b0 = Math.floor(pos / 4);
      const blocks = Math.floor((pos + 2 * len - 1) / 4) - b0 + 1;
      const wi = words / 4;
      parallelFor(TASK.philox, blocks, chunkFor(blocks), 16 * blocks, (ia, fa) => {
        ia[A0] = wi;
        ia[A0 + 1] = k0;
        ia[A0 + 2] = k1;
        fa[0] = b0;
      });
      parallelFor(TASK.normal, len, chunkFor(len), 8 * len, (ia, fa) => {
        ia[A0] = o + s0;
        ia[A0 + 1] = wi + (pos - 4 * b0);
        ia[A0 + 2] = host instanceof Float64Array ? 1 : 0;
        fa[0] = mean;
        fa[1] = std;
      });
      rng.skip(2 * len);
    }
  } finally {
    arenaFree(words);
  }
  return true;
}

/** Normal(mean, std) from the Philox stream. */
export function randn(shape: Shape, opts?: RandomOptions & { mean?: number; std?: number }): Tensor {
  const rng = opts?.rng ?? new Rng(opts?.seed ?? 0);
  const dtype = opts?.dtype ?? 'float32';
  const size = sizeOf(checkShape(shape));
  const dev = getDevice(opts?.device ?? cpu);
  if (dev === cpu && dtype !== 'int32' && size >= 4096) {
    const t = Tensor.empty(shape, dtype, cpu);
    if (normalBatched(t.storage.cpuArray as Float32Array | Float64Array, rng, opts?.mean ?? 0, opts?.std ?? 1)) return finish(t, opts);
    t.dispose();
  }
  const host = allocArray(dtype, size);
  for (let i = 0; i < host.length; i++) host[i] = rng.normal(opts?.mean ?? 0, opts?.std ?? 1);
  return fromHost(host, shape, opts);
}
