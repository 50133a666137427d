// The tsgrad/testing entry: it resolves as a package subpath, its arbitraries give what they promise
// (valid conv geometries, broadcast-compatible shapes, dtypes and value ranges away from kinks), and
// checkOp catches a wrong forward, a wrong backward, a wrong second derivative and a leak.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import { conv2d, exp, keep, mul, noGrad, record, scope, unaryRaw, type Tensor } from '../src/index.js';
import {
  broadcastShapesArb,
  checkOp,
  convGeometryArb,
  hostTensor,
  hostTensorArb,
  runs,
  tensorArb,
  toTensor,
} from '../src/testing/index.js';
import { assertThrowsMatching } from './helpers/check.js';

test("the package subpath 'tsgrad/testing' resolves to the same module", async () => {
  const viaPackage = await import('tsgrad/testing');
  const local = await import('../src/testing/index.js');
  assert.deepEqual(Object.keys(viaPackage).sort(), Object.keys(local).sort());
  assert.ok(typeof viaPackage.checkOp === 'function' && typeof viaPackage.convGeometryArb === 'function');
});

test('convGeometryArb gives geometries conv2d accepts, with the promised output shape', () => {
  fc.assert(
    fc.property(convGeometryArb(), (g) => {
      scope(() => {
        const x = toTensor(hostTensor(g.inputShape, new Float64Array(g.inputShape.reduce((a, b) => a * b, 1))));
        const w = toTensor(hostTensor(g.weightShape, new Float64Array(g.weightShape.reduce((a, b) => a * b, 1))));
        const y = conv2d(x, w, null, { stride: g.stride, padding: g.padding, dilation: g.dilation, groups: g.groups });
        assert.deepEqual([...y.shape], g.outputShape);
      });
    }),
    runs(30),
  );
});

test('broadcastShapesArb shapes broadcast together; tensorArb keeps dtype, shape ranges and value kinds', () => {
  fc.assert(
    fc.property(broadcastShapesArb(3), (shapes) => {
      const rank = Math.max(...shapes.map((s) => s.length));
      for (let d = 0; d < rank; d++) {
        const dims = new Set(shapes.map((s) => s[s.length - rank + d] ?? 1).filter((v) => v !== 1));
        assert.ok(dims.size <= 1, JSON.stringify(shapes));
      }
    }),
    runs(30),
  );
  fc.assert(
    fc.property(tensorArb({ dtype: 'float32', minRank: 1, maxRank: 2, maxDim: 4, kind: 'awayFromZero' }), (h) => {
      assert.equal(h.dtype, 'float32');
      assert.ok(h.shape.length >= 1 && h.shape.length <= 2 && h.shape.every((d) => d >= 1 && d <= 4));
      assert.ok(h.data.every((v) => Math.abs(v) >= 0.25 && Math.fround(v) === v));
      const t = toTensor(h);
      assert.equal(t.dtype, 'float32');
      t.dispose();
    }),
    runs(30),
  );
  fc.assert(fc.property(tensorArb({ dtype: 'int32', shape: [5], intMax: 3 }), (h) => assert.ok(h.data.every((v) => Number.isInteger(v) && v >= 0 && v < 3))), runs(20));
  fc.assert(fc.property(hostTensorArb([4], 'positive'), (h) => assert.ok(h.data.every((v) => v >= 0.3 && v <= 2.5))), runs(20));
});

test('checkOp passes a right op and fails a wrong forward, a wrong backward, a wrong second derivative and a leak', () => {
  const x = hostTensor([2, 2], [0.1, -0.4, 0.7, 1.2]);
  const expRef = (h: { shape: number[]; data: Float64Array }) => hostTensor(h.shape, h.data.map(Math.exp));
  assert.ok(checkOp(exp, [x], expRef, { gradgradcheck: true })!.ok);
  assertThrowsMatching(() => checkOp((t) => mul(exp(t), 1.001), [x], expRef), 'float64 forward: element 0 is');
  const wrongRule = (t: Tensor): Tensor => {
    const y = unaryRaw(t, 'exp');
    return record('exp_wrong', [t], y, (g) => [mul(g, mul(y, 1.1))]);
  };
  assertThrowsMatching(() => checkOp(wrongRule, [x], expRef, { what: 'exp_wrong' }), 'exp_wrong: gradcheck (full, float64', 'FAILED');
  const frozen = (t: Tensor): Tensor => {
    const y = unaryRaw(t, 'exp');
    const slope = noGrad(() => mul(y, 1));
    return record('exp_frozen', [t], y, (g) => [mul(g, slope)]);
  };
  assert.ok(checkOp(frozen, [x], expRef), 'first order is right');
  assertThrowsMatching(() => checkOp(frozen, [x], expRef, { gradgradcheck: true }), 'gradgradcheck (full, float64', 'FAILED');
  // an op that keeps a tensor of its own alive across calls
  const leaked: Tensor[] = [];
  assertThrowsMatching(() => checkOp((t) => {
    leaked.push(keep(exp(t)));
    return exp(t);
  }, [x], null, { mode: false, float32: false, what: 'leaky' }), 'leaky: the check leaked');
  for (const t of leaked) t.dispose();
});
