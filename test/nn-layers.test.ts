// The nn layers built from code (Conv2d, BatchNorm2d, pools, activations, Dropout, Sequential, Flatten):
// each forward equals its op, parameters are named as in PyTorch, train/eval switch the statistics, and a
// small Sequential net learns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AvgPool2d,
  BatchNorm2d,
  Conv2d,
  Dropout,
  Flatten,
  GlobalAvgPool2d,
  LeakyReLU,
  Linear,
  MaxPool2d,
  ReLU,
  Rng,
  SGD,
  Sequential,
  Sigmoid,
  Tanh,
  avgpool2d,
  batchnorm2d,
  conv2d,
  crossEntropy,
  leakyRelu,
  maxpool2d,
  randn,
  scope,
  tensor,
} from '../src/index.js';

function same(a: ArrayLike<number>, b: ArrayLike<number>): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.equal(a[i], b[i], `index ${i}`);
}

test('Conv2d forward equals the conv2d op with its own weight and bias; PyTorch init bound 1/sqrt(fan_in)', () => {
  const conv = new Conv2d(3, 4, 3, { padding: 1, stride: 2, rng: new Rng(1) });
  assert.deepEqual(conv.weight.shape, [4, 3, 3, 3]);
  const bound = 1 / Math.sqrt(27);
  for (const v of conv.weight.data()) assert.ok(Math.abs(v) <= bound);
  const x = randn([2, 3, 7, 9], { rng: new Rng(2) });
  const y = conv.forward(x);
  assert.deepEqual(y.shape, [2, 4, 4, 5]);
  same(y.data(), conv2d(x, conv.weight, conv.bias, { padding: 1, stride: 2 }).data());
  assert.equal(new Conv2d(4, 8, [1, 3], { bias: false, groups: 2 }).bias, null);
  assert.throws(() => new Conv2d(3, 4, 3, { groups: 2 }), /groups=2 must divide inChannels=3/);
});

test('BatchNorm2d uses batch statistics in training (updating the running ones) and running statistics in eval', () => {
  const bn = new BatchNorm2d(3, { momentum: 0.1 });
  const x = randn([4, 3, 5, 5], { rng: new Rng(3) });
  const yTrain = bn.forward(x);
  const ref = batchnorm2d(x, null, null, null, null, { training: true }).y;
  const r = ref.data();
  yTrain.data().forEach((v, i) => assert.ok(Math.abs(v - r[i]!) < 1e-5, `index ${i}`));
  const rm = bn.runningMean.data();
  assert.ok(rm.some((v) => v !== 0), 'running mean moved');
  bn.eval();
  const yEval = bn.forward(x);
  const refEval = batchnorm2d(x, bn.weight, bn.bias, bn.runningMean, bn.runningVar, { training: false }).y;
  same(yEval.data(), refEval.data());
  assert.deepEqual([...bn.stateDict().keys()], ['weight', 'bias', 'runningMean', 'runningVar']);
});

test('pool, activation, dropout and flatten layers equal their ops; dropout is the identity in eval mode', () => {
  const x = randn([1, 2, 6, 6], { rng: new Rng(4) });
  same(new MaxPool2d(2).forward(x).data(), maxpool2d(x, { kernel: 2 }).data());
  same(new AvgPool2d(3, { stride: 1, padding: 1 }).forward(x).data(), avgpool2d(x, { kernel: 3, stride: 1, padding: 1 }).data());
  assert.deepEqual(new GlobalAvgPool2d().forward(x).shape, [1, 2, 1, 1]);
  same(new LeakyReLU(0.1).forward(x).data(), leakyRelu(x, 0.1).data());
  assert.ok(new ReLU().forward(x).data().every((v) => v >= 0));
  assert.ok(new Sigmoid().forward(x).data().every((v) => v > 0 && v < 1));
  assert.ok(new Tanh().forward(x).data().every((v) => v > -1 && v < 1));
  assert.deepEqual(new Flatten().forward(x).shape, [1, 72]);
  const d = new Dropout(0.5);
  const kept = d.forward(x).data().filter((v) => v !== 0).length;
  assert.ok(kept > 10 && kept < 62, `about half kept, got ${kept} of 72`);
  d.eval();
  assert.equal(d.forward(x), x);
});

test('a Sequential conv net names its parameters as PyTorch does and learns a 2-class problem (loss falls 5x)', () => {
  const net = new Sequential(
    new Conv2d(1, 4, 3, { padding: 1, rng: new Rng(5) }),
    new BatchNorm2d(4),
    new LeakyReLU(0.1),
    new MaxPool2d(2),
    new Flatten(),
    new Linear(4 * 4 * 4, 2, { rng: new Rng(6) }),
  );
  assert.deepEqual(
    net.namedParameters().map(([n]) => n),
    ['0.weight', '0.bias', '1.weight', '1.bias', '5.weight', '5.bias'],
  );
  // class 0: bright left half, class 1: bright right half, plus noise
  const rng = new Rng(7);
  const n = 16;
  const xs = new Float32Array(n * 64);
  const ys: number[] = [];
  for (let i = 0; i < n; i++) {
    const cls = i % 2;
    ys.push(cls);
    for (let p = 0; p < 64; p++) xs[i * 64 + p] = ((p % 8 < 4) === (cls === 0) ? 1 : 0) + 0.3 * (rng.uniform() - 0.5);
  }
  const x = tensor(Array.from(xs), { shape: [n, 1, 8, 8] });
  const y = tensor(ys, { dtype: 'int32' });
  const opt = new SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
  const losses: number[] = [];
  for (let step = 0; step < 30; step++) {
    scope(() => {
      opt.zeroGrad();
      const loss = crossEntropy(net.forward(x), y);
      loss.backward();
      opt.step();
      losses.push(loss.item());
    });
  }
  assert.ok(losses[losses.length - 1]! < losses[0]! / 5, `loss ${losses[0]} → ${losses[losses.length - 1]}`);
});
