// `detector train` and `classifier train` as processes: the iteration lines of a log (--log-every,
// --quiet), the status line on a terminal, the header's numbers as the cfg wrote them, Ctrl-C (checkpoint,
// resume command, exit 130), and classifier train's --resume/--stop-after/--set/--learning-rate/--width.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { readCfgFile } from '../src/yolo/darknet/cfg.js';
import { makeWeightsBytes } from '../src/yolo/darknet/generate.js';
import { generateSynthDataset } from '../src/yolo/data/synth.js';
import { BIN, HAVE_PTY, REPO_ROOT, tempDir, tinyClassifierCfg, tinyRegionCfg, tsgrad, tsgradAsync, tsgradOnTerminal, writeFile } from './helpers/cli.js';

const dir = tempDir();
const det = await generateSynthDataset({ outDir: join(dir, 'det'), train: 4, valid: 2, classes: 2, size: 32, seed: 6, maxObjects: 2 });
const cls = await generateSynthDataset({ outDir: join(dir, 'cls'), train: 6, valid: 2, classes: 2, size: 32, seed: 6, kind: 'classification' });
const detCfg = writeFile(dir, 'tinydet.cfg', tinyRegionCfg({ max_batches: 3 }));
const clsCfg = writeFile(dir, 'tinycls.cfg', tinyClassifierCfg({ max_batches: 4 }));
const common = ['--workers', '0', '--chart', 'none', '--no-augment'];

/** The iteration lines ("k/N: loss ...") of some output. */
function iterationLines(out: string): string[] {
  return out.split('\n').filter((l) => /^\s*\d+\/\d+: loss /.test(l));
}

