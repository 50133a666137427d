import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { correctRegionBox } from '../src/yolo/box.js';
import {
  boxFromLetterbox,
  boxToLetterbox,
  cropImage,
  flipImage,
  letterboxImage,
  letterboxInfo,
  loadImage,
  makeImage,
  placeImage,
  resizeImage,
  saveImage,
  type FloatImage,
} from '../src/yolo/data/image.js';
import { colourBounds, DARKNET_DATA, rectImage, tempDir } from './yolo-data-fixtures.js';

const f = Math.fround;
const tmp = tempDir('image');
after(() => tmp.cleanup());

function oneChannel(width: number, height: number, values: number[]): FloatImage {
  return { width, height, channels: 1, data: Float32Array.from(values) };
}

/** SEMANTICS.md 9 written out per output pixel, directly from the text (no precomputed tables). */
function specResize(im: FloatImage, w: number, h: number): Float32Array {
  const part = new Float32Array(w * im.height * im.channels);
  const out = new Float32Array(w * h * im.channels);
  const ws = f((im.width - 1) / (w - 1));
  const hs = f((im.height - 1) / (h - 1));
  const at = (k: number, x: number, y: number): number => im.data[k * im.width * im.height + y * im.width + x]!;
  for (let k = 0; k < im.channels; k++) {
    for (let r = 0; r < im.height; r++) {
      for (let c = 0; c < w; c++) {
        let v: number;
        if (c === w - 1 || im.width === 1) v = at(k, im.width - 1, r);
        else {
          const sx = f(c * ws);
          const ix = Math.trunc(sx);
          const dx = f(sx - ix);
          v = f(f(f(1 - dx) * at(k, ix, r)) + f(dx * at(k, ix + 1, r)));
        }
        part[k * w * im.height + r * w + c] = v;
      }
    }
    for (let r = 0; r < h; r++) {
      const sy = f(r * hs);
      const iy = Math.trunc(sy);
      const dy = f(sy - iy);
      for (let c = 0; c < w; c++) {
        let v = f(f(1 - dy) * part[k * w * im.height + iy * w + c]!);
        if (!(r === h - 1 || im.height === 1)) v = f(v + f(dy * part[k * w * im.height + (iy + 1) * w + c]!));
        out[k * w * h + r * w + c] = v;
      }
    }
  }
  return out;
}

describe('decoding', () => {
  it('decodes every sample JPEG to 3 planes of u8/255 float32 values', async () => {
    for (const name of ['dog', 'eagle', 'giraffe', 'horses', 'person']) {
      const im = await loadImage(join(DARKNET_DATA, `${name}.jpg`));
      assert.equal(im.channels, 3);
      assert.equal(im.data.length, 3 * im.width * im.height);
      assert.ok(im.width > 100 && im.height > 100, `${name}: ${im.width}x${im.height}`);
      let sum = 0;
      for (let i = 0; i < im.data.length; i += 97) {
        const v = im.data[i]!;
        assert.ok(v >= 0 && v <= 1);
        assert.equal(v, f(Math.round(v * 255) / 255), `${name}[${i}] = ${v} is not a u8/255 value`);
        sum += v;
      }
      const mean = sum / Math.ceil(im.data.length / 97);
      assert.ok(mean > 0.1 && mean < 0.9, `${name}: mean ${mean}`);
    }
    const dog = await loadImage(join(DARKNET_DATA, 'dog.jpg'));
    assert.deepEqual([dog.width, dog.height], [768, 576]);
  });

  it('puts R, G, B in CHW planes exactly as u8/255 (PNG written by pngjs)', async () => {
    const png = new PNG({ width: 3, height: 2 });
    const rgba = [
      [255, 0, 0], [0, 255, 0], [0, 0, 255],
      [1, 2, 3], [128, 64, 32], [254, 253, 0],
    ];
    rgba.forEach(([r, g, b], i) => png.data.set([r!, g!, b!, 255], i * 4));
    const file = join(tmp.dir, 'rgb.png');
    writeFileSync(file, PNG.sync.write(png));
    const im = await loadImage(file);
    assert.deepEqual([im.width, im.height, im.channels], [3, 2, 3]);
    for (let p = 0; p < 6; p++) {
      for (let c = 0; c < 3; c++) assert.equal(im.data[c * 6 + p], f(rgba[p]![c]! / 255), `pixel ${p} channel ${c}`);
    }
  });

  it('replicates a greyscale PNG into three equal planes', async () => {
    const png = new PNG({ width: 2, height: 2, colorType: 0, inputColorType: 0, inputHasAlpha: false });
    png.data = Buffer.from([0, 100, 200, 255]);
    const file = join(tmp.dir, 'grey.png');
    writeFileSync(file, PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false }));
    const im = await loadImage(file);
    assert.equal(im.channels, 3);
    for (let c = 0; c < 3; c++) assert.deepEqual([...im.data.subarray(c * 4, c * 4 + 4)], [0, 100, 200, 255].map((v) => f(v / 255)));
  });

  it('names the file when it is missing, empty, not an image or truncated', async () => {
    await assert.rejects(loadImage(join(tmp.dir, 'missing.jpg')), /image file not found: .*missing\.jpg/);
    const empty = join(tmp.dir, 'empty.jpg');
    writeFileSync(empty, '');
    await assert.rejects(loadImage(empty), /cannot decode image .*empty\.jpg: file is empty/);
    const junk = join(tmp.dir, 'junk.jpg');
    writeFileSync(junk, 'this is not a JPEG');
    await assert.rejects(loadImage(junk), /cannot decode image .*junk\.jpg/);
    const cut = join(tmp.dir, 'cut.jpg');
    writeFileSync(cut, readFileSync(join(DARKNET_DATA, 'dog.jpg')).subarray(0, 40000));
    await assert.rejects(loadImage(cut), /cannot decode image .*cut\.jpg/);
  });
});

