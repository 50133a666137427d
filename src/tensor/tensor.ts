// The Tensor: a view (shape, strides, element offset) over a Storage on one device, plus the autograd
// fields. Methods are thin sugar over the functions in ops/ (one function per op, usable directly).

import type { Device, DeviceLike } from './device.js';
import { getDevice } from './device.js';
import type { DType, TypedArray } from './dtype.js';
import { countTensor, track, type Disposable } from './memory.js';
import { checkShape, contiguousStrides, shapeStr, sizeOf, type Shape } from './shape.js';
import { Storage } from './storage.js';
import type { GradNode } from '../autograd/node.js';
import * as ops from './ops/index.js';
import { backward as runBackward, type BackwardOptions } from '../autograd/engine.js';

let nextId = 1;

export type Scalar = number;
export type TensorOrScalar = Tensor | number;

export class Tensor implements Disposable {
  readonly id = nextId++;
  readonly storage: Storage;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;

  /** Accumulate gradients into .grad during backward(). */
  requiresGrad = false;
  /** Accumulated gradient (same shape, dtype and device). */
  grad: Tensor | null = null;
  /** The node that produced this tensor (null for leaves). */
  gradFn: GradNode | null = null;
  /** Keep .grad for this non-leaf tensor too (PyTorch's retain_grad). */
  retainsGrad = false;

  private disposed = false;

  constructor(storage: Storage, shape: Shape, strides?: Shape, offset = 0) {
    checkShape(shape, 'tensor shape');
    this.storage = storage;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze(strides ? [...strides] : contiguousStrides(shape));
    this.offset = offset;
    storage.retain();
    countTensor(storage.device.name, +1);
    track(this);
  }

  /** A new contiguous tensor with uninitialised (zeroed on the CPU) contents. */
  static empty(shape: Shape, dtype: DType, device: DeviceLike): Tensor {
    const dev = getDevice(device);
    // Checked before the allocation: a negative, fractional or too large shape never reaches the device.
    return new Tensor(Storage.allocate(dev, dtype, sizeOf(checkShape(shape, 'tensor shape'))), shape);
  }

  get dtype(): DType {
    return this.storage.dtype;
  }
  get device(): Device {
    return this.storage.device;
  }
  get ndim(): number {
    return this.shape.length;
  }
  get size(): number {
    return sizeOf(this.shape);
  }
  get isDisposed(): boolean {
    return this.disposed;
  }
  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  /** Throws if the tensor was disposed (every op checks its inputs). */
  assertAlive(op = 'op'): this {
    if (this.disposed || this.storage.isFreed) {
      throw new Error(`${op}: tensor #${this.id} ${shapeStr(this.shape)} was disposed`);
    }
    return this;
  }

