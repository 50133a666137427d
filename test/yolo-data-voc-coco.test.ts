import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cocoToDataset, convertCoco, datasetToCoco, readCocoJson, validateCoco, type CocoJson } from '../src/yolo/data/coco.js';
import { makeImage, saveImage } from '../src/yolo/data/image.js';
import { loadDetectionData, type DatasetItem, type LabelBox } from '../src/yolo/data/labels.js';
import { convertVoc, parseVocXml, vocBoxToYolo, vocToXml, yoloBoxToVoc, type VocAnnotation } from '../src/yolo/data/voc.js';
import { tempDir } from './yolo-data-fixtures.js';

const tmp = tempDir('voccoco');
after(() => tmp.cleanup());

function close(a: LabelBox[], b: LabelBox[], tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: ${a.length} vs ${b.length} boxes`);
  a.forEach((x, i) => {
    const y = b[i]!;
    assert.equal(x.cls, y.cls, `${what} box ${i} class`);
    for (const k of ['x', 'y', 'w', 'h'] as const) assert.ok(Math.abs(x[k] - y[k]) <= tol, `${what} box ${i} ${k}: ${x[k]} vs ${y[k]}`);
  });
}

describe('VOC XML', () => {
  it('parses size and objects, with difficult/truncated flags', () => {
    const xml = `<annotation><folder>VOC2007</folder><filename>000005.jpg</filename>
      <size><width>500</width><height>375</height><depth>3</depth></size>
      <object><name>chair</name><truncated>0</truncated><difficult>1</difficult>
        <bndbox><xmin>263</xmin><ymin>211</ymin><xmax>324</xmax><ymax>339</ymax></bndbox></object>
    </annotation>`;
    const a = parseVocXml(xml, 'x.xml');
    assert.equal(a.filename, '000005.jpg');
    assert.deepEqual([a.width, a.height], [500, 375]);
    assert.deepEqual(a.objects, [{ name: 'chair', difficult: true, truncated: false, xmin: 263, ymin: 211, xmax: 324, ymax: 339 }]);
  });

  it('converts 1-based corners as voc_label.py does', () => {
    const b = vocBoxToYolo({ xmin: 263, ymin: 211, xmax: 324, ymax: 339 }, 500, 375);
    assert.ok(Math.abs(b.x - ((263 + 324) / 2 - 1) / 500) < 1e-15);
    assert.ok(Math.abs(b.h - 128 / 375) < 1e-15);
    const back = yoloBoxToVoc(b, 500, 375);
    assert.ok(Math.abs(back.xmin - 263) < 1e-9 && Math.abs(back.ymax - 339) < 1e-9);
  });

  it('names the file and line of malformed XML, and the object of a bad box', () => {
    assert.throws(() => parseVocXml('<annotation>\n<size>\n</annotation>', 'bad.xml'), /bad\.xml:\d+: malformed XML/);
    assert.throws(
      () => parseVocXml('<annotation><object><name>dog</name><bndbox><xmin>a</xmin><ymin>1</ymin><xmax>2</xmax><ymax>3</ymax></bndbox></object></annotation>', 'o.xml'),
      /o\.xml: object 1 <xmin> is not a number/,
    );
  });
});

describe('VOC → YOLO-txt', () => {
  const root = join(tmp.dir, 'VOCdevkit', 'VOC2007');
  const truth = new Map<string, LabelBox[]>();
  before(async () => {
    for (const d of ['Annotations', 'JPEGImages', 'ImageSets/Main']) mkdirSync(join(root, d), { recursive: true });
    const names = ['cat', 'dog', 'person'];
    const specs: { id: string; w: number; h: number; boxes: LabelBox[]; extra?: VocAnnotation['objects']; noSize?: boolean }[] = [
      { id: '000001', w: 40, h: 30, boxes: [{ cls: 0, x: 0.5, y: 0.5, w: 0.5, h: 0.4 }, { cls: 2, x: 0.25, y: 0.3, w: 0.2, h: 0.2 }] },
      {
        id: '000002',
        w: 32,
        h: 48,
        boxes: [{ cls: 1, x: 0.4, y: 0.6, w: 0.25, h: 0.5 }],
        extra: [
          { name: 'horse', difficult: false, truncated: false, xmin: 2, ymin: 2, xmax: 10, ymax: 10 },
          { name: 'dog', difficult: true, truncated: false, xmin: 5, ymin: 5, xmax: 20, ymax: 20 },
        ],
      },
      { id: '000003', w: 24, h: 24, boxes: [{ cls: 2, x: 0.5, y: 0.5, w: 0.5, h: 0.5 }], noSize: true },
    ];
    for (const s of specs) {
      await saveImage(makeImage(s.w, s.h, 3, 0.3), join(root, 'JPEGImages', `${s.id}.jpg`));
      const objects: VocAnnotation['objects'] = s.boxes.map((b) => ({ name: names[b.cls]!, difficult: false, truncated: false, ...yoloBoxToVoc(b, s.w, s.h) }));
      objects.push(...(s.extra ?? []));
      writeFileSync(join(root, 'Annotations', `${s.id}.xml`), vocToXml({ filename: `${s.id}.jpg`, width: s.noSize ? 0 : s.w, height: s.noSize ? 0 : s.h, objects }));
      truth.set(s.id, s.boxes);
    }
    writeFileSync(join(root, 'ImageSets', 'Main', 'train.txt'), '000001\n000002\n');
    writeFileSync(join(root, 'ImageSets', 'Main', 'val.txt'), '000003\n');
    writeFileSync(join(tmp.dir, 'three.names'), 'cat\ndog\nperson\n');
  });

  it('round-trips boxes through VOC XML into a strict-valid YOLO data set, skipping difficult and unknown objects', async () => {
    const out = join(tmp.dir, 'voc-out');
    const r = await convertVoc({ train: [{ root, set: 'train' }], valid: [{ root, set: 'val' }], outDir: out, names: ['cat', 'dog', 'person'] });
    assert.equal(r.train.images, 2);
    assert.equal(r.train.boxes, 3);
    assert.equal(r.train.skippedDifficult, 1);
    assert.equal(r.train.skippedUnknownClass, 1);
    assert.equal(r.valid!.images, 1);
    const train = loadDetectionData(r.written.dataFile, 'train', { strict: true });
    assert.deepEqual(train.dataset.names, ['cat', 'dog', 'person']);
    assert.equal(train.dataset.items.length, 2);
    close(train.dataset.items[0]!.boxes, truth.get('000001')!, 1e-6, '000001');
    close(train.dataset.items[1]!.boxes, truth.get('000002')!, 1e-6, '000002');
    assert.match(train.dataset.items[0]!.image, /voc-out\/images\/train\/VOC2007_000001\.jpg$/);
    assert.ok(lstatSync(train.dataset.items[0]!.image).isSymbolicLink());
    const valid = loadDetectionData(r.written.dataFile, 'valid', { strict: true });
    close(valid.dataset.items[0]!.boxes, truth.get('000003')!, 1e-6, '000003 (size read from the image)');
  });

  it('copies images on request', async () => {
    const out = join(tmp.dir, 'voc-copy');
    const r = await convertVoc({ train: [{ root, set: 'val' }], outDir: out, names: ['cat', 'dog', 'person'], imageMode: 'copy' });
    const items = loadDetectionData(r.written.dataFile, 'train', { strict: true }).dataset.items;
    assert.ok(lstatSync(items[0]!.image).isFile());
  });
});

describe('COCO', () => {
  const coco: CocoJson = {
    images: [
      { id: 7, file_name: 'a.jpg', width: 40, height: 20 },
      { id: 9, file_name: 'b.jpg', width: 30, height: 30 },
    ],
    categories: [
      { id: 90, name: 'toothbrush' },
      { id: 1, name: 'person' },
      { id: 5, name: 'airplane' },
    ],
    annotations: [
      { id: 1, image_id: 7, category_id: 5, bbox: [10, 5, 20, 10] },
      { id: 2, image_id: 7, category_id: 90, bbox: [30, 10, 20, 20] },
      { id: 3, image_id: 9, category_id: 1, bbox: [0, 0, 30, 30], iscrowd: 1 },
      { id: 4, image_id: 9, category_id: 1, bbox: [3, 3, 0, 5] },
    ],
  };

  it('orders classes by category id, clips boxes, skips crowd and empty boxes', () => {
    const { dataset, report } = cocoToDataset(coco, '/imgs', 'inst.json');
    assert.deepEqual(dataset.names, ['person', 'airplane', 'toothbrush']);
    close(dataset.items[0]!.boxes, [{ cls: 1, x: 0.5, y: 0.5, w: 0.5, h: 0.5 }, { cls: 2, x: 35 / 40, y: 0.75, w: 10 / 40, h: 0.5 }], 1e-12, 'a.jpg');
    assert.deepEqual(dataset.items[1]!.boxes, []);
    assert.equal(report.skippedCrowd, 1);
    assert.equal(report.skippedInvalid, 1);
    assert.match(report.issues[0]!.toString(), /inst\.json: annotations\[3\] \(image 9\) has an empty box/);
  });

  it('names the file and entry of a malformed document', () => {
    assert.throws(() => validateCoco({ images: [], annotations: {}, categories: [] }, 'c.json'), /c\.json: 'annotations' must be an array/);
    assert.throws(
      () => validateCoco({ images: [{ id: 1, file_name: 'x', width: 0, height: 3 }], annotations: [], categories: [] }, 'c.json'),
      /c\.json: images\[0\] needs/,
    );
    const bad = join(tmp.dir, 'broken.json');
    writeFileSync(bad, '{"images": [');
    assert.throws(() => readCocoJson(bad), /broken\.json: malformed JSON/);
  });

  it('round-trips a data set through COCO JSON into a strict-valid YOLO data set', async () => {
    const imgs = join(tmp.dir, 'coco-images');
    const items: DatasetItem[] = [];
    const sizes = [[40, 30], [24, 36], [32, 32]] as const;
    for (let i = 0; i < sizes.length; i++) {
      const [w, h] = sizes[i]!;
      const image = join(imgs, `img${i}.jpg`);
      await saveImage(makeImage(w, h, 3, 0.6), image);
      items.push({ image, width: w, height: h, boxes: [{ cls: i % 2, x: 0.5, y: 0.4, w: 0.3, h: 0.25 }, { cls: 1, x: 0.2, y: 0.7, w: 0.1, h: 0.2 }].slice(0, i + 1) });
    }
    const json = join(tmp.dir, 'instances.json');
    writeFileSync(json, JSON.stringify(datasetToCoco({ names: ['ball', 'cube'], items }, imgs)));
    const out = join(tmp.dir, 'coco-out');
    const r = await convertCoco({ train: { json, images: imgs }, valid: { json, images: imgs }, outDir: out, imageMode: 'copy' });
    assert.equal(r.train.boxes, 1 + 2 + 2);
    for (const split of ['train', 'valid'] as const) {
      const loaded = loadDetectionData(r.written.dataFile, split, { strict: true });
      assert.deepEqual(loaded.dataset.names, ['ball', 'cube']);
      loaded.dataset.items.forEach((it, i) => close(it.boxes, items[i]!.boxes, 1e-6, `${split} img${i}`));
    }
  });
});
