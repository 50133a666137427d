// The 'cuda-emu' and 'cuda' devices through the tensor API: every op that has a device kernel, forward and
// backward (autograd), against the same computation on the CPU backend in float32, plus the device
// memory accounting. 'cuda-emu' runs wherever the emulated addon was built (CI included); 'cuda' needs a
// GPU, and on a machine without one it must be listed as unavailable with the reason.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import '../src/backends/cuda/index.js';
import { registerCudaDevices } from '../src/backends/cuda/index.js';
import { getDevice, listDevices } from '../src/tensor/device.js';
import { kernelsOn } from '../src/tensor/registry.js';
import { memoryInfo, scope } from '../src/tensor/memory.js';
import { Rng } from '../src/tensor/random.js';
import { Tensor } from '../src/tensor/tensor.js';
import * as T from '../src/tensor/ops/index.js';
import { conv2d } from '../src/tensor/ops/conv2d.js';
import { local2d } from '../src/tensor/ops/local2d.js';
import { maxpool2d, maxpool2dDarknet, maxpool2dWithIndices } from '../src/tensor/ops/maxpool2d.js';
import { avgpool2d, globalAvgPool2d } from '../src/tensor/ops/avgpool2d.js';
import { batchnorm2d } from '../src/tensor/ops/batchnorm2d.js';
import { pixelShuffle, reorg } from '../src/tensor/ops/reorg.js';
import { dropout } from '../src/tensor/ops/dropout.js';
import { SGD } from '../src/nn/optim/sgd.js';
import { Adam } from '../src/nn/optim/adam.js';

// ---------------------------------------------------------------------------------------------------
// helpers

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 2e-5, atol = 2e-5): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} values, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (a === e || (Number.isNaN(a) && Number.isNaN(e))) continue;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) assert.fail(`${what}: element ${i} is ${a} on the device, ${e} on the cpu`);
  }
}

interface Input {
  shape: number[];
  lo?: number;
  hi?: number;
  /** int32 values in [0, classes) (no gradient). */
  classes?: number;
  grad?: boolean;
}

function hostData(inp: Input, seed: number): Float32Array | Int32Array {
  const r = new Rng(seed);
  const n = inp.shape.reduce((a, b) => a * b, 1);
  if (inp.classes !== undefined) return Int32Array.from({ length: n }, () => r.int(inp.classes!));
  return Float32Array.from({ length: n }, () => r.range(inp.lo ?? -1, inp.hi ?? 1));
}

interface RunResult {
  outs: number[][];
  grads: (number[] | null)[];
}

/** Run `build` on `device`: forward outputs, then the gradients of sum_k <out_k, w_k> for fixed random w_k. */
function run(device: string, build: (xs: Tensor[]) => Tensor[], inputs: Input[], seed: number): RunResult {
  return scope(() => {
    const xs = inputs.map((inp, i) => {
      const t = T.fromHost(hostData(inp, seed + i), inp.shape, { device });
      if (inp.grad !== false && inp.classes === undefined) t.requireGrad(true);
      return t;
    });
    const outs = build(xs);
    const withGrad = outs.filter((o) => o.gradFn !== null);
    if (withGrad.length > 0) {
      let loss: Tensor | null = null;
      withGrad.forEach((o, k) => {
        const w = T.fromHost(hostData({ shape: [...o.shape] }, seed + 100 + k) as Float32Array, o.shape, { device });
        const term = T.sum(T.mul(o, w));
        loss = loss ? T.add(loss, term) : term;
      });
      loss!.backward();
    }
    return {
      outs: outs.map((o) => Array.from(o.data())),
      grads: xs.map((x) => (x.grad ? Array.from(x.grad.data()) : null)),
    };
  });
}

function same(device: string, name: string, build: (xs: Tensor[]) => Tensor[], inputs: Input[], rtol = 2e-5, atol = 2e-5): void {
  const seed = name.length * 7919;
  const cpu = run('cpu', build, inputs, seed);
  const dev = run(device, build, inputs, seed);
  cpu.outs.forEach((o, k) => close(dev.outs[k]!, o, `${name}: output ${k}`, rtol, atol));
  cpu.grads.forEach((g, k) => {
    if (g === null) assert.equal(dev.grads[k], null, `${name}: gradient ${k} exists on the device only`);
    else close(dev.grads[k]!, g, `${name}: gradient of input ${k}`, rtol, atol);
  });
}

// ---------------------------------------------------------------------------------------------------

registerCudaDevices();