  isContiguous(): boolean {
    let expected = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      const d = this.shape[i]!;
      if (d !== 1 && this.strides[i] !== expected) return false;
      expected *= d;
    }
    return true;
  }

  /** Release this view's reference to its storage. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    countTensor(this.storage.device.name, -1);
    this.storage.release();
    this.gradFn = null;
  }

  /** Copy to a host typed array in row-major order (synchronises with the device). */
  data(): TypedArray {
    this.assertAlive('data');
    const c = this.isContiguous() ? this : ops.contiguous(this);
    try {
      return c.device.read(c.storage.handle, c.dtype, c.offset, c.size);
    } finally {
      if (c !== this) c.dispose();
    }
  }

  /** Row-major values as a plain number array. */
  toArray(): number[] {
    return Array.from(this.data());
  }

  /** Nested arrays following the shape (a number for a 0-d tensor). */
  toNested(): unknown {
    const flat = this.toArray();
    const build = (dim: number, off: number): unknown => {
      if (dim === this.ndim) return flat[off];
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim]! }, (_, i) => build(dim + 1, off + i * stride));
    };
    return build(0, 0);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item(): tensor has ${this.size} elements ${shapeStr(this.shape)}, expected 1`);
    return this.data()[0]!;
  }

  toString(): string {
    const vals = this.size <= 64 ? JSON.stringify(this.toNested()) : `${this.size} elements`;
    return `Tensor(${shapeStr(this.shape)}, ${this.dtype}, ${this.device.name}${this.requiresGrad ? ', requiresGrad' : ''}) ${vals}`;
  }

  // ---- autograd ----

  /** Mark as a leaf that accumulates gradients. Returns this. */
  requireGrad(flag = true): this {
    if (flag && this.dtype === 'int32') throw new Error('requireGrad: int32 tensors cannot require gradients');
    this.requiresGrad = flag;
    return this;
  }

  /**
   * Reverse-mode gradient of this tensor (a one-element tensor, or with an explicit upstream gradient) into
   * the .grad of the leaves. The pass frees the graph unless `retainGraph`; `createGraph` records it, so
   * that the gradients can be differentiated again (see autograd/engine.ts for the rules).
   */
  backward(gradOutput?: Tensor | BackwardOptions, opts?: BackwardOptions): void {
    if (gradOutput instanceof Tensor || gradOutput === undefined) runBackward(this, gradOutput, opts);
    else runBackward(this, undefined, gradOutput);
  }

  /** Dispose and clear .grad. */
  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }

  retainGrad(): this {
    this.retainsGrad = true;
    return this;
  }

  /** Same data, cut from the graph. */
  detach(): Tensor {
    return ops.detach(this);
  }

  // ---- views and movement ----
  to(device: DeviceLike): Tensor {
    return ops.to(this, device);
  }
  cast(dtype: DType): Tensor {
    return ops.cast(this, dtype);
  }
  contiguous(): Tensor {
    return ops.contiguous(this);
  }
  clone(): Tensor {
    return ops.clone(this);
  }
  reshape(...shape: number[]): Tensor {
    return ops.reshape(this, shape);
  }
  view(...shape: number[]): Tensor {
    return ops.view(this, shape);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return ops.flatten(this, startDim, endDim);
  }
  permute(...dims: number[]): Tensor {
    return ops.permute(this, dims);
  }
  transpose(d0: number, d1: number): Tensor {
    return ops.transpose(this, d0, d1);
  }
  get T(): Tensor {
    return ops.transpose(this, -2, -1);
  }
  expand(...shape: number[]): Tensor {
    return ops.expand(this, shape);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return ops.narrow(this, dim, start, length);
  }
  squeeze(dim?: number): Tensor {
    return ops.squeeze(this, dim);
  }
  unsqueeze(dim: number): Tensor {
    return ops.unsqueeze(this, dim);
  }

  // ---- elementwise ----
  add(o: TensorOrScalar): Tensor {
    return ops.add(this, o);
  }
  sub(o: TensorOrScalar): Tensor {
    return ops.sub(this, o);
  }
  mul(o: TensorOrScalar): Tensor {
    return ops.mul(this, o);
  }
  div(o: TensorOrScalar): Tensor {
    return ops.div(this, o);
  }
  pow(o: TensorOrScalar): Tensor {
    return ops.pow(this, o);
  }
  neg(): Tensor {
    return ops.neg(this);
  }
  exp(): Tensor {
    return ops.exp(this);
  }
  log(): Tensor {
    return ops.log(this);
  }
  sqrt(): Tensor {
    return ops.sqrt(this);
  }
  abs(): Tensor {
    return ops.abs(this);
  }
  sigmoid(): Tensor {
    return ops.sigmoid(this);
  }
  tanh(): Tensor {
    return ops.tanh(this);
  }
  relu(): Tensor {
    return ops.relu(this);
  }
  leakyRelu(slope = 0.01): Tensor {
    return ops.leakyRelu(this, slope);
  }
  clamp(min: number | null, max: number | null): Tensor {
    return ops.clamp(this, min, max);
  }

  // ---- reductions ----
  sum(dim?: number | number[] | null, keepdim = false): Tensor {
    return ops.sum(this, dim ?? null, keepdim);
  }
  mean(dim?: number | number[] | null, keepdim = false): Tensor {
    return ops.mean(this, dim ?? null, keepdim);
  }
  max(dim?: number | number[] | null, keepdim = false): Tensor {
    return ops.amax(this, dim ?? null, keepdim);
  }
  min(dim?: number | number[] | null, keepdim = false): Tensor {
    return ops.amin(this, dim ?? null, keepdim);
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return ops.argmax(this, dim, keepdim);
  }

  // ---- linear algebra ----
  matmul(o: Tensor): Tensor {
    return ops.matmul(this, o);
  }
}
