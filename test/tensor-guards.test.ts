// Silent wrong results at the tensor level, now errors, on every available device:
//   use after dispose: an optimiser step over a disposed parameter, and any kernel launch with a
//   disposed argument, throw naming the op and the tensor (on cuda-emu the freed block was reused by
//   the next allocation, so the step wrote into another tensor);
//   integer limits: a tensor of more than 2^31 − 1 elements (what int32 indices address) is refused where
//   it is created, so argmax/max(dim) indices cannot wrap; fromHost checks the data length and the
//   dims; arange(0, NaN) and int32 casts of NaN or out-of-range values are errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import '../src/backends/cuda/index.js';
import { availableDevices, getKernel, memoryInfo } from '../src/index.js';
import { arange, empty, fromHost, tensor, zeros } from '../src/tensor/ops/creation.js';
import { cast, copyInto } from '../src/tensor/ops/copy.js';
import { expand } from '../src/tensor/ops/views.js';
import { add } from '../src/tensor/ops/binary.js';
import { SGD } from '../src/nn/optim/sgd.js';
import { Adam } from '../src/nn/optim/adam.js';
import { MAX_ELEMENTS } from '../src/tensor/shape.js';

const devices = availableDevices().map((d) => d.name);

for (const device of devices) {
  test(`${device}: opt.step() after p.dispose() throws naming the parameter, and the tensor that reuses its memory keeps its values`, () => {
    for (const make of [(p: ReturnType<typeof tensor>) => new SGD([p], { lr: 0.1, momentum: 0.9 }), (p: ReturnType<typeof tensor>) => new Adam([p], { lr: 0.1 })]) {
      const p = tensor([1, 2, 3, 4], { device, requiresGrad: true });
      const opt = make(p);
      p.grad = tensor([1, 1, 1, 1], { device });
      opt.step();
      const before = memoryInfo(device).tensors;
      p.dispose();
      const other = tensor([7, 7, 7, 7], { device });
      assert.throws(() => opt.step(), /optimizer\.step: parameter 0 of group 0 \(tensor #\d+ \[4\]\) was disposed/);
      assert.deepEqual(other.toArray(), [7, 7, 7, 7], 'the optimiser wrote into the memory of another tensor');
      assert.equal(opt.stepCount, 1, 'the refused step is not counted');
      other.dispose();
      p.grad.dispose();
      for (const s of opt.stateTensors()) s.tensor.dispose();
      assert.ok(memoryInfo(device).tensors <= before);
    }
  });

  test(`${device}: a kernel launched with a disposed tensor throws naming the kernel, the device, the argument and the tensor`, () => {
    const a = tensor([1, 2, 3], { device });
    const b = tensor([4, 5, 6], { device });
    const out = empty([3], { device });
    a.dispose();
    assert.throws(
      () => getKernel<(o: unknown, x: unknown, y: unknown, op: string) => void>('binary', device)(out, a, b, 'add'),
      new RegExp(`kernel 'binary' on '${device}': argument 1 is tensor #${a.id} \\[3\\], which was disposed \\(use after dispose\\)`),
    );
    assert.throws(() => add(a, b), /disposed/);
    b.dispose();
    out.dispose();
  });

  test(`${device}: a tensor of more than 2^31 - 1 elements is refused at creation (views included), before any allocation`, () => {
    const bytes = memoryInfo(device).bytes;
    assert.throws(() => empty([2 ** 16, 2 ** 15], { device }), /2147483648 elements, more than a tensor can hold \(2147483647, the int32 index limit\)/);
    assert.throws(() => zeros([MAX_ELEMENTS + 1], { device }), /more than a tensor can hold/);
    const one = zeros([1], { device });
    // A broadcast view allocates nothing, but argmax over it would index 2^31 elements with int32.
    assert.throws(() => expand(one, [2 ** 31]), /more than a tensor can hold/);
    one.dispose();
    assert.equal(memoryInfo(device).bytes, bytes);
  });

  test(`${device}: fromHost refuses a data length that does not match the shape, and negative or fractional dims`, () => {
    assert.throws(() => fromHost(new Float32Array(5), [2, 3], { device }), /fromHost\(\): 5 values for shape \[2, 3\] \(6 elements\)/);
    assert.throws(() => fromHost(new Float32Array(7), [2, 3], { device }), /7 values for shape \[2, 3\]/);
    assert.throws(() => fromHost(new Float32Array(2), [-1, -2], { device }), /dimensions must be non-negative integers/);
    assert.throws(() => fromHost(new Float32Array(3), [1.5, 2], { device }), /dimensions must be non-negative integers/);
    assert.throws(() => empty([-3], { device }), /dimensions must be non-negative integers/);
  });

  test(`${device}: arange with NaN or infinite bounds is an error, not a tensor of shape [NaN]`, () => {
    assert.throws(() => arange(0, Number.NaN, 1, { device }), /arange\(0, NaN, 1\): start, end and step must be finite numbers/);
    assert.throws(() => arange(0, Number.POSITIVE_INFINITY, 1, { device }), /finite numbers/);
    assert.throws(() => arange(0, 3e9, 1, { device }), /more than a tensor can hold/);
    const r = arange(0, 5, 2, { device });
    assert.deepEqual(r.toArray(), [0, 2, 4]);
    r.dispose();
  });

  test(`${device}: int32 conversion of NaN, infinities or values outside the int32 range is an error, not a wrapped value`, () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, -(2 ** 31) - 1e6, 3e9]) {
      const x = tensor([1, bad, 2], { device, dtype: device === 'cpu' ? 'float64' : 'float32' });
      assert.throws(() => cast(x, 'int32'), /cast: element 1 of \[3\] is .*, which has no int32 value/);
      const dst = zeros([3], { device: 'cpu', dtype: 'int32' });
      if (device === 'cpu') assert.throws(() => copyInto(dst, x), /copyInto: element 1/);
      dst.dispose();
      x.dispose();
    }
    const ok = tensor([-2.7, 2147483520, -2147483648], { device, dtype: device === 'cpu' ? 'float64' : 'float32' });
    const i = cast(ok, 'int32');
    assert.deepEqual(i.toArray(), [-2, 2147483520, -2147483648], 'truncation toward zero, the int32 extremes kept');
    i.dispose();
    ok.dispose();
  });
}
