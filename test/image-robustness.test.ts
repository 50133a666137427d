// One bad image must not cost a training run or an evaluation, and no image may cost the machine:
//   a JPEG with extraneous bytes before a marker loads (stb_image's tolerance; libjpeg only warns);
//   SVG and other non-raster inputs are refused; a header asking for more pixels than the limit is
//   refused before any pixel is decoded (a 122-byte SVG reached 4.2 GB), and --max-pixels moves the
//   limit; a 2000×4 image letterboxes (and augments) instead of failing with a message naming no file;
//   `data check` decodes every image and names the ones that fail; `detector train` and `detector map`
//   skip an undecodable image with a one-line note and a count, and stop at it under --strict; the
//   loader's replacement of a skipped image is the same with worker threads as without.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

import { crc32 } from '../src/nn/checkpoint.js';
import { Rng } from '../src/tensor/random.js';
import { augmentSample } from '../src/yolo/data/augment.js';
import { ImageDecodeError, letterboxImage, loadImage } from '../src/yolo/data/image.js';
import { BatchLoader, loadBatchDirect, type LoaderOptions } from '../src/yolo/data/loader.js';
import { loadDetectionData } from '../src/yolo/data/labels.js';
import { detectorFixture, REPO_ROOT, runCli } from './helpers/detector-fixture.js';

const DOG = join(REPO_ROOT, 'data', 'dog.jpg');

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tsgrad-img-'));
}

/** A PNG whose header (IHDR) claims width × height, with a few bytes of pixel data. */
function pngHeader(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(16))), chunk('IEND', Buffer.alloc(0))]);
}

