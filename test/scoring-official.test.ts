// Detection scores agree with the official scorers on every fixture of test/fixtures/scoring (written by
// scripts/scoring-reference.py; expected.json holds what pycocotools' COCOeval and the VOC devkit's
// voc_eval.py give): per-class AP and mAP under voc10, voc07 (the devkit's recall points),
// voc07-darknet, coco101 and coco, COCOeval's 12-number summary and its mAP per IoU threshold, and
// TP/FP/FN at a confidence threshold, each within 1e-12, from the library and from
// `tsgrad detector map --gt ... --results ...` (a spawned process for the first run of each fixture and
// format, the command in-process for the others, to keep the file fast). The COCO files are read as COCOeval reads them (crowd,
// area), the VOC files as voc_eval.py does (difficult, 1-based corners).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { detectorMap } from '../src/cli/detector-eval.js';
import { COCO_SUMMARY_KEYS, type ApDefinition, type Evaluation } from '../src/yolo/map.js';
import { evaluateScoringSet, readCocoScoring, readVocScoring } from '../src/yolo/scoring-files.js';
import { captureIO } from './helpers/fixtures.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
const FIXTURES = join(repoRoot, 'test', 'fixtures', 'scoring');
const EPS = 1e-12;

type Num = number | null;
interface Counts {
  classes: { tp: number; fp: number; fn: number }[];
  tp: number;
  fp: number;
  fn: number;
}
interface DefinitionExpected {
  ap: Num[];
  map: Num;
  mapPerIou?: Num[];
  summary?: Num[];
}
interface Run {
  iou: number;
  thresh: number;
  maxDets?: number;
  definitions: Record<string, DefinitionExpected>;
  counts: Counts;
}
interface Expected {
  case: string;
  classes: string[];
  detections: number;
  voc: Run[];
  coco: Run[];
}

/** The numbers of one evaluation as the CLI's --json writes them (NaN as null). */
interface Scored {
  definition: string;
  map: Num;
  mapPerIou: Num[];
  coco?: Record<string, Num>;
  tp: number;
  fp: number;
  fn: number;
  classes: { ap: Num; tp: number; fp: number; fn: number }[];
}

const VOC_DEFINITIONS: ApDefinition[] = ['voc10', 'voc07', 'voc07-darknet'];
const COCO_DEFINITIONS: ApDefinition[] = ['coco101', 'coco'];

function cases(): { dir: string; expected: Expected }[] {
  return readdirSync(FIXTURES)
    .sort()
    .map((name) => ({ dir: join(FIXTURES, name), expected: JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as Expected }));
}

function asScored(e: Evaluation): Scored {
  const nul = (v: number): Num => (Number.isNaN(v) ? null : v);
  return {
    definition: e.definition,
    map: nul(e.map),
    mapPerIou: e.mapPerIou.map(nul),
    ...(e.coco !== undefined ? { coco: Object.fromEntries(COCO_SUMMARY_KEYS.map((k) => [k, nul(e.coco![k])])) } : {}),
    tp: e.tp,
    fp: e.fp,
    fn: e.fn,
    classes: e.classes.map((c) => ({ ap: nul(c.ap), tp: c.tp, fp: c.fp, fn: c.fn })),
  };
}

/** Largest |actual − expected| over the pairs (both null counts as 0; one null is a failure). */
function maxDiff(pairs: [Num | undefined, Num][], what: string): number {
  let worst = 0;
  pairs.forEach(([a, e], k) => {
    if (e === null) {
      assert.equal(a, null, `${what}[${k}]: expected no value (no positives), got ${a}`);
      return;
    }
    assert.equal(typeof a, 'number', `${what}[${k}]: expected ${e}, got ${a}`);
    worst = Math.max(worst, Math.abs((a as number) - e));
  });
  assert.ok(worst <= EPS, `${what}: differs from the official scorer by ${worst}`);
  return worst;
}

/** Compares one evaluation with a run's expectations; returns the largest difference. */
function compare(s: Scored, run: Run, where: string): number {
  const want = run.definitions[s.definition]!;
  const what = `${where} ${s.definition}`;
  let worst = maxDiff(
    s.classes.map((c, k) => [c.ap, want.ap[k]!]),
    `${what} per-class AP`,
  );
  worst = Math.max(worst, maxDiff([[s.map, want.map]], `${what} mAP`));
  if (want.mapPerIou !== undefined) worst = Math.max(worst, maxDiff(s.mapPerIou.map((v, t) => [v, want.mapPerIou![t]!]), `${what} mAP per IoU`));
  if (want.summary !== undefined) {
    assert.ok(s.coco !== undefined, `${what}: no COCO summary`);
    worst = Math.max(worst, maxDiff(COCO_SUMMARY_KEYS.map((k, i) => [s.coco![k], want.summary![i]!]), `${what} summary`));
  }
  assert.deepEqual(
    s.classes.map((c) => [c.tp, c.fp, c.fn]),
    run.counts.classes.map((c) => [c.tp, c.fp, c.fn]),
    `${what}: per-class TP/FP/FN at score >= ${run.thresh}`,
  );
  assert.deepEqual([s.tp, s.fp, s.fn], [run.counts.tp, run.counts.fp, run.counts.fn], `${what}: TP/FP/FN`);
  return worst;
}

