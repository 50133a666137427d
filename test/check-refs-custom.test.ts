// Reference cases for one's own ops: scripts/torch-refs.py writes them from a PyTorch expression (run when
// a Python with torch is found: $PYTHON, else python3), a runner registered in a module given to
// `check-refs --runners` makes them checkable instead of 'unsupported', a FAIL names the worst element,
// and float64 on a device that stores none is said once (not one FAIL per case).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { availableDevices, checkRefCase, registerRefRunner, type Tensor } from '../src/index.js';
import { TORCH_REFS } from './helpers/refs.js';
import { assertThrowsMatching } from './helpers/check.js';

const CLI = join(process.cwd(), 'bin', 'tsgrad.js');
const GENERATOR = join(process.cwd(), 'scripts', 'torch-refs.py');
const python = process.env['PYTHON'] ?? 'python3';
const hasTorch = spawnSync(python, ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0;
const haveRefs = existsSync(TORCH_REFS);

/** A runners module for the swish op of the spec below, written with Tensor methods only (no import). */
const RUNNERS_MODULE = `export const runners = {
  swish: (i, p) => ({ y: i.x.mul(i.x.mul(p.beta).sigmoid()) }),
};
`;

const SPEC = {
  cases: [
    { name: 'swish_1', op: 'swish', expr: "x * torch.sigmoid(x * p['beta'])", params: { beta: 1.5 }, inputs: { x: { shape: [2, 3, 4], low: -3, high: 3 } }, seed: 1 },
    { name: 'ce_1', op: 'cross_entropy', expr: "{'loss': F.cross_entropy(input, target, reduction=p['reduction'])}", params: { reduction: 'sum' }, inputs: { input: { shape: [5, 3] }, target: { shape: [5], dtype: 'int64', low: 0, high: 3 } } },
    { name: 'max_1', op: 'max', expr: "dict(zip(('y', 'indices'), torch.max(x, 1)))", params: { dim: 1, keepdim: false }, inputs: { x: { shape: [3, 5] } } },
  ],
};

test('scripts/torch-refs.py writes cases that check-refs runs; a runner module makes a new op checkable', { skip: !hasTorch && `no Python with torch (${python}); set $PYTHON` }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-gen-'));
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(SPEC));
  const gen = spawnSync(python, [GENERATOR, join(dir, 'spec.json'), '--out', join(dir, 'cases')], { encoding: 'utf8' });
  assert.equal(gen.status, 0, gen.stderr);
  assert.match(gen.stdout, /3 cases written/);
  const c = JSON.parse(readFileSync(join(dir, 'cases', 'swish_1.json'), 'utf8'));
  assert.deepEqual(Object.keys(c), ['op', 'params', 'inputs', 'outputs', 'grads', 'meta']);
  assert.deepEqual(c.inputs.x.shape, [2, 3, 4]);
  // shortest decimals of float32 values: at most 9 significant digits, inside the drawn range
  const digits = (v: number): number => String(v).replace(/^-/, '').replace(/e.*$/, '').replace('.', '').replace(/^0+/, '').length;
  assert.ok(c.inputs.x.data.every((v: number) => v >= -3 && v < 3 && digits(v) <= 9), 'float32 values as short decimals, inside the drawn range');
  assert.equal(c.meta.differentiable_output, 'y');
  assert.ok(c.meta.absmax['grad:x'] > 0 && 'out:y' in c.meta.torch_f32_max_abs_diff);
  const without = spawnSync(process.execPath, [CLI, 'check-refs', join(dir, 'cases')], { encoding: 'utf8' });
  assert.match(without.stdout, /^swish_1\s+unsupported/m);
  assert.match(without.stdout, /2 passed, 0 failed, 1 unsupported$/m);
  writeFileSync(join(dir, 'runners.mjs'), RUNNERS_MODULE);
  const withRunner = spawnSync(process.execPath, [CLI, 'check-refs', join(dir, 'cases'), '--runners', join(dir, 'runners.mjs')], { encoding: 'utf8' });
  assert.equal(withRunner.status, 0, withRunner.stdout + withRunner.stderr);
  assert.match(withRunner.stdout, /^swish_1\s+pass\s+out:y abs=\S+ rel=\S+\s+grad:x/m);
  assert.match(withRunner.stdout, /3 passed, 0 failed, 0 unsupported$/m);
});