/** k → printed loss of each iteration line. */
function losses(out: string): Map<number, string> {
  return new Map(iterationLines(out).map((l) => [Number(/^\s*(\d+)\//.exec(l)![1]), /loss (\S+),/.exec(l)![1]!]));
}

test('in a log detector train prints one line per iteration, --log-every N every N-th and the last, --quiet none; the header shows lr as the cfg wrote it', async () => {
  const [all, every, quiet] = await Promise.all([
    tsgradAsync(['detector', 'train', det.dataFile, detCfg, '--backup', join(dir, 'b1'), ...common]),
    tsgradAsync(['detector', 'train', det.dataFile, detCfg, '--backup', join(dir, 'b2'), '--log-every', '2', ...common]),
    tsgradAsync(['detector', 'train', det.dataFile, detCfg, '--backup', join(dir, 'b3'), '--quiet', ...common]),
  ]);
  for (const r of [all, every, quiet]) {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^training .*tinydet\.cfg on cpu: .*lr 0\.002 \(constant\), momentum 0\.9, decay 0\.0005$/m);
    assert.doesNotMatch(r.stdout, /0\.00200000|0\.899999|0\.000500000/);
    assert.match(r.stdout, /^stopped at iteration 3 \(max_batches\)/m);
    assert.ok(!r.stdout.includes('\r') && !r.stderr.includes('\r'), 'no carriage return in a log');
  }
  assert.deepEqual(iterationLines(all.stdout).map((l) => l.split(':')[0]), ['1/3', '2/3', '3/3']);
  assert.deepEqual(iterationLines(every.stdout).map((l) => l.split(':')[0]), ['2/3', '3/3']);
  assert.deepEqual(iterationLines(quiet.stdout), []);
});

test('on a terminal detector train redraws one status line (\\r) with the ETA and prints no iteration lines', { skip: !HAVE_PTY && 'no `script` command to give the process a terminal' }, () => {
  const r = tsgradOnTerminal(['detector', 'train', det.dataFile, detCfg, '--backup', join(dir, 'b4'), ...common]);
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /\r\[#+\.*\] 1\/3 33% ETA \d+s \| loss \d+\.\d+, avg \d+\.\d+ \| lr 0\.002 \| [\d.]+ s\/it, [\d.]+ img\/s\x1b\[K/);
  assert.match(r.stdout, /\r\[#{20}\] 3\/3 100% /);
  assert.equal(iterationLines(r.stdout.replace(/\r[^\n]*?\x1b\[K/g, '')).length, 0, 'no per-iteration lines on a terminal');
  assert.match(r.stdout, /stopped at iteration 3 \(max_batches\)/);
});

test('Ctrl-C during detector train writes the checkpoint, prints the command that resumes and exits 130; that command resumes', async () => {
  const cfg = writeFile(dir, 'long.cfg', tinyRegionCfg({ max_batches: 400 }));
  const backup = join(dir, 'b-int');
  const child = spawn(process.execPath, [BIN, 'detector', 'train', det.dataFile, cfg, '--backup', backup, '--save-every', '1000', '--seed', '3', ...common], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let sent = false;
  child.stderr.on('data', (d: Buffer) => void (err += d.toString()));
  const code = await new Promise<number | null>((res) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!sent && /^\s*2\/400: /m.test(out)) sent = child.kill('SIGINT');
    });
    child.on('close', (c) => res(c));
  });
  assert.ok(sent, `the run ended before it could be interrupted:\n${out}\n${err}`);
  assert.equal(code, 130, `${out}\n${err}`);
  assert.match(out, /^interrupt: stopping after the current iteration and writing a checkpoint/m);
  const stopped = /^stopped at iteration (\d+) \(interrupted\)/m.exec(out);
  assert.ok(stopped, out);
  const at = Number(stopped[1]);
  const state = join(backup, 'long_last.state');
  assert.ok(existsSync(state) && existsSync(join(backup, 'long_last.weights')));
  const resume = /^resume with: (.*)$/m.exec(out)?.[1];
  assert.equal(resume, `tsgrad detector train ${det.dataFile} ${cfg} --resume ${state} --backup ${backup} --save-every 1000 --seed 3 --workers 0 --chart none --no-augment`);
  const r = tsgrad([...resume!.split(' ').slice(1), '--stop-after', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`resuming at iteration ${at} `));
  assert.match(r.stdout, new RegExp(`^stopped at iteration ${at + 1} \\(stop_after\\)`, 'm'));
});

test('classifier train takes --stop-after, --resume, --set, --learning-rate, --width/--height; the resumed run continues the exact loss sequence', async () => {
  const opts = ['--learning-rate', '0.005', '--set', 'burn_in=0', '--set', 'momentum=0.8', '--width', '64', '--height', '64', ...common];
  const [full, first] = await Promise.all([
    tsgradAsync(['classifier', 'train', cls.dataFile, clsCfg, '--backup', join(dir, 'c-full'), ...opts]),
    tsgradAsync(['classifier', 'train', cls.dataFile, clsCfg, '--backup', join(dir, 'c-part'), '--stop-after', '2', ...opts]),
  ]);
  assert.equal(full.code, 0, full.stderr);
  assert.match(full.stdout, /^training classifier .*64x64, iteration 0 → 4, lr 0\.005 \(constant\)$/m);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^stopped at iteration 2 \(stop_after\)/m);
  const state = join(dir, 'c-part', 'tinycls_last.state');
  assert.ok(existsSync(state));
  const rest = tsgrad(['classifier', 'train', cls.dataFile, clsCfg, '--backup', join(dir, 'c-part'), '--resume', state, ...opts]);
  assert.equal(rest.code, 0, rest.stderr);
  assert.match(rest.stdout, /resuming at iteration 2 \(seen 4\)/);
  assert.match(rest.stdout, /^stopped at iteration 4 \(max_batches\)/m);
  const a = losses(full.stdout);
  const b = losses(rest.stdout);
  assert.deepEqual([...b.keys()], [3, 4]);
  assert.deepEqual([b.get(3), b.get(4)], [a.get(3), a.get(4)], `${full.stdout}\n${rest.stdout}`);
  const bad = tsgrad(['classifier', 'train', cls.dataFile, clsCfg, '--resume', join(dir, 'b1', 'tinydet_last.state')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error: .*tinydet_last\.state: not a tsgrad classifier training state$/m);
});

test("classifier predict takes Darknet's <data> <cfg> <weights> <image> and names the classes from the data file", () => {
  const weights = join(dir, 'cls.weights');
  writeFileSync(weights, makeWeightsBytes(readCfgFile(clsCfg), 2));
  const image = firstImage(join(dir, 'cls', 'valid.list'));
  const r = tsgrad(['classifier', 'predict', cls.dataFile, clsCfg, weights, image, '-t', '2']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n').slice(1);
  assert.equal(lines.length, 2);
  for (const l of lines) assert.match(l, /^ *\d+\.\d\d%: (circle|square)$/);
  const old = tsgrad(['classifier', 'predict', clsCfg, weights, image]);
  assert.equal(old.code, 0, old.stderr);
  assert.match(old.stdout, /^ *\d+\.\d\d%: [01]$/m);
});

/** The first image of a list file (paths relative to the list's folder). */
function firstImage(list: string): string {
  const first = readFileSync(list, 'utf8').split('\n')[0]!;
  return first.startsWith('/') ? first : join(list, '..', first);
}