describe('saving', () => {
  it('PNG round trip is exact and JPEG round trip is close', async () => {
    const im = makeImage(16, 12, 3);
    for (let i = 0; i < im.data.length; i++) im.data[i] = ((i * 37) % 256) / 255;
    const png = join(tmp.dir, 'out.png');
    await saveImage(im, png);
    assert.deepEqual((await loadImage(png)).data, im.data);
    const smooth = makeImage(32, 24, 3);
    for (let c = 0; c < 3; c++) for (let y = 0; y < 24; y++) for (let x = 0; x < 32; x++) smooth.data[c * 768 + y * 32 + x] = (x + y + 10 * c) / 90;
    const jpg = join(tmp.dir, 'out.jpg');
    await saveImage(smooth, jpg, 95);
    const back = await loadImage(jpg);
    assert.deepEqual([back.width, back.height], [32, 24]);
    let worst = 0;
    for (let i = 0; i < back.data.length; i++) worst = Math.max(worst, Math.abs(back.data[i]! - smooth.data[i]!));
    assert.ok(worst < 0.05, `JPEG error ${worst}`);
  });

  it('rejects an unknown extension, naming the file', async () => {
    await assert.rejects(saveImage(makeImage(2, 2), join(tmp.dir, 'x.gif')), /x\.gif: unknown extension/);
  });
});

describe('Darknet resize_image', () => {
  it('matches hand-computed values for a row and a column', () => {
    const row = resizeImage(oneChannel(3, 1, [0, 1, 0.5]), 5, 2);
    assert.deepEqual([...row.data], [0, 0.5, 1, 0.75, 0.5, 0, 0.5, 1, 0.75, 0.5]);
    const col = resizeImage(oneChannel(1, 3, [0, 1, 0.5]), 1, 5);
    assert.deepEqual([...col.data], [0, 0.5, 1, 0.75, 0.5]);
  });

  it('equals the per-pixel spec computation bit for bit at awkward scales', () => {
    const src = makeImage(11, 7, 3);
    for (let i = 0; i < src.data.length; i++) src.data[i] = f(((i * 7919) % 255) / 255);
    for (const [w, h] of [[4, 3], [17, 13], [5, 19], [11, 7], [2, 2]] as const) {
      const got = resizeImage(src, w, h);
      const want = specResize(src, w, h);
      for (let i = 0; i < want.length; i++) assert.ok(Object.is(got.data[i], want[i]), `${w}x${h} [${i}]: ${got.data[i]} vs ${want[i]}`);
    }
  });

  it('is the identity at the same size and keeps a linear ramp linear', () => {
    const src = makeImage(9, 5, 3);
    for (let i = 0; i < src.data.length; i++) src.data[i] = f(Math.sin(i) * 0.5 + 0.5);
    assert.deepEqual(resizeImage(src, 9, 5).data, src.data);
    const ramp = oneChannel(5, 1, [0, 0.25, 0.5, 0.75, 1]);
    const up = resizeImage(ramp, 17, 1);
    for (let c = 0; c < 17; c++) assert.ok(Math.abs(up.data[c]! - c / 16) < 1e-6, `column ${c}: ${up.data[c]}`);
  });
});