test('registerRefRunner: a registered op is run, not unsupported; names are checked', { skip: !haveRefs && 'no reference cases' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-refs-'));
  const c = JSON.parse(readFileSync(join(TORCH_REFS, 'exp_1.json'), 'utf8'));
  c.op = 'my_exp';
  writeFileSync(join(dir, 'my_exp_1.json'), JSON.stringify(c));
  assert.equal(checkRefCase(join(dir, 'my_exp_1.json')).status, 'unsupported');
  registerRefRunner('my_exp', (i) => ({ y: (i['x'] as Tensor).exp() }));
  const r = checkRefCase(join(dir, 'my_exp_1.json'));
  assert.equal(r.status, 'pass', JSON.stringify(r));
  assertThrowsMatching(() => registerRefRunner('my_exp', (i) => i), "registerRefRunner: op 'my_exp' already has a runner");
  assertThrowsMatching(() => registerRefRunner('', (i) => i), 'non-empty string');
  registerRefRunner('my_exp', (i) => ({ y: (i['x'] as Tensor).exp().mul(1.001) }), { replace: true });
  assert.equal(checkRefCase(join(dir, 'my_exp_1.json')).status, 'FAIL');
});

test('a FAIL names the worst element by its indices with both values', { skip: !haveRefs && 'no reference cases' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-refs-'));
  const c = JSON.parse(readFileSync(join(TORCH_REFS, 'exp_1.json'), 'utf8'));
  const [, C, H, W] = c.outputs.y.shape as number[];
  const flat = ((1 * C! + 2) * H! + 3) * W! + 4;
  const expected = c.outputs.y.data[flat];
  c.outputs.y.data[flat] += 0.5;
  writeFileSync(join(dir, 'exp_5.json'), JSON.stringify(c));
  const r = spawnSync(process.execPath, [CLI, 'check-refs', dir], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  const line = r.stdout.split('\n').find((l) => l.startsWith('exp_5'))!;
  const m = /out:y abs=5\.00e-1 rel=\S+ <-- over tolerance at \[1, 2, 3, 4\]: (\S+) vs (\S+)/.exec(line);
  assert.ok(m, line);
  assert.ok(Math.abs(Number(m[1]) - expected) < 1e-5 * Math.max(1, Math.abs(expected)), `ours ${m[1]} vs the true value ${expected}`);
  assert.equal(m[2], String(expected + 0.5), 'the (corrupted) reference value');
});

const noF64 = availableDevices().find((d) => !d.dtypes.includes('float64'));
test(`--dtype float64 on a device without float64 says so once and exits 2${noF64 ? ` (${noF64.name})` : ''}`, { skip: (!noF64 && 'every available device stores float64') || (!haveRefs && 'no reference cases') }, () => {
  const r = spawnSync(process.execPath, [CLI, 'check-refs', TORCH_REFS, '--device', noF64!.name, '--dtype', 'float64'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines[0], `error: device '${noF64!.name}' stores no float64 (${noF64!.dtypes.join(', ')}); check it with --dtype float32`);
  assert.equal(lines.length, 2, 'the error and the usage line, nothing per case');
});

test('--runners with a module that cannot be loaded is a clear error', () => {
  const r = spawnSync(process.execPath, [CLI, 'check-refs', tmpdir(), '--runners', join(tmpdir(), 'no-such-runners.mjs')], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^error: --runners \S+no-such-runners\.mjs: Cannot find module/);
});
