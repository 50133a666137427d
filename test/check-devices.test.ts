// checkDevices: forward and backward of a function on each available device against the CPU float64
// result. It passes on the library's ops on every device, reports the worst element per output and per
// gradient, says once per device when float64 is not stored there, and catches planted device faults in
// a forward and in a backward (a float32 path that differs from the float64 one stands for a device
// kernel, so the fault classes are caught on a machine with the CPU only too).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { availableDevices, checkDevices, conv2d, fromHost, maxpool2dWithIndices, mul, noGrad, randn, record, relu, softmax, sum, type Tensor } from '../src/index.js';
import { assertThrowsMatching } from './helpers/check.js';

const devices = availableDevices().map((d) => d.name);

test(`the library's ops agree with the CPU float64 result on every available device (${devices.join(', ')}), float32 inputs`, () => {
  const x = randn([2, 3, 6, 6], { seed: 1 }).requireGrad();
  const w = randn([4, 3, 3, 3], { seed: 2 }).requireGrad();
  const r = checkDevices((a: Tensor, b: Tensor) => [relu(conv2d(a, b, null, { padding: 1 })), softmax(a, 1), maxpool2dWithIndices(a, { kernel: 2 }).indices], [x, w], { names: ['x', 'w'] });
  assert.ok(r.ok, r.report);
  assert.deepEqual(r.devices.map((d) => d.device), devices, 'float32 inputs: the CPU in float32 is checked too');
  for (const d of r.devices) {
    assert.deepEqual(d.tensors.map((t) => t.name), ['y0', 'y1', 'y2', 'grad x', 'grad w']);
    assert.ok(d.tensors.every((t) => t.worstIndex >= 0 && Number.isFinite(t.maxAbsError)));
  }
  assert.match(r.report, /^checkDevices: passed on /);
  assert.match(r.report, /cpu grad w \[4, 3, 3, 3\]: ok max abs \S+, max rel \S+, largest at \[\d+\]/);
});

test('float64 inputs: devices without float64 run in float32, and the report says so once per device', () => {
  const x = randn([3, 4], { dtype: 'float64', seed: 3 }).requireGrad();
  const r = checkDevices((a: Tensor) => softmax(a, 1), [x]);
  assert.ok(r.ok, r.report);
  const noF64 = availableDevices().filter((d) => !d.dtypes.includes('float64')).map((d) => d.name);
  assert.deepEqual(r.devices.map((d) => d.device), noF64, 'the CPU in float64 is the reference, not a device under check');
  for (const name of noF64) {
    const notes = r.report.split('\n').filter((l) => l.startsWith(`note: '${name}' stores no float64`));
    assert.equal(notes.length, 1, r.report);
    assert.equal(r.devices.find((d) => d.device === name)!.dtype, 'float32');
  }
  // asked for explicitly, the CPU runs in float64 against itself
  const cpu = checkDevices((a: Tensor) => softmax(a, 1), [x], { devices: ['cpu'] });
  assert.equal(cpu.devices[0]!.dtype, 'float64');
  assert.equal(cpu.devices[0]!.tensors[0]!.maxAbsError, 0);
});

test('planted: a float32 forward that is off at one element is caught, naming the output and the element', () => {
  const x = randn([2, 5], { seed: 4 }).requireGrad();
  const bump = (a: Tensor): Tensor => {
    const y = mul(a, 3);
    if (a.dtype !== 'float32') return y;
    const off = new Float32Array(10);
    off[7] = 1e-2;
    return y.add(fromHost(off, [2, 5], { device: a.device }));
  };
  const r = checkDevices(bump, [x], { devices: ['cpu'], throwOnFailure: false, outputNames: ['z'] });
  assert.equal(r.ok, false);
  const z = r.devices[0]!.tensors.find((t) => t.name === 'z')!;
  assert.equal(z.ok, false);
  assert.equal(z.worstIndex, 7);
  assert.match(r.report, /cpu z \[2, 5\]: FAIL max abs 1\.00e-2, .*worst at \[7\]/);
  assert.ok(r.devices[0]!.tensors.find((t) => t.name === 'grad x0')!.ok, 'the gradient is right');
});

test('planted: a float32 backward rule that is wrong is caught in the gradient, not the output', () => {
  const x = randn([4], { seed: 5 }).requireGrad();
  const wrongBackward = (a: Tensor): Tensor => {
    const y = noGrad(() => mul(a, a));
    const factor = a.dtype === 'float32' ? 2.5 : 2;
    return record('square_device', [a], y, (g) => [mul(g, mul(a, factor))]);
  };
  const r = checkDevices(wrongBackward, [x], { devices: ['cpu'], throwOnFailure: false });
  assert.equal(r.ok, false);
  const [y, gx] = r.devices[0]!.tensors;
  assert.ok(y!.ok);
  assert.equal(gx!.ok, false);
  assert.throws(() => checkDevices(wrongBackward, [x], { devices: ['cpu'] }), /checkDevices: FAILED on cpu \(float32\)/);
});

test('an op that fails on a device is reported as that device\'s error; bad arguments are clear errors', () => {
  const x = randn([3], { seed: 6 }).requireGrad();
  const r = checkDevices((a: Tensor) => {
    if (a.dtype === 'float32') throw new Error('no kernel here');
    return sum(a);
  }, [x], { devices: ['cpu'], throwOnFailure: false });
  assert.equal(r.devices[0]!.error, 'no kernel here');
  assert.match(r.report, /cpu: ERROR no kernel here/);
  assertThrowsMatching(() => checkDevices((a: Tensor) => a, []), 'checkDevices: no inputs');
  assertThrowsMatching(() => checkDevices((a: Tensor) => a, [x], { devices: ['nonsense'] }), "unknown device 'nonsense'");
  assertThrowsMatching(() => checkDevices(() => 1 as unknown as Tensor, [x]), 'checkDevices: the function must return a Tensor');
});