function vocArgs(dir: string): { set: { root: string; set: string }; results: string; names: string[] } {
  const names = readFileSync(join(dir, 'classes.names'), 'utf8').trim().split('\n');
  return { set: { root: join(dir, 'voc'), set: 'test' }, results: join(dir, 'voc', 'results'), names };
}

test('the library agrees with voc_eval.py and COCOeval on every fixture, definition, summary number and TP/FP/FN count (1e-12)', (t) => {
  const table: string[] = [];
  for (const { dir, expected } of cases()) {
    const voc = vocArgs(dir);
    const vocSet = readVocScoring(voc.set, voc.results, voc.names);
    const cocoSet = readCocoScoring(join(dir, 'coco-instances.json'), join(dir, 'coco-results.json'));
    assert.equal(cocoSet.detections.length, expected.detections, expected.case);
    assert.deepEqual(cocoSet.names, expected.classes);
    for (const run of expected.voc) {
      for (const definition of VOC_DEFINITIONS) {
        const e = evaluateScoringSet(vocSet, { definition, iouThreshold: run.iou, confThreshold: run.thresh });
        const d = compare(asScored(e), run, `${expected.case} voc@${run.iou}`);
        table.push(`${expected.case} ${definition}@${run.iou}: ${d}`);
      }
    }
    for (const run of expected.coco) {
      for (const definition of COCO_DEFINITIONS) {
        const e = evaluateScoringSet(cocoSet, { definition, iouThreshold: run.iou, confThreshold: run.thresh, maxDetections: run.maxDets! });
        const d = compare(asScored(e), run, `${expected.case} coco@${run.iou} maxDets ${run.maxDets}`);
        table.push(`${expected.case} ${definition}@${run.iou}/${run.maxDets}: ${d}`);
      }
    }
  }
  t.diagnostic(`max |library − official|: ${table.join('; ')}`);
});

/** Runs the tsgrad binary; resolves with its exit code, stdout and stderr. */
function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'tsgrad.js'), ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

