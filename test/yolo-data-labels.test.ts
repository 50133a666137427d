import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  DataError,
  formatLabelLine,
  labelPathFor,
  loadDetectionData,
  loadDetectionList,
  parseLabelLine,
  parseLabelText,
  parseNamesText,
  readDataConfig,
} from '../src/yolo/data/labels.js';
import { readClassificationList, classFromPath } from '../src/yolo/data/classification.js';
import { tempDir } from './yolo-data-fixtures.js';

const tmp = tempDir('labels');
after(() => tmp.cleanup());

function write(rel: string, text: string): string {
  const p = join(tmp.dir, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
}

describe('label paths', () => {
  it("follows Darknet's rule: images/ → labels/, JPEGImages/ → labels/, extension → .txt", () => {
    assert.equal(labelPathFor('/d/images/train/a.jpg'), '/d/labels/train/a.txt');
    assert.equal(labelPathFor('/d/VOC2007/JPEGImages/000005.jpg'), '/d/VOC2007/labels/000005.txt');
    assert.equal(labelPathFor('/d/images/x.PNG'), '/d/labels/x.txt');
    assert.equal(labelPathFor('/d/images/x.JPEG'), '/d/labels/x.txt');
    assert.equal(labelPathFor('/d/pics/x.jpg'), '/d/pics/x.txt');
    assert.equal(labelPathFor('/d/images/images/x.jpg'), '/d/labels/images/x.txt', 'only the first images/ folder');
    assert.equal(labelPathFor('/d/myimages/x.jpg'), '/d/myimages/x.txt', 'a folder merely containing "images" is kept');
  });
});

describe('label lines', () => {
  it('accepts a valid line and formats it back', () => {
    const b = parseLabelLine('3 0.5 0.25 0.1 0.2', 5);
    assert.deepEqual(b, { cls: 3, x: 0.5, y: 0.25, w: 0.1, h: 0.2 });
    assert.equal(formatLabelLine(b as never), '3 0.500000 0.250000 0.100000 0.200000');
  });

  it('reports every kind of bad line with file:line', () => {
    const text = [
      '0 0.5 0.5 0.2 0.2',
      '0 0.5 0.5 0.2',
      'x 0.5 0.5 0.2 0.2',
      '1.5 0.5 0.5 0.2 0.2',
      '7 0.5 0.5 0.2 0.2',
      '-1 0.5 0.5 0.2 0.2',
      '0 1.2 0.5 0.2 0.2',
      '0 0.5 -0.1 0.2 0.2',
      '0 0.5 0.5 0 0.2',
      '0 0.5 0.5 0.2 -0.3',
      '0 0.5 0.5 abc 0.2',
      '',
      '2 0.1 0.9 1 1',
    ].join('\n');
    const { boxes, issues } = parseLabelText(text, 'lab.txt', 5);
    assert.equal(boxes.length, 2);
    const msgs = issues.map((i) => i.toString());
    const want: [number, RegExp][] = [
      [2, /expected 'class x y w h', got 4 fields/],
      [3, /malformed class id 'x'/],
      [4, /malformed class id '1\.5'/],
      [5, /unknown class id 7 \(classes: 0\.\.4\)/],
      [6, /unknown class id -1/],
      [7, /coordinate x=1\.2 outside \[0,1\]/],
      [8, /coordinate y=-0\.1 outside \[0,1\]/],
      [9, /width and height must be > 0, got w=0 h=0\.2/],
      [10, /width and height must be > 0/],
      [11, /malformed number 'abc'/],
    ];
    assert.equal(msgs.length, want.length, msgs.join('\n'));
    want.forEach(([line, re], i) => {
      assert.ok(msgs[i]!.startsWith(`lab.txt:${line}: `), msgs[i]);
      assert.match(msgs[i]!, re);
    });
  });
});

describe('.data and .names', () => {
  it('parses keys, resolves paths against the .data folder and takes classes from the names file', () => {
    write('cfgdir/my.names', 'cat\ndog\n\n');
    const data = write('cfgdir/my.data', '# comment\nclasses= 2\ntrain = train.txt\nvalid=/abs/valid.txt\nnames = my.names\nbackup = backup/\n');
    const cfg = readDataConfig(data);
    assert.equal(cfg.classes, 2);
    assert.equal(cfg.train, join(tmp.dir, 'cfgdir', 'train.txt'));
    assert.equal(cfg.valid, '/abs/valid.txt');
    assert.equal(cfg.names, join(tmp.dir, 'cfgdir', 'my.names'));
    const noClasses = write('cfgdir/nc.data', 'names = my.names\n');
    assert.equal(readDataConfig(noClasses).classes, 2);
  });

  it('rejects a classes count that disagrees with the names, and malformed lines, naming the file', () => {
    write('cfgdir2/a.names', 'a\nb\nc\n');
    assert.throws(() => readDataConfig(write('cfgdir2/bad.data', 'classes = 2\nnames = a.names\n')), /bad\.data: classes = 2 but .*a\.names has 3 names/);
    assert.throws(() => readDataConfig(write('cfgdir2/bad2.data', 'classes = 2\njust words\n')), /bad2\.data:2: expected 'key = value'/);
    assert.throws(() => readDataConfig(write('cfgdir2/bad3.data', 'classes = two\n')), /bad3\.data: 'classes' must be a positive integer/);
    assert.throws(() => parseNamesText('a\n\nb\n', 'n.names'), /n\.names:2: empty class name/);
  });
});

describe('loading a list', () => {
  // Layout: images/{a,b,c,d}.jpg (d missing), labels/{a,b}.txt (c's label missing).
  const setup = (): string => {
    for (const n of ['a', 'b', 'c']) write(`set/images/${n}.jpg`, 'not decoded here');
    write('set/labels/a.txt', '0 0.5 0.5 0.2 0.2\n1 0.3 0.3 0.1 0.1\n');
    write('set/labels/b.txt', '0 0.5 0.5 0.2 0.2\n5 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2\n');
    return write('set/train.txt', 'images/a.jpg\nimages/b.jpg\n\nimages/c.jpg\nimages/d.jpg\n');
  };

  it('skips bad labels and images by default and counts them', () => {
    const list = setup();
    const { items, report } = loadDetectionList(list, 2);
    assert.deepEqual(items.map((i) => i.boxes.length), [2, 1]);
    assert.equal(report.images, 2);
    assert.equal(report.boxes, 3);
    assert.equal(report.skippedLabels, 2);
    assert.equal(report.skippedImages, 2);
    const msgs = report.issues.map((i) => i.toString());
    assert.match(msgs[0]!, /labels\/b\.txt:2: unknown class id 5/);
    assert.match(msgs[1]!, /labels\/b\.txt:3: malformed line/);
    assert.match(msgs[2]!, /train\.txt:4: label file not found: .*labels\/c\.txt/);
    assert.match(msgs[3]!, /train\.txt:5: image not found: .*images\/d\.jpg/);
  });

  it('throws the first problem in strict mode', () => {
    const list = setup();
    assert.throws(
      () => loadDetectionList(list, 2, { strict: true }),
      (e: unknown) => e instanceof DataError && /labels\/b\.txt:2: unknown class id 5/.test(e.message),
    );
  });

  it('treats a missing label file as no objects when asked', () => {
    const list = setup();
    const { items, report } = loadDetectionList(list, 2, { allowMissingLabels: true });
    assert.equal(items.length, 3);
    assert.deepEqual(items[2]!.boxes, []);
    assert.equal(report.skippedImages, 1);
  });

  it('loads a split through a .data file', () => {
    setup();
    write('set/set.names', 'a\nb\n');
    const data = write('set/set.data', 'classes = 2\ntrain = train.txt\nnames = set.names\n');
    const r = loadDetectionData(data, 'train');
    assert.deepEqual(r.dataset.names, ['a', 'b']);
    assert.equal(r.dataset.items.length, 2);
    assert.throws(() => loadDetectionData(data, 'valid'), /set\.data: no 'valid' key/);
  });
});

describe('classifier lists', () => {
  it('finds the class by name in the base name only and reports misses', () => {
    const names = ['circle', 'star'];
    assert.equal(classFromPath('/x/star/000001_circle.jpg', names), 0);
    assert.match(String(classFromPath('/x/000001_square.jpg', names)), /no class name/);
    const list = write('cls/train.list', '/x/1_star.jpg\n/x/2_circle.jpg\n/x/3_circlestar.jpg\n');
    const { items, issues } = readClassificationList(list, names);
    assert.deepEqual(items.map((i) => i.cls), [1, 0]);
    assert.match(issues[0]!.toString(), /train\.list:3: several class names/);
  });
});
