import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { caseFiles, checkCase } from '../src/refs/torch-refs.js';
import { TORCH_REFS } from './helpers/refs.js';

const REFS = TORCH_REFS;
const haveRefs = existsSync(REFS);
const CLI = join(process.cwd(), 'bin', 'tsgrad.js');

/** A fresh temporary folder, removed when the file's tests end. */
const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tsgrad-refs-'));
  made.push(d);
  return d;
}

test('every PyTorch reference case with a runner passes on the cpu', { skip: !haveRefs && 'the reference cases are not present' }, () => {
  const failures = caseFiles(REFS)
    .map((f) => checkCase(f))
    .filter((r) => r.status === 'FAIL');
  assert.deepEqual(failures.map((r) => `${r.name}: ${r.message ?? JSON.stringify(r.tensors.filter((t) => !t.ok))}`), []);
});

test('check-refs reports a corrupted reference value as FAIL and exits 1', { skip: !haveRefs && 'no refs' }, () => {
  const dir = tempDir();
  const c = JSON.parse(readFileSync(join(REFS, 'add_1.json'), 'utf8'));
  c.outputs.y.data[3] += 0.01;
  writeFileSync(join(dir, 'add_9.json'), JSON.stringify(c));
  copyFileSync(join(REFS, 'mul_1.json'), join(dir, 'mul_1.json'));
  const r = spawnSync(process.execPath, [CLI, 'check-refs', dir], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /^add_9\s+FAIL\s+out:y abs=1\.00e-2/m);
  assert.match(r.stdout, /^mul_1\s+pass/m);
  assert.match(r.stdout, /1 passed, 1 failed, 0 unsupported$/m);
});

test('check-refs counts an op it does not know as unsupported, never as passed', { skip: !haveRefs && 'no refs' }, () => {
  const dir = tempDir();
  const c = JSON.parse(readFileSync(join(REFS, 'exp_1.json'), 'utf8'));
  c.op = 'frobnicate';
  writeFileSync(join(dir, 'frobnicate_1.json'), JSON.stringify(c));
  const r = spawnSync(process.execPath, [CLI, 'check-refs', dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^frobnicate_1\s+unsupported/m);
  assert.match(r.stdout, /0 passed, 0 failed, 1 unsupported$/m);
});

test('check-refs rejects a case whose data does not fill its shape, naming the file', { skip: !haveRefs && 'no refs' }, () => {
  const dir = tempDir();
  const c = JSON.parse(readFileSync(join(REFS, 'exp_1.json'), 'utf8'));
  c.inputs.x.data.pop();
  writeFileSync(join(dir, 'exp_7.json'), JSON.stringify(c));
  const r = checkCase(join(dir, 'exp_7.json'));
  assert.equal(r.status, 'FAIL');
  assert.match(r.message ?? '', /exp_7\.json: x has \d+ values for shape \[2, 3, 7, 9\]/);
});

test('check-refs without a folder prints usage and exits 2', () => {
  const r = spawnSync(process.execPath, [CLI, 'check-refs'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /usage: tsgrad check-refs/);
});
