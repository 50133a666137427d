import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Rng } from '../src/tensor/random.js';
import { saveImage } from '../src/yolo/data/image.js';
import type { DatasetItem } from '../src/yolo/data/labels.js';
import { BatchLoader, loadBatchDirect, planBatch, type Batch, type LoaderOptions } from '../src/yolo/data/loader.js';
import { rectImage, tempDir } from './yolo-data-fixtures.js';

const tmp = tempDir('loader');
after(() => tmp.cleanup());
const items: DatasetItem[] = [];

before(async () => {
  const rng = new Rng(42);
  for (let i = 0; i < 7; i++) {
    const w = 40 + rng.int(30);
    const h = 30 + rng.int(30);
    const rects = Array.from({ length: 1 + (i % 3) }, (_, k) => {
      const x0 = rng.int(w - 12);
      const y0 = rng.int(h - 12);
      return { x0, y0, x1: x0 + 6 + rng.int(6), y1: y0 + 6 + rng.int(6), rgb: [rng.uniform(), rng.uniform(), rng.uniform()] as [number, number, number], cls: k };
    });
    const { image, boxes } = rectImage(w, h, rects);
    const file = join(tmp.dir, `img${i}.${i % 2 === 0 ? 'png' : 'jpg'}`);
    await saveImage(image, file);
    items.push({ image: file, boxes });
  }
});

function options(extra: Partial<LoaderOptions> = {}): LoaderOptions {
  return {
    items,
    batchSize: 3,
    seed: 5,
    augment: { mode: 'detection', jitter: 0.2, hue: 0.1, saturation: 1.5, exposure: 1.5 },
    sizeForBatch: (b) => (b % 2 === 0 ? 48 : 32),
    maxBoxes: 4,
    ...extra,
  };
}

function sameBatch(got: Batch, want: Batch, what: string): void {
  assert.equal(got.index, want.index, `${what}: index`);
  assert.deepEqual([got.width, got.height, got.batchSize, got.maxBoxes], [want.width, want.height, want.batchSize, want.maxBoxes], `${what}: shape`);
  assert.deepEqual(got.paths, want.paths, `${what}: paths`);
  assert.deepEqual(got.counts, want.counts, `${what}: counts`);
  assert.deepEqual(got.truths, want.truths, `${what}: truths`);
  assert.ok(Buffer.from(got.images.buffer).equals(Buffer.from(want.images.buffer)), `${what}: image bytes differ`);
}

describe('batch plan', () => {
  it('visits every item exactly once per epoch, in a seeded order', () => {
    const o = options();
    const positions = Array.from({ length: 7 }, (_, b) => planBatch(o, b).map((s) => s.item)).flat();
    for (let e = 0; e < 3; e++) assert.deepEqual([...positions.slice(e * 7, e * 7 + 7)].sort(), [0, 1, 2, 3, 4, 5, 6], `epoch ${e}`);
    assert.notDeepEqual(positions.slice(0, 7), positions.slice(7, 14), 'epochs are reshuffled');
    assert.deepEqual(planBatch(options({ shuffle: false }), 2).map((s) => s.item), [6, 0, 1]);
    const seeds = new Set(positions.map((_, p) => planBatch(o, Math.floor(p / 3))[p % 3]!.seed));
    assert.equal(seeds.size, 21, 'every sample position has its own seed');
  });
});

describe('BatchLoader', () => {
  it('with 2 workers delivers the same batches as the in-thread reference, then shuts down', async () => {
    const o = options({ workers: 2, prefetch: 2 });
    const loader = new BatchLoader(o);
    try {
      for (let b = 0; b < 5; b++) {
        const got = await loader.next();
        const want = await loadBatchDirect(o, b);
        assert.deepEqual([got.width, got.images.length, got.truths.length], [b % 2 === 0 ? 48 : 32, 3 * 3 * got.width * got.height, 3 * 4 * 5]);
        sameBatch(got, want, `batch ${b}`);
      }
    } finally {
      await loader.close();
    }
    assert.equal(loader.liveWorkers, 0);
    await assert.rejects(loader.next(), /after close/);
  });

  it('gives the same batches with 0 workers, 1 worker, and when resuming at a later batch', async () => {
    const reference = await loadBatchDirect(options(), 4);
    for (const workers of [0, 1]) {
      const loader = new BatchLoader(options({ workers, startBatch: 3, prefetch: 1 }));
      try {
        const b3 = await loader.next();
        assert.equal(b3.index, 3);
        sameBatch(await loader.next(), reference, `workers=${workers}`);
      } finally {
        await loader.close();
      }
    }
  });

  it('puts the augmented truths in the region layout (x, y, w, h, class) with counts', async () => {
    const b = await loadBatchDirect(options(), 0);
    for (let s = 0; s < b.batchSize; s++) {
      const n = b.counts[s]!;
      for (let k = 0; k < b.maxBoxes; k++) {
        const o = (s * b.maxBoxes + k) * 5;
        if (k < n) {
          const [x, y, w, h, c] = b.truths.subarray(o, o + 5);
          assert.ok(x! > 0 && x! < 1 && y! > 0 && y! < 1 && w! > 0 && h! > 0 && Number.isInteger(c!), `slot ${s} box ${k}`);
        } else {
          assert.deepEqual([...b.truths.subarray(o, o + 5)], [0, 0, 0, 0, 0]);
        }
      }
    }
  });

  for (const workers of [2, 0]) {
    it(`fails with one clear error naming the bad image, after delivering the batches before it (workers=${workers})`, async () => {
      const bad = join(tmp.dir, 'broken.jpg');
      writeFileSync(bad, 'not a jpeg at all');
      const o = options({ items: [items[0]!, items[1]!, items[2]!, { image: bad, boxes: [] }], shuffle: false, workers, prefetch: 3 });
      const expected = /data loader: batch 1 slot 0 \(.*broken\.jpg\): cannot decode image .*broken\.jpg/;
      await assert.rejects(loadBatchDirect(o, 1), expected);
      const loader = new BatchLoader(o);
      sameBatch(await loader.next(), await loadBatchDirect(o, 0), 'batch 0');
      const first = await loader.next().then(
        () => assert.fail('expected an error'),
        (e: unknown) => e as Error,
      );
      assert.match(first.message, expected);
      const second = await loader.next().then(
        () => assert.fail('expected an error'),
        (e: unknown) => e as Error,
      );
      assert.equal(second, first, 'later calls get the same error');
      await loader.close();
      assert.equal(loader.liveWorkers, 0);
    });
  }

  it('does not keep the process alive when the consumer forgets close()', () => {
    const script = `
      import { BatchLoader } from ${JSON.stringify(new URL('../src/yolo/data/loader.js', import.meta.url).href)};
      const items = ${JSON.stringify(items)};
      const loader = new BatchLoader({ items, batchSize: 2, seed: 1, width: 32, height: 32, augment: { mode: 'letterbox' }, workers: 2 });
      const b = await loader.next();
      console.log('got', b.index);
    `;
    const file = join(tmp.dir, 'forget-close.mjs');
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 20000 });
    assert.equal(r.signal, null, 'the child process hung and was killed');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /got 0/);
  });

  it('rejects a pending next() when closed, and close() is idempotent', async () => {
    const loader = new BatchLoader(options({ workers: 1, prefetch: 0 }));
    const pending = loader.next();
    const closing = loader.close();
    await assert.rejects(pending, /closed while a batch was pending/);
    await closing;
    await loader.close();
    assert.equal(loader.liveWorkers, 0);
  });
});