for (const name of ['cuda-emu', 'cuda'] as const) {
  const dev = listDevices().find((d) => d.name === name);
  const skip = !dev ? `device '${name}' is not registered` : dev.available ? false : `device '${name}' unavailable: ${dev.reason}`;
  // The emulated device must exist wherever its addon was built; say so loudly instead of skipping.
  const emuMissing = name === 'cuda-emu' && !!skip && !/not built/.test(String(skip));
  describe(`device ${name} vs cpu (tensor API, forward and backward)`, { skip: emuMissing ? false : skip }, () => {
    it('is available and has a kernel for every op the cpu has', () => {
      assert.ok(dev?.available, `cuda-emu unavailable: ${dev?.reason}`);
      const missing = kernelsOn('cpu').filter((k) => !kernelsOn(name).includes(k));
      assert.deepEqual(missing, [], `ops without a ${name} kernel`);
    });

    it('elementwise unary ops on strided views', () => {
      same(name, 'unary', ([x, p]) => {
        const xt = T.transpose(x!, 0, 1);
        return [
          T.exp(xt), T.log(p!), T.sqrt(p!), T.abs(xt), T.sigmoid(xt), T.tanh(xt), T.relu(xt), T.leakyRelu(xt, 0.1),
          T.clamp(xt, -0.5, 0.7), T.square(xt), T.reciprocal(p!), T.neg(xt), T.sign(xt),
        ];
      }, [{ shape: [5, 7], lo: -2, hi: 2 }, { shape: [3, 4], lo: 0.3, hi: 2 }]);
    });

    it('broadcasting binary ops, comparisons and where', () => {
      same(name, 'binary', ([a, b, c]) => [
        T.add(a!, b!), T.sub(a!, b!), T.mul(a!, b!), T.div(a!, c!), T.pow(c!, b!), T.maximum(a!, b!), T.minimum(a!, b!),
        T.gt(a!, b!), T.le(a!, b!), T.eq(a!, a!), T.where(T.gt(a!, 0), a!, b!), T.add(a!, 2.5), T.mul(3, b!),
      ], [{ shape: [2, 3, 4] }, { shape: [3, 1] }, { shape: [4], lo: 0.5, hi: 2 }]);
    });

    it('reductions over dims, max/min with indices, argmax, mean', () => {
      same(name, 'reduce', ([x]) => {
        const mx = T.max(x!, 1);
        return [
          T.sum(x!, [0, 2]), T.mean(x!, 1, true), T.amax(x!, null), T.amin(x!, [1, 2]), mx.values,
          T.cast(mx.indices, 'float32'), T.cast(T.argmax(x!, 2), 'float32'), T.sum(x!),
        ];
      }, [{ shape: [3, 5, 6] }]);
    });

    it('softmax, log_softmax, cross entropy (one_hot) and mse', () => {
      same(name, 'softmax', ([x, t, y]) => [
        T.softmax(x!, 1), T.logSoftmax(x!, 1), T.crossEntropy(x!, t!, 'mean'), T.mseLoss(x!, y!, 'sum'),
      ], [{ shape: [2, 5, 3, 2], lo: -3, hi: 3 }, { shape: [2, 3, 2], classes: 5 }, { shape: [2, 5, 3, 2] }]);
    });

    it('matmul with broadcast batch dims and transposed operands, linear, cat, cast', () => {
      same(name, 'matmul', ([a, b, w, x]) => [
        T.matmul(a!, b!), T.linear(x!, w!), T.matmul(T.transpose(x!, 0, 1), x!), T.cat([a!, a!], 1),
        T.cast(T.cast(T.mul(a!, 10), 'int32'), 'float32'),
      ], [{ shape: [2, 1, 3, 4] }, { shape: [3, 4, 5] }, { shape: [6, 9] }, { shape: [7, 9] }], 1e-5, 1e-5);
    });

    it('conv2d (groups, stride, padding, bias; 1x1) and local2d', () => {
      same(name, 'conv2d', ([x, w, b, w1]) => [
        conv2d(x!, w!, b!, { stride: [2, 1], padding: [1, 0, 2, 1], groups: 2 }),
        conv2d(x!, w1!, null, {}),
      ], [{ shape: [2, 4, 7, 6] }, { shape: [6, 2, 3, 3] }, { shape: [6] }, { shape: [3, 4, 1, 1] }], 1e-5, 1e-5);
      same(name, 'local2d', ([x, w, b]) => [local2d(x!, w!, b!, { stride: 2, padding: 1 })],
        [{ shape: [2, 3, 5, 5] }, { shape: [3, 3, 4, 3, 3, 3] }, { shape: [4, 3, 3] }], 1e-5, 1e-5);
    });

    it('batchnorm2d: PyTorch and Darknet variants, training (running statistics) and eval', () => {
      for (const variant of ['pytorch', 'darknet'] as const) {
        same(name, `batchnorm2d ${variant}`, ([x, g, b]) => {
          const rm = T.zeros([3], { device: x!.device });
          const rv = T.ones([3], { device: x!.device });
          const r = batchnorm2d(x!, g!, b!, rm, rv, { training: true, variant });
          const ev = batchnorm2d(x!, g!, b!, rm, rv, { training: false, variant });
          return [r.y, r.batchMean!, r.batchVar!, rm, rv, ev.y];
        }, [{ shape: [3, 3, 4, 5], lo: -1, hi: 3 }, { shape: [3], lo: 0.5, hi: 1.5 }, { shape: [3] }], 1e-4, 1e-5);
      }
    });

    it('maxpool2d (PyTorch, Darknet), avgpool2d, global average pooling', () => {
      same(name, 'pool', ([x]) => {
        const w = maxpool2dWithIndices(x!, { kernel: 3, stride: 2, padding: 1 });
        return [
          w.values, T.cast(w.indices, 'float32'), maxpool2d(x!, { kernel: 2, stride: 1, dilation: 2 }), maxpool2dDarknet(x!, 2, 1),
          maxpool2dDarknet(x!, 2, 2), avgpool2d(x!, { kernel: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
          avgpool2d(x!, { kernel: 2 }), globalAvgPool2d(x!),
        ];
      }, [{ shape: [2, 3, 7, 5] }]);
    });

    it('reorg (Darknet, pixel_unshuffle, ardi), pixel_shuffle, dropout', () => {
      same(name, 'reorg', ([x]) => [
        reorg(x!, 2, 'darknet'), reorg(x!, 2, 'pixel_unshuffle'), reorg(x!, 2, 'ardi'), pixelShuffle(x!, 2),
        dropout(x!, 0.4, { training: true, seed: 12345 }),
      ], [{ shape: [2, 8, 4, 6] }], 0, 0);
    });

    it('SGD (PyTorch, Darknet) and Adam take the same steps as on the cpu', () => {
      const train = (device: string): number[][] => scope(() => {
        const w0 = T.fromHost(hostData({ shape: [4, 6] }, 5) as Float32Array, [4, 6], { device });
        const x = T.fromHost(hostData({ shape: [6, 3] }, 6) as Float32Array, [6, 3], { device });
        const out: number[][] = [];
        for (const make of [
          (p: Tensor) => new SGD([p], { lr: 0.1, momentum: 0.9, decay: 1e-3 }),
          (p: Tensor) => new SGD([p], { lr: 0.1, momentum: 0.9, decay: 1e-3, variant: 'darknet', batch: 4 }),
          (p: Tensor) => new Adam([p], { lr: 0.01, decay: 1e-3 }),
        ]) {
          const p = T.clone(w0).detach().requireGrad(true);
          const opt = make(p);
          for (let step = 0; step < 3; step++) {
            opt.zeroGrad();
            T.sum(T.square(T.matmul(p, x))).backward();
            opt.step();
          }
          out.push(Array.from(p.data()));
          for (const s of opt.stateTensors()) s.tensor.dispose();
          p.zeroGrad();
          p.dispose();
        }
        return out;
      });
      const cpu = train('cpu');
      const dev = train(name);
      cpu.forEach((c, k) => close(dev[k]!, c, `optimizer ${k}`, 1e-5, 1e-6));
    });

    it('frees device memory when tensors are disposed (counters and allocator agree)', () => {
      const d = getDevice(name);
      d.synchronize();
      const before = memoryInfo(name);
      const bytesBefore = d.memoryStats().allocated;
      scope(() => {
        const a = T.rand([100, 37], { device: name, seed: 1 });
        const b = T.mul(T.add(a, 1), a);
        assert.equal(memoryInfo(name).storages - before.storages, 3, 'a, a + 1 and b');
        assert.ok(d.memoryStats().allocated >= bytesBefore + 3 * 100 * 37 * 4);
        return T.sum(b).item();
      });
      assert.deepEqual(memoryInfo(name), before);
      assert.equal(d.memoryStats().allocated, bytesBefore);
    });

    it('rejects dtypes it does not store, with the device named', () => {
      assert.throws(() => T.zeros([2], { device: name, dtype: 'float64' }), new RegExp(`device '${name}' does not store float64`));
    });
  });
}

describe('device cuda on a machine without a usable GPU', () => {
  const dev = listDevices().find((d) => d.name === 'cuda');
  it('is listed as unavailable with the reason, and using it is a clear error', { skip: dev?.available ? 'a GPU is available here' : false }, () => {
    assert.ok(dev, "'cuda' is registered even when unavailable");
    assert.equal(dev.available, false);
    assert.ok(dev.reason.length > 0);
    assert.throws(() => getDevice('cuda'), (e: unknown) => e instanceof Error && e.message.includes(dev.reason) && e.message.includes("device 'cuda' is not available"));
    assert.throws(() => T.zeros([2], { device: 'cuda' }), /not available/);
  });
});
