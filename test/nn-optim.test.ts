import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, randn, mseLoss, scope, memoryInfo, SGD, Adam, Linear, learningRate, type LrSchedule } from '../src/index.js';

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-12): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `index ${i}: ${a[i]} vs ${b[i]}`);
}

test('SGD (pytorch convention) matches torch.optim.SGD momentum+decay over three steps', () => {
  const w = tensor([1, -2], { dtype: 'float64' }).requireGrad();
  const opt = new SGD([w], { lr: 0.1, momentum: 0.9, decay: 0.01 });
  // torch: g = grad + wd*w; buf = g (first) else 0.9*buf + g; w -= lr*buf
  let ref = [1, -2];
  let buf: number[] | null = null;
  const grads = [[0.5, 0.25], [-1, 2], [0.3, 0.3]];
  for (const g of grads) {
    w.grad = tensor(g, { dtype: 'float64' });
    opt.step();
    const gg = g.map((v, i) => v + 0.01 * ref[i]!);
    buf = buf ? buf.map((b, i) => 0.9 * b + gg[i]!) : gg;
    ref = ref.map((v, i) => v - 0.1 * buf![i]!);
  }
  close(w.data(), ref);
});

test('SGD (darknet convention) reproduces update_convolutional_layer: axpy decay, axpy lr/batch, scal momentum', () => {
  const w = tensor([0.5, -0.25, 2], { dtype: 'float64' }).requireGrad();
  const opt = new SGD([w], { lr: 0.01, momentum: 0.9, decay: 0.0005, batch: 8, variant: 'darknet' });
  // Darknet: weight_updates accumulate -grad during backward, then
  //   weight_updates += -decay*batch*w; w += lr/batch*weight_updates; weight_updates *= momentum
  let ref = [0.5, -0.25, 2];
  let upd = [0, 0, 0];
  for (const g of [[1, 2, -3], [0.5, -0.5, 0.25]]) {
    w.grad = tensor(g, { dtype: 'float64' });
    opt.step();
    upd = upd.map((u, i) => u - g[i]!);
    upd = upd.map((u, i) => u - 0.0005 * 8 * ref[i]!);
    ref = ref.map((v, i) => v + (0.01 / 8) * upd[i]!);
    upd = upd.map((u) => 0.9 * u);
  }
  close(w.data(), ref);
});

test('Adam matches the bias-corrected update of Kingma & Ba over three steps', () => {
  const w = tensor([1, -1], { dtype: 'float64' }).requireGrad();
  const opt = new Adam([w], { lr: 0.01 });
  let ref = [1, -1];
  let m = [0, 0];
  let v = [0, 0];
  const gs = [[0.1, -0.2], [0.3, 0.1], [-0.5, 0.4]];
  gs.forEach((g, k) => {
    w.grad = tensor(g, { dtype: 'float64' });
    opt.step();
    const t = k + 1;
    m = m.map((mi, i) => 0.9 * mi + 0.1 * g[i]!);
    v = v.map((vi, i) => 0.999 * vi + 0.001 * g[i]! * g[i]!);
    ref = ref.map((x, i) => x - (0.01 * (m[i]! / (1 - 0.9 ** t))) / (Math.sqrt(v[i]! / (1 - 0.999 ** t)) + 1e-8));
  });
  close(w.data(), ref);
});

test('learning-rate policies follow Darknet get_current_rate, burn-in included', () => {
  const base = { lr: 0.1 };
  const s = (policy: LrSchedule['policy'], extra: Partial<LrSchedule> = {}): LrSchedule => ({ ...base, policy, ...extra });
  assert.equal(learningRate(s({ policy: 'constant' }), 123), 0.1);
  assert.equal(learningRate(s({ policy: 'step', step: 10, scale: 0.5 }), 25), 0.1 * 0.25);
  const steps = s({ policy: 'steps', steps: [100, 200], scales: [0.1, 0.1] });
  assert.equal(learningRate(steps, 99), 0.1);
  assert.ok(Math.abs(learningRate(steps, 100) - 0.01) < 1e-15);
  assert.ok(Math.abs(learningRate(steps, 250) - 0.001) < 1e-15);
  assert.ok(Math.abs(learningRate(s({ policy: 'exp', gamma: 0.9 }), 2) - 0.081) < 1e-15);
  assert.ok(Math.abs(learningRate(s({ policy: 'poly', power: 2, maxBatches: 100 }), 50) - 0.025) < 1e-15);
  assert.ok(Math.abs(learningRate(s({ policy: 'sig', gamma: 1, step: 10 }), 10) - 0.05) < 1e-15);
  const burn = s({ policy: 'constant' }, { burnIn: 100, burnInPower: 4 });
  assert.ok(Math.abs(learningRate(burn, 50) - 0.1 * 0.0625) < 1e-15);
  assert.equal(learningRate(burn, 100), 0.1);
});

test('a Linear layer trained by SGD fits a linear map (loss falls 100x) without leaking tensors', () => {
  const layer = new Linear(3, 2);
  const x = randn([32, 3], { seed: 3 });
  const target = tensor([[1, -2, 0.5], [0, 1, 3]]);
  const y = scope(() => x.matmul(target.T).add(tensor([0.5, -1])));
  const opt = new SGD(layer.parameters(), { lr: 0.1, momentum: 0.9 });
  const before = memoryInfo('cpu').tensors;
  const losses: number[] = [];
  for (let i = 0; i < 150; i++) {
    losses.push(scope(() => {
      opt.zeroGrad();
      const loss = mseLoss(layer.forward(x), y);
      loss.backward();
      opt.step();
      return loss.item();
    }));
  }
  assert.ok(losses[losses.length - 1]! < losses[0]! / 100, `loss ${losses[0]} -> ${losses[losses.length - 1]}`);
  // grads (2 tensors) and momentum buffers (2) are the only tensors that outlive the steps
  assert.equal(memoryInfo('cpu').tensors - before, 4);
});

test('module stateDict / loadStateDict copy values and reject shape mismatches by name', () => {
  const a = new Linear(4, 3);
  const b = new Linear(4, 3, { rng: undefined });
  const state = a.stateDict();
  b.loadStateDict(state);
  close(b.weight.data(), a.weight.data(), 0);
  const c = new Linear(5, 3);
  assert.throws(() => c.loadStateDict(state), /'weight' has shape \[3, 4\], expected \[3, 5\]/);
});