test('tsgrad detector map --gt --results agrees with voc_eval.py and COCOeval on every fixture and run, spawned and in-process (1e-12)', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'tsgrad-scoring-'));
  try {
    const jobs: { args: string[]; json: string; run: Run; where: string; definitions: ApDefinition[]; spawned: boolean }[] = [];
    for (const { dir, expected } of cases()) {
      expected.voc.forEach((run, k) => {
        const json = join(tmp, `${expected.case}-voc-${k}.json`);
        const args = ['--gt', `${join(dir, 'voc')}:test`, '--results', join(dir, 'voc', 'results'), '--names', join(dir, 'classes.names')];
        jobs.push({ args, json, run, where: `${expected.case} voc@${run.iou}`, definitions: VOC_DEFINITIONS, spawned: k === 0 });
      });
      expected.coco.forEach((run, k) => {
        const json = join(tmp, `${expected.case}-coco-${k}.json`);
        const args = ['--gt', join(dir, 'coco-instances.json'), '--results', join(dir, 'coco-results.json'), '--max-dets', String(run.maxDets)];
        jobs.push({ args, json, run, where: `${expected.case} coco@${run.iou} maxDets ${run.maxDets}`, definitions: COCO_DEFINITIONS, spawned: k === 0 });
      });
    }
    const table: string[] = [];
    let spawned = 0;
    const worker = async (): Promise<void> => {
      for (let job = jobs.shift(); job !== undefined; job = jobs.shift()) {
        const argv = [...job.args, '--ap', job.definitions.join(','), '--iou', String(job.run.iou), '--thresh', String(job.run.thresh), '--json', job.json];
        if (job.spawned) {
          const res = await runCli(['detector', 'map', ...argv]);
          assert.equal(res.code, 0, `${job.where}: ${res.stderr}`);
          spawned++;
        } else {
          const io = captureIO();
          assert.equal(await detectorMap(argv, io), 0, `${job.where}: ${io.stderr()}`);
        }
        const doc = JSON.parse(readFileSync(job.json, 'utf8')) as { evaluations: Scored[] };
        for (const definition of job.definitions) {
          const e = doc.evaluations.find((x) => x.definition === definition);
          assert.ok(e !== undefined, `${job.where}: no ${definition} evaluation`);
          table.push(`${job.where} ${definition}: ${compare(e, job.run, `${job.where} (CLI)`)}`);
        }
      }
    };
    await Promise.all([worker(), worker()]);
    assert.equal(spawned, 2 * cases().length);
    t.diagnostic(`max |CLI − official|: ${table.sort().join('; ')}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('the CLI report prints the COCOeval summary lines and names the box rule; the issue example (20×10 truth, 17×10 detection) scores AP 0.8', async () => {
  const dir = join(FIXTURES, 'iou-at-thresholds');
  const res = await runCli(['detector', 'map', '--gt', join(dir, 'coco-instances.json'), '--results', join(dir, 'coco-results.json'), '--ap', 'coco']);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /boxes compared as COCO \[x, y, w, h\] boxes/);
  assert.match(res.stdout, /detections kept per image and class: 100 \(coco\)/);
  assert.match(res.stdout, /^ +1 +issue +1 +1 +0 +80\.00%/m);
  assert.match(res.stdout, /^ {2}AP IoU=0\.50:0\.95 area=all {4}maxDets=100 {2}0\.5930$/m);
  assert.match(res.stdout, /^ {2}AP IoU=0\.50:0\.95 area=medium maxDets=100 {2}-$/m);
  assert.match(res.stdout, /^ {2}AR IoU=0\.50:0\.95 area=all {4}maxDets=1 {4}0\.6750$/m);
});

test('a COCO truth without an area field is measured by its box; bad result entries are errors naming the file and entry', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tsgrad-scoring-'));
  try {
    const gt = join(tmp, 'gt.json');
    const res = join(tmp, 'res.json');
    const doc = (area?: number): unknown => ({
      images: [{ id: 7, file_name: 'a.jpg', width: 200, height: 200 }],
      annotations: [{ id: 1, image_id: 7, category_id: 3, bbox: [0, 0, 40, 40], iscrowd: 0, ...(area === undefined ? {} : { area }) }],
      categories: [{ id: 3, name: 'thing' }],
    });
    writeFileSync(res, JSON.stringify([{ image_id: 7, category_id: 3, bbox: [0, 0, 40, 40], score: 0.9 }]));
    // box area 1600 is medium; an area field of 1000 makes the truth small. One exact detection has
    // COCOeval's precision 1/(1 + 2^-52) = 0.9999999999999998.
    const one = 1 / (1 + 2 ** -52);
    writeFileSync(gt, JSON.stringify(doc()));
    const byBox = evaluateScoringSet(readCocoScoring(gt, res), { definition: 'coco' }).coco!;
    assert.deepEqual([byBox.apSmall, byBox.apMedium, byBox.apLarge], [NaN, one, NaN]);
    writeFileSync(gt, JSON.stringify(doc(1000)));
    const byField = evaluateScoringSet(readCocoScoring(gt, res), { definition: 'coco' }).coco!;
    assert.deepEqual([byField.apSmall, byField.apMedium, byField.apLarge], [one, NaN, NaN]);

    writeFileSync(res, JSON.stringify([{ image_id: 8, category_id: 3, bbox: [0, 0, 4, 4], score: 0.9 }]));
    assert.throws(() => readCocoScoring(gt, res), /res\.json: \[0\] has image_id 8, not an image of .*gt\.json/);
    writeFileSync(res, JSON.stringify([{ image_id: 7, category_id: 1, bbox: [0, 0, 4, 4], score: 0.9 }]));
    assert.throws(() => readCocoScoring(gt, res), /res\.json: \[0\] has category_id 1, not a category of/);
    writeFileSync(res, JSON.stringify([{ image_id: 7, category_id: 3, bbox: [0, 0, 4], score: 0.9 }]));
    assert.throws(() => readCocoScoring(gt, res), /res\.json: \[0\] needs numeric image_id, category_id, score and bbox/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('bad VOC result lines are errors naming file:line; a missing class file is an error', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tsgrad-scoring-'));
  try {
    const voc = vocArgs(join(FIXTURES, 'duplicates-and-ties'));
    const write = (name: string, text: string): void => writeFileSync(join(tmp, `comp4_det_test_${name}.txt`), text);
    write('dup', '000001 0.9 1 1 50 50\n');
    write('tie', '000001 0.5 1 1 40 40\n000009 0.5 1 1 40 40\n');
    assert.throws(() => readVocScoring(voc.set, tmp, voc.names), /comp4_det_test_tie\.txt:2: image id 000009 is not in .*test\.txt/);
    write('tie', '000001 0.5 1 1 40\n');
    assert.throws(() => readVocScoring(voc.set, tmp, voc.names), /comp4_det_test_tie\.txt:1: expected '<image id> <score> <xmin> <ymin> <xmax> <ymax>', got 5 fields/);
    write('tie', '000001 0.5 1 1 40 x\n');
    assert.throws(() => readVocScoring(voc.set, tmp, voc.names), /comp4_det_test_tie\.txt:1: score and corners must be numbers/);
    rmSync(join(tmp, 'comp4_det_test_tie.txt'));
    assert.throws(() => readVocScoring(voc.set, tmp, voc.names), /comp4_det_test_tie\.txt: comp4 results of class "tie" not found/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
