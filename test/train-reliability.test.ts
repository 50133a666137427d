// Checkpoints and output folders of `detector train`:
//   --backup, --out and `data synth --out` under /proc fail in a second (mkdir -p spun forever there);
//   a backup folder that cannot be written is found before the first iteration;
//   temporary files that killed runs left in the backup folder are removed at start;
//   the _last.weights/_last.state pair always agrees: the state names the SHA-256 of its weights, and a
//   resume whose _last.weights is not that one (a kill between the two writes) rewrites it; a kill -9
//   loop never leaves a pair that stays inconsistent or a temporary file that survives the next start;
//   .state metadata is checked after the CRC (types and ranges: iteration "ten" is an error, not a
//   resume that does nothing and exits 0); write errors name the path.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { readTensorFile, writeTensorFile, type TensorFileInput } from '../src/nn/checkpoint.js';
import '../src/index.js';
import { detectorTrain } from '../src/cli/detector-train.js';
import { detectorFixture, runCli, runCliKilled } from './helpers/detector-fixture.js';
import { captureIO } from './helpers/fixtures.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tsgrad-ckpt-'));
}

const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

function stateWeights(statePath: string): { file: string; sha256: string } {
  return (readTensorFile(statePath).meta as { weights: { file: string; sha256: string } }).weights;
}

const trainArgs = (f: { dataFile: string; cfgFile: string }, backup: string, ...more: string[]): string[] => [
  'detector', 'train', f.dataFile, f.cfgFile, '--backup', backup, '--workers', '0', '--no-augment', '--chart', 'none', '--save-every', '1', ...more,
];

test('--backup, detector test --out and data synth --out under /proc fail within seconds naming the folder (they spun in mkdir -p)', async () => {
  if (!existsSync('/proc/self')) return;
  const dir = tmp();
  try {
    const f = await detectorFixture(dir);
    for (const args of [
      trainArgs(f, '/proc/tsgrad-x/backup'),
      ['detector', 'test', f.dataFile, f.cfgFile, f.weightsFile, f.trainImages[0]!, '--thresh', '0', '--out', '/proc/tsgrad-x/p.png'],
      ['data', 'synth', '--out', '/proc/tsgrad-x/set', '--train', '1', '--valid', '1'],
    ]) {
      const r = runCli(args, { timeoutMs: 20000 });
      assert.equal(r.signal, null, `${args[1]} hung`);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /cannot create folder \/proc\/tsgrad-x.*does not take new folders/);
      assert.ok(r.ms < 10000, `${args[0]} ${args[1]} took ${r.ms} ms`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a backup folder that cannot be written is found before the first iteration; a chart write error names the path', async () => {
  const dir = tmp();
  try {
    const f = await detectorFixture(dir);
    writeFileSync(join(dir, 'plain-file'), '');
    const r = runCli(trainArgs(f, join(dir, 'plain-file', 'backup')));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot create folder .*plain-file\/backup: .*plain-file is a file, not a folder/);
    assert.doesNotMatch(r.stdout, /^1\/\d+: loss/m, 'no iteration ran');
    if (existsSync('/dev/full')) {
      const c = runCli(['detector', 'train', f.dataFile, f.cfgFile, '--backup', join(dir, 'bk'), '--workers', '0', '--no-augment', '--chart', '/dev/full', '--max-batches', '1']);
      assert.equal(c.status, 1);
      assert.match(c.stderr, /cannot write \/dev\/full: ENOSPC/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stale temporary files are removed at start; the state names the SHA-256 of its _last.weights; a mismatched pair is rewritten at resume', async () => {
  const dir = tmp();
  try {
    const f = await detectorFixture(dir, 2);
    const bk = join(dir, 'bk');
    const first = runCli(trainArgs(f, bk, '--max-batches', '1'));
    assert.equal(first.status, 0, first.stderr);
    const state = join(bk, 'tiny_last.state');
    const weights = join(bk, 'tiny_last.weights');
    assert.deepEqual(stateWeights(state), { file: 'tiny_last.weights', sha256: sha(weights) });
    // What a kill -9 between the two writes leaves: weights one save newer than the state, and a temp file.
    writeFileSync(weights, Buffer.concat([readFileSync(weights).subarray(0, 20), Buffer.alloc(readFileSync(weights).length - 20, 7)]));
    writeFileSync(join(bk, 'tiny_last.state.tmp-999999999-0badc0de'), 'half a state');
    const resumed = runCli(trainArgs(f, bk, '--resume', state, '--max-batches', '2'));
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stdout, /removed 1 temporary file left in .*bk by an interrupted run/);
    assert.match(resumed.stdout, /tiny_last\.weights: rewritten from the resumed state \(iteration 1\), which it did not match/);
    assert.deepEqual(readdirSync(bk).filter((n) => n.includes('.tmp-')), []);
    assert.equal(stateWeights(state).sha256, sha(weights));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('.state metadata is validated after the CRC: iteration "ten", a negative seen or a bad optimizer type is an error naming the field', async () => {
  const dir = tmp();
  try {
    const f = await detectorFixture(dir, 2);
    const bk = join(dir, 'bk');
    assert.equal(runCli(trainArgs(f, bk, '--max-batches', '1')).status, 0);
    const state = join(bk, 'tiny_last.state');
    const { meta, tensors } = readTensorFile(state);
    const inputs = new Map<string, TensorFileInput>([...tensors].map(([k, e]) => [k, e]));
    for (const [field, value, pattern] of [
      ['iteration', 'ten', /training state field 'iteration' is "ten", expected a non-negative integer/],
      ['seen', -4, /training state field 'seen' is -4, expected a non-negative integer/],
      ['optimizer', { type: 'rmsprop', stepCount: 1, slots: [] }, /training state field 'optimizer\.type' is "rmsprop"/],
    ] as const) {
      const bad = join(dir, `bad-${field}.state`);
      await writeTensorFile(bad, { ...(meta as object), [field]: value }, inputs);
      const io = captureIO();
      const code = await detectorTrain(trainArgs(f, join(dir, 'bk2'), '--resume', bad, '--max-batches', '2').slice(2), io);
      assert.equal(code, 1, `${field}: ${io.stdout()}`);
      assert.match(io.stderr(), pattern);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kill -9 during training, three times at different moments: every resume succeeds and leaves a consistent pair and no temporary file', async () => {
  const dir = tmp();
  try {
    const f = await detectorFixture(dir, 40);
    const bk = join(dir, 'bk');
    const state = join(bk, 'tiny_last.state');
    const weights = join(bk, 'tiny_last.weights');
    for (const [k, after] of [3, 9, 17].entries()) {
      const args = existsSync(state) ? trainArgs(f, bk, '--resume', state) : trainArgs(f, bk);
      // Killed right after its `after`-th progress line (each iteration saves: the kill lands in or between writes).
      const r = await runCliKilled(args, 60000, { killOn: new RegExp(`^${after}/40: loss`, 'm') });
      assert.ok(r.killed || r.status === 0, `run ${k}: ${r.stderr}`);
      assert.ok(existsSync(state), `run ${k}: a state was written`);
    }
    const last = runCli(trainArgs(f, bk, '--resume', state, '--max-batches', '40'));
    assert.equal(last.status, 0, last.stderr);
    assert.match(last.stdout, /stopped at iteration 40 \(max_batches\)/);
    assert.equal(stateWeights(state).sha256, sha(weights), 'the pair agrees');
    assert.deepEqual(readdirSync(bk).filter((n) => n.includes('.tmp-')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