describe('letterbox', () => {
  it('places dog.jpg as SEMANTICS.md 9 says: 96x72 at y=12 in 96x96, 85x64 at x=21 in 128x64', async () => {
    const dog = await loadImage(join(DARKNET_DATA, 'dog.jpg'));
    const a = letterboxImage(dog, 96, 96);
    assert.deepEqual([a.info.newW, a.info.newH, a.info.dx, a.info.dy], [96, 72, 0, 12]);
    const resized = resizeImage(dog, 96, 72);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 96; y++) {
        for (let x = 0; x < 96; x += 5) {
          const v = a.image.data[c * 9216 + y * 96 + x];
          const want = y < 12 || y >= 84 ? 0.5 : resized.data[c * 96 * 72 + (y - 12) * 96 + x];
          assert.equal(v, want, `c${c} (${x},${y})`);
        }
      }
    }
    const b = letterboxImage(dog, 128, 64);
    assert.deepEqual([b.info.newW, b.info.newH, b.info.dx, b.info.dy], [85, 64, 21, 0]);
    assert.equal(b.image.data[10 * 128 + 20], 0.5);
    assert.equal(b.image.data[10 * 128 + 106], 0.5);
    assert.notEqual(b.image.data[10 * 128 + 21], 0.5);
  });

  it('maps boxes into the letterbox and back, agreeing with correct_region_boxes', () => {
    const info = letterboxInfo(768, 576, 96, 96);
    const b = { x: 0.5, y: 0.5, w: 200 / 768, h: 100 / 576 };
    const lb = boxToLetterbox(b, info);
    assert.ok(Math.abs(lb.x - 0.5) < 1e-12 && Math.abs(lb.y - 0.5) < 1e-12);
    assert.ok(Math.abs(lb.w - 200 / 768) < 1e-12 && Math.abs(lb.h - (100 / 576) * 0.75) < 1e-12);
    const other = { x: 0.2, y: 0.9, w: 0.1, h: 0.05 };
    const there = boxToLetterbox(other, info);
    const back = boxFromLetterbox(there, info);
    const darknet = correctRegionBox(there, 768, 576, 96, 96, true);
    for (const k of ['x', 'y', 'w', 'h'] as const) {
      assert.ok(Math.abs(back[k] - other[k]) < 1e-12, `round trip ${k}`);
      assert.ok(Math.abs(darknet[k] - other[k]) < 1e-6, `correct_region_boxes ${k}: ${darknet[k]} vs ${other[k]}`);
    }
  });

  it('puts a drawn rectangle where the mapped label says (within a pixel)', () => {
    const { image, boxes } = rectImage(200, 100, [{ x0: 30, y0: 20, x1: 90, y1: 70, rgb: [1, 0, 0], cls: 0 }]);
    const { image: out, info } = letterboxImage(image, 64, 64);
    const b = boxToLetterbox(boxes[0]!, info);
    const px = colourBounds(out, 0)!;
    assert.ok(Math.abs(px.x0 - (b.x - b.w / 2) * 64) <= 1, `left ${px.x0}`);
    assert.ok(Math.abs(px.x1 - (b.x + b.w / 2) * 64) <= 1, `right ${px.x1}`);
    assert.ok(Math.abs(px.y0 - (b.y - b.h / 2) * 64) <= 1, `top ${px.y0}`);
    assert.ok(Math.abs(px.y1 - (b.y + b.h / 2) * 64) <= 1, `bottom ${px.y1}`);
  });
});

describe('crop, place, flip', () => {
  it('crop_image repeats edge pixels outside the image', () => {
    const im = oneChannel(3, 2, [1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...cropImage(im, -1, -1, 5, 4).data], [1, 1, 2, 3, 3, 1, 1, 2, 3, 3, 4, 4, 5, 6, 6, 4, 4, 5, 6, 6]);
    assert.deepEqual([...cropImage(im, 1, 1, 2, 1).data], [5, 6]);
  });

  it('place_image at the same size copies pixels to the offset and clips at the canvas edge', () => {
    const im = oneChannel(3, 2, [1, 2, 3, 4, 5, 6]);
    const canvas = makeImage(4, 3, 1, 0.5);
    placeImage(im, 3, 2, 2, 1, canvas);
    assert.deepEqual([...canvas.data], [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1, 2, 0.5, 0.5, 4, 5]);
  });

  it('flip_image mirrors every row of every plane', () => {
    const im: FloatImage = { width: 3, height: 1, channels: 2, data: Float32Array.from([1, 2, 3, 4, 5, 6]) };
    flipImage(im);
    assert.deepEqual([...im.data], [3, 2, 1, 6, 5, 4]);
  });
});
