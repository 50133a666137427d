// Inputs that were accepted and misread, now refused with the message the user needs:
//   a key given twice in a .data file (the later line silently won); `darknet dump` and `detector test`
//   with [net] batch=0 or subdivisions=0.5 (make-weights refused them, inference ignored them); a
//   negative number for a numeric option (parseArgs called it "ambiguous"); check-refs with an unknown
//   --device (a crash) or an empty folder ("0 passed", exit 0); --partial N without a weights file
//   (ignored); calc_anchors on labels with boxes below a pixel (printed a zero anchor, which a [region]
//   layer refuses); label numbers in hex (0x1 read as 1).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import '../src/index.js';
import { darknetCommand } from '../src/cli/darknet.js';
import { detectorCommand } from '../src/cli/detector.js';
import { labelPathFor, loadDetectionData, parseDataConfigText, parseLabelLine } from '../src/yolo/data/labels.js';
import { parseAnchors } from '../src/yolo/anchors.js';
import { captureIO, TINY_CFG } from './helpers/fixtures.js';
import { detectorFixture, runCli } from './helpers/detector-fixture.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tsgrad-val-'));
}

test('a key given twice in a .data file is an error naming both lines (library and data check)', async () => {
  assert.throws(() => parseDataConfigText('classes = 2\ntrain = a.txt\n# note\ntrain = b.txt\n', 'x.data'), /x\.data:4: key 'train' given twice \(first at line 2\)/);
  const dir = tmp();
  try {
    const f = await detectorFixture(dir);
    writeFileSync(f.dataFile, `${readFileSync(f.dataFile, 'utf8')}classes = 3\n`);
    const r = runCli(['data', 'check', f.dataFile]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /synth\.data:\d+: key 'classes' given twice \(first at line 1\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('darknet dump and detector test refuse the [net] values make-weights refuses (batch=0, subdivisions=0.5)', async () => {
  const dir = tmp();
  try {
    const f = await detectorFixture(dir);
    for (const [name, text, pattern] of [
      ['batch0', TINY_CFG.replace('batch=1', 'batch=0'), /batch0\.cfg:2: \[net\]: batch=0 must be >= 1/],
      ['half', TINY_CFG.replace('batch=1', 'batch=1\nsubdivisions=0.5'), /half\.cfg:3: \[net\]: subdivisions='0\.5' is not an integer/],
    ] as const) {
      const cfg = join(dir, `${name}.cfg`);
      writeFileSync(cfg, text);
      const io1 = captureIO();
      assert.equal(await darknetCommand(['dump', '--cfg', cfg, '--seed', '1', '--image', f.trainImages[0]!, '--out', join(dir, 'dump')], io1), 1);
      assert.match(io1.stderr(), pattern);
      const io2 = captureIO();
      assert.equal(await detectorCommand(['test', f.dataFile, cfg, f.weightsFile, f.trainImages[0]!, '--out', join(dir, 'p.png')], io2), 1);
      assert.match(io2.stderr(), pattern);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a negative number for a numeric option gets the range message and exit 2, not parseArgs\' "ambiguous"', async () => {
  const dir = tmp();
  try {
    const f = await detectorFixture(dir);
    for (const [argv, pattern] of [
      [['test', f.dataFile, f.cfgFile, f.weightsFile, f.trainImages[0]!, '--width', '-5'], /--width must be in 1\.\.65536, got -5/],
      [['test', f.dataFile, f.cfgFile, f.weightsFile, f.trainImages[0]!, '--thresh', '-0.5'], /--thresh must be a number in \[0, 1\], got '-0\.5'/],
      [['train', f.dataFile, f.cfgFile, '--max-batches', '-3'], /--max-batches must be in 1\.\.1000000000000, got -3/],
    ] as const) {
      const io = captureIO();
      assert.equal(await detectorCommand([...argv], io), 2, io.stderr());
      assert.match(io.stderr(), pattern);
      assert.doesNotMatch(io.stderr(), /ambiguous/);
    }
    const r = runCli(['data', 'synth', '--out', join(dir, 's'), '--train', '-3', '--valid', '1']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--train must be in 0\.\.1000000000, got -3/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('check-refs --device nonsense is a usage error (exit 2); a folder without cases is "no cases" with exit 1', () => {
  const dir = tmp();
  try {
    const bad = runCli(['check-refs', dir, '--device', 'nonsense']);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /--device: unknown device 'nonsense'/);
    const empty = runCli(['check-refs', dir]);
    assert.equal(empty.status, 1, empty.stdout);
    assert.match(empty.stderr, /no cases: .* holds no \*\.json reference case/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('detector train --partial N without a weights file is a usage error', async () => {
  const dir = tmp();
  try {
    const f = await detectorFixture(dir);
    const io = captureIO();
    assert.equal(await detectorCommand(['train', f.dataFile, f.cfgFile, '--partial', '2', '--backup', join(dir, 'bk')], io), 2);
    assert.match(io.stderr(), /--partial N loads the first N layers of a weights file: give the \[weights\] argument/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('calc_anchors leaves boxes below a pixel out (reported as label:line) and never prints a zero anchor', async () => {
  const dir = tmp();
  try {
    const f = await detectorFixture(dir);
    const items = loadDetectionData(f.dataFile, 'train').dataset.items;
    // Sub-pixel boxes at 416x416 everywhere but in the first image.
    for (const it of items.slice(1)) writeFileSync(labelPathFor(it.image), '0 0.5 0.5 0.0001 0.0001\n1 0.3 0.3 0.0002 0.5\n');
    const io = captureIO();
    assert.equal(await detectorCommand(['calc_anchors', f.dataFile, '--num', '1'], io), 0, io.stderr());
    assert.match(io.stderr(), /warning: 6 boxes are smaller than a pixel at 416x416 and left out of the anchors:/);
    assert.match(io.stderr(), /labels\/train\/000001\.txt:1: box 0\.0416x0\.0416 pixels/);
    const line = /^anchors = (.*)$/m.exec(io.stdout())![1]!;
    for (const a of parseAnchors(line)) assert.ok(a.w > 0 && a.h > 0, line);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('label numbers in hex (and Infinity) are malformed, as Darknet reads only decimals', () => {
  assert.match(parseLabelLine('0 0x1 0.5 0.2 0.2', 2) as string, /malformed number '0x1' \(expected a decimal number\)/);
  assert.match(parseLabelLine('0 0.5 0.5 0x0.2 0.2', 2) as string, /malformed number/);
  assert.match(parseLabelLine('0 0.5 0.5 Infinity 0.2', 2) as string, /malformed number 'Infinity'/);
  assert.match(parseLabelLine('0x1 0.5 0.5 0.2 0.2', 2) as string, /malformed class id '0x1'/);
  assert.deepEqual(parseLabelLine('1 .5 5e-1 0.2 2E-1', 2), { cls: 1, x: 0.5, y: 0.5, w: 0.2, h: 0.2 });
});