test('a JPEG with extraneous bytes before a marker loads, with the pixels of the intact file', async () => {
  const dir = tmp();
  try {
    const dog = readFileSync(DOG);
    const sos = dog.indexOf(Buffer.from([0xff, 0xda]));
    const file = join(dir, 'extra.jpg');
    writeFileSync(file, Buffer.concat([dog.subarray(0, sos), Buffer.from([1, 2, 3]), dog.subarray(sos)]));
    const im = await loadImage(file);
    const ref = await loadImage(DOG);
    assert.equal(im.width, ref.width);
    assert.deepEqual(im.data, ref.data);
    const cut = join(dir, 'cut.jpg');
    writeFileSync(cut, dog.subarray(0, 40000));
    await assert.rejects(loadImage(cut), /cannot decode image .*cut\.jpg/, 'a truncated JPEG is still an error');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an SVG (whatever its name) is refused, and a header over the pixel limit is refused before decoding; maxPixels moves the limit', async () => {
  const dir = tmp();
  try {
    const svg = join(dir, 'bomb.jpg');
    writeFileSync(svg, '<svg xmlns="http://www.w3.org/2000/svg" width="16000" height="16000"><rect width="1" height="1"/></svg>');
    await assert.rejects(loadImage(svg), (e: unknown) => e instanceof ImageDecodeError && /bomb\.jpg: svg is not an image format tsgrad reads \(jpeg, png, gif, webp, tiff\)/.test((e as Error).message));
    const huge = join(dir, 'huge.png');
    writeFileSync(huge, pngHeader(100000, 100000));
    const t0 = performance.now();
    await assert.rejects(loadImage(huge), /image .*huge\.png is 100000x100000 = 10000000000 pixels, more than the limit of 67108864 .*--max-pixels/);
    assert.ok(performance.now() - t0 < 2000);
    const small = join(dir, 'small.png');
    await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 10, g: 20, b: 30 } } }).png().toFile(small);
    await assert.rejects(loadImage(small, { maxPixels: 100 }), /64x64 = 4096 pixels, more than the limit of 100/);
    assert.equal((await loadImage(small, { maxPixels: 4096 })).width, 64);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a 2000x4 image letterboxes into 64x64 and goes through every augmentation mode', async () => {
  const dir = tmp();
  try {
    const file = join(dir, 'wide.png');
    await sharp({ create: { width: 2000, height: 4, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toFile(file);
    const im = await loadImage(file);
    const lb = letterboxImage(im, 64, 64);
    assert.deepEqual([lb.info.newW, lb.info.newH], [64, 1]);
    for (const mode of ['letterbox', 'resize', 'detection', 'region'] as const) {
      const r = augmentSample(im, [{ cls: 0, x: 0.5, y: 0.5, w: 0.5, h: 0.9 }], { mode, width: 64, height: 64 }, new Rng(3));
      assert.equal(r.image.data.length, 3 * 64 * 64, mode);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tsgrad data check decodes every image: a damaged one and an SVG are reported as list:line with the reason (exit 1), --strict stops', async () => {
  const dir = tmp();
  try {
    const f = await detectorFixture(dir);
    writeFileSync(f.trainImages[1]!, 'garbage, not a JPEG');
    writeFileSync(f.trainImages[2]!, '<svg xmlns="http://www.w3.org/2000/svg" width="9000" height="9000"></svg>');
    const r = runCli(['data', 'check', f.dataFile]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /decoded 2 of 4 images \(2 do not decode\)/);
    assert.match(r.stdout, /train\.txt:2: cannot decode image .*000001\.jpg: /);
    assert.match(r.stdout, /train\.txt:3: cannot decode image .*000002\.jpg: svg is not an image format/);
    const strict = runCli(['data', 'check', f.dataFile, '--strict']);
    assert.equal(strict.status, 1);
    assert.match(strict.stderr, /cannot decode image .*000001\.jpg/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tsgrad detector train skips an undecodable image with a note and a count (exit 0); --strict stops naming it (exit 1)', async () => {
  const dir = tmp();
  try {
    const f = await detectorFixture(dir, 3);
    writeFileSync(f.trainImages[2]!, 'garbage');
    const r = runCli(['detector', 'train', f.dataFile, f.cfgFile, '--backup', join(dir, 'bk'), '--workers', '1', '--no-augment', '--chart', 'none']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.match(/note: skipping an image that does not decode/g)?.length, 1, 'one note per bad image');
    assert.match(r.stdout, /note: .*cannot decode image .*000002\.jpg/);
    assert.match(r.stdout, /stopped at iteration 3 .*; 1 image skipped \(they do not decode\)/);
    const strict = runCli(['detector', 'train', f.dataFile, f.cfgFile, '--backup', join(dir, 'bk2'), '--workers', '1', '--no-augment', '--chart', 'none', '--strict']);
    assert.equal(strict.status, 1);
    assert.match(strict.stderr, /data loader: batch \d+ slot \d+ \(.*000002\.jpg\): cannot decode image/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tsgrad detector map skips an undecodable valid image with a note and leaves it out of the evaluation; --strict exits 1', async () => {
  const dir = tmp();
  try {
    const f = await detectorFixture(dir);
    const valid = loadDetectionData(f.dataFile, 'valid').dataset.items;
    writeFileSync(valid[0]!.image, 'garbage');
    const r = runCli(['detector', 'map', f.dataFile, f.cfgFile, f.weightsFile]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /note: skipping an image that does not decode \(1 so far; --strict stops instead\): cannot decode image/);
    assert.match(r.stdout, /detector map: 1 images /);
    assert.match(r.stdout, /1 image skipped because they do not decode/);
    const strict = runCli(['detector', 'map', f.dataFile, f.cfgFile, f.weightsFile, '--strict']);
    assert.equal(strict.status, 1);
    assert.match(strict.stderr, /cannot decode image/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the loader gives a skipped slot the next decodable item, the same with 2 worker threads as in-thread, and reports each bad image once', async () => {
  const dir = tmp();
  try {
    const f = await detectorFixture(dir);
    writeFileSync(f.trainImages[1]!, 'garbage');
    writeFileSync(f.trainImages[2]!, 'more garbage');
    const items = loadDetectionData(f.dataFile, 'train').dataset.items;
    const skipped: string[] = [];
    const o: LoaderOptions = { items, batchSize: 4, seed: 2, width: 32, height: 32, augment: { mode: 'letterbox' }, undecodable: 'skip', onSkip: (image) => skipped.push(image), workers: 2 };
    const loader = new BatchLoader(o);
    try {
      for (let b = 0; b < 3; b++) {
        const got = await loader.next();
        const ref = await loadBatchDirect({ ...o, onSkip: () => undefined }, b);
        assert.deepEqual(got.paths, ref.paths, `batch ${b} paths`);
        assert.deepEqual(got.images, ref.images, `batch ${b} pixels`);
        assert.ok(!got.paths.includes(f.trainImages[1]!) && !got.paths.includes(f.trainImages[2]!));
      }
      assert.deepEqual([...new Set(skipped)].sort(), [f.trainImages[1]!, f.trainImages[2]!].sort());
      assert.equal(skipped.length, 2, 'each bad image reported once');
      assert.equal(loader.skipped, 2);
    } finally {
      await loader.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
