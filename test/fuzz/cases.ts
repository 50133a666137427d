// The damaged inputs of the fuzzer (fuzz.ts), one generator per kind, each a pure function of its
// random stream: it writes the damaged files into a fresh folder and returns the `tsgrad` command line
// that reads them. Kinds:
//   cfg      a tiny [region] cfg with a value replaced (0, -1, 2^31 - 1, 1e9, 20001, '0.5', 'abc', ...),
//            a line deleted, doubled or swapped, a section added, the text cut or garbage inserted;
//            then make-weights, dump or detector test on it
//   weights  its weights cut, extended, bit-flipped, with NaN / Inf / 3e38 values or a damaged header;
//            then detector test or detector map
//   image    an image cut, bit-flipped, with bytes inserted, replaced by SVG, text, nothing, a PNG header
//            claiming 10^10 pixels, or a 2000x4 strip; then detector test or data check
//   labels   label, .data or .names files with hex, NaN, negative or huge numbers, missing or extra
//            fields, binary garbage, repeated or missing keys; then data check, calc_anchors or map
//   state    a training state cut, bit-flipped, or with its metadata or tensor table changed and the CRC
//            recomputed (so only the validation after the CRC can catch it); then a resume

import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { readTensorFile, writeTensorFile, type TensorFileInput } from '../../src/nn/checkpoint.js';
import type { Rng } from '../../src/tensor/random.js';
import type { DetectorFixture } from '../helpers/detector-fixture.js';

export const FUZZ_KINDS = ['cfg', 'weights', 'image', 'labels', 'state'] as const;
export type FuzzKind = (typeof FUZZ_KINDS)[number];

export interface FuzzContext {
  /** Where each case gets its own folder. */
  work: string;
  fixture: DetectorFixture;
  /** A .state written by one training iteration of the fixture's cfg. */
  state: string;
  /** A 2000×4 PNG. */
  wideImage: string;
}

export interface FuzzCase {
  kind: FuzzKind;
  /** What was damaged, for the report. */
  what: string;
  argv: string[];
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)]!;

function folder(ctx: FuzzContext, kind: string, k: number): string {
  const d = join(ctx.work, `${kind}-${k}`);
  mkdirSync(d, { recursive: true });
  return d;
}

const EXTREMES = ['0', '-1', '1', '2', '3', '2147483647', '2147483648', '1000000000', '20001', '100000', '0.5', 'abc', '1e9', '-0', '65536', '7', '.1', 'linear', 'leaky'];
const SECTIONS = ['[net]', '[convolutional]', '[maxpool]', '[region]', '[route]', '[reorg]', '[connected]', '[dropout]', '[softmax]', '[yolo]', '[cost]', '[avgpool]', '[local]', '[crop]', '[detection]'];

function mutateText(rng: Rng, text: string): { text: string; what: string } {
  const lines = text.split('\n');
  const keyLines = lines.map((l, i) => (/^[a-z_]+\s*=/.test(l) ? i : -1)).filter((i) => i >= 0);
  switch (rng.int(7)) {
    case 0:
    case 1: {
      const i = pick(rng, keyLines);
      const key = lines[i]!.split('=')[0]!;
      const v = rng.int(4) === 0 ? String(rng.int(200)) : pick(rng, EXTREMES);
      lines[i] = `${key}=${v}`;
      return { text: lines.join('\n'), what: `line ${i + 1}: ${key}=${v}` };
    }
    case 2: {
      const i = rng.int(lines.length);
      const removed = lines.splice(i, 1)[0];
      return { text: lines.join('\n'), what: `line ${i + 1} deleted (${removed})` };
    }
    case 3: {
      const i = rng.int(lines.length);
      const j = rng.int(lines.length);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return { text: lines.join('\n'), what: `lines ${i + 1} and ${j + 1} swapped` };
    }
    case 4: {
      const i = rng.int(lines.length);
      const s = pick(rng, SECTIONS);
      lines.splice(i, 0, s, ...(rng.int(2) === 0 ? [`stride=${pick(rng, EXTREMES)}`] : []));
      return { text: lines.join('\n'), what: `${s} inserted at line ${i + 1}` };
    }
    case 5: {
      const at = rng.int(text.length);
      return { text: text.slice(0, at), what: `cut at byte ${at}` };
    }
    default: {
      const at = rng.int(text.length);
      const junk = Array.from({ length: 1 + rng.int(12) }, () => String.fromCharCode(rng.int(256))).join('');
      return { text: text.slice(0, at) + junk + text.slice(at), what: `${junk.length} random bytes at ${at}` };
    }
  }
}

function cfgCase(rng: Rng, ctx: FuzzContext, k: number): FuzzCase {
  const d = folder(ctx, 'cfg', k);
  const m = mutateText(rng, readFileSync(ctx.fixture.cfgFile, 'utf8'));
  const cfg = join(d, 'mutant.cfg');
  writeFileSync(cfg, m.text);
  const f = ctx.fixture;
  const argv = pick(rng, [
    ['darknet', 'make-weights', '--cfg', cfg, '--seed', '1', '--out', join(d, 'w.weights')],
    ['darknet', 'dump', '--cfg', cfg, '--seed', '2', '--image', f.trainImages[0]!, '--out', join(d, 'dump')],
    ['detector', 'test', f.dataFile, cfg, f.weightsFile, f.trainImages[1]!, '--out', join(d, 'p.png')],
  ]);
  return { kind: 'cfg', what: m.what, argv };
}

function damageBytes(rng: Rng, bytes: Uint8Array, headerBytes: number): { bytes: Uint8Array; what: string } {
  const b = Uint8Array.from(bytes);
  const dv = new DataView(b.buffer);
  switch (rng.int(6)) {
    case 0: {
      const at = rng.int(b.length);
      return { bytes: b.subarray(0, at), what: `cut to ${at} of ${b.length} bytes` };
    }
    case 1: {
      const extra = 1 + rng.int(64);
      return { bytes: Uint8Array.from([...b, ...Array.from({ length: extra }, () => rng.int(256))]), what: `${extra} bytes appended` };
    }
    case 2: {
      const n = 1 + rng.int(16);
      for (let i = 0; i < n; i++) b[rng.int(b.length)] ^= 1 << rng.int(8);
      return { bytes: b, what: `${n} bits flipped` };
    }
    case 3: {
      const v = pick(rng, [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3e38, -3e38, 1e30]);
      const n = 1 + rng.int(b.length >> 3);
      for (let i = 0; i < n; i++) dv.setFloat32(headerBytes + 4 * rng.int((b.length - headerBytes) >> 2), v, true);
      return { bytes: b, what: `${n} values set to ${v}` };
    }
    case 4: {
      const field = rng.int(3);
      dv.setInt32(field * 4, pick(rng, [-1, 0, 1, 2, 1001, 2147483647, -2147483648]), true);
      return { bytes: b, what: `header int ${field} changed` };
    }
    default: {
      const at = rng.int(b.length);
      const n = 1 + rng.int(32);
      return { bytes: Uint8Array.from([...b.subarray(0, at), ...Array.from({ length: n }, () => rng.int(256)), ...b.subarray(at)]), what: `${n} bytes inserted at ${at}` };
    }
  }
}

function weightsCase(rng: Rng, ctx: FuzzContext, k: number): FuzzCase {
  const d = folder(ctx, 'weights', k);
  const f = ctx.fixture;
  const m = damageBytes(rng, readFileSync(f.weightsFile), 20);
  const w = join(d, 'damaged.weights');
  writeFileSync(w, m.bytes);
  const argv = rng.int(3) === 0 ? ['detector', 'map', f.dataFile, f.cfgFile, w] : ['detector', 'test', f.dataFile, f.cfgFile, w, f.trainImages[2]!, '--out', join(d, 'p.jpg')];
  return { kind: 'weights', what: m.what, argv };
}

function imageCase(rng: Rng, ctx: FuzzContext, k: number): FuzzCase {
  const d = folder(ctx, 'image', k);
  const f = ctx.fixture;
  const source = readFileSync(f.trainImages[rng.int(f.trainImages.length)]!);
  let bytes: Uint8Array;
  let what: string;
  switch (rng.int(8)) {
    case 0:
      bytes = new TextEncoder().encode(`<svg xmlns="http://www.w3.org/2000/svg" width="${pick(rng, [100, 16000, 100000])}" height="16000"></svg>`);
      what = 'an SVG';
      break;
    case 1:
      bytes = new Uint8Array(0);
      what = 'empty';
      break;
    case 2:
      bytes = new TextEncoder().encode('not an image at all\n');
      what = 'text';
      break;
    case 3: {
      const sos = source.indexOf(Buffer.from([0xff, 0xda]));
      bytes = Uint8Array.from([...source.subarray(0, sos), 1, 2, 3, ...source.subarray(sos)]);
      what = 'extraneous bytes before SOS';
      break;
    }
    case 4:
      bytes = readFileSync(ctx.wideImage);
      what = 'a 2000x4 PNG';
      break;
    default: {
      const m = damageBytes(rng, source, 2);
      bytes = m.bytes;
      what = m.what;
    }
  }
  const image = join(d, 'damaged.jpg');
  writeFileSync(image, bytes);
  if (rng.int(3) === 0) {
    // The damaged image in a copy of the data set, checked by `data check`.
    const data = join(d, 'data');
    cpSync(join(f.dir, 'data'), data, { recursive: true });
    writeFileSync(join(data, 'images', 'train', '000001.jpg'), bytes);
    return { kind: 'image', what, argv: ['data', 'check', join(data, 'synth.data')] };
  }
  return { kind: 'image', what, argv: ['detector', 'test', f.dataFile, f.cfgFile, f.weightsFile, image, '--out', join(d, 'p.png')] };
}

const LABEL_FIELDS = ['0x1', 'NaN', '-1', '1e309', '0.5', '2', '99999999999', '1,5', '', 'Infinity', '0.0000001', '+0.3', '.', '1e-9'];

function labelsCase(rng: Rng, ctx: FuzzContext, k: number): FuzzCase {
  const d = folder(ctx, 'labels', k);
  const data = join(d, 'data');
  cpSync(join(ctx.fixture.dir, 'data'), data, { recursive: true });
  const dataFile = join(data, 'synth.data');
  let what: string;
  switch (rng.int(4)) {
    case 0:
    case 1: {
      const file = join(data, 'labels', rng.int(3) === 0 ? 'valid' : 'train', `00000${rng.int(2)}.txt`);
      const fields = Array.from({ length: rng.int(4) === 0 ? rng.int(8) : 5 }, () => (rng.int(2) === 0 ? pick(rng, LABEL_FIELDS) : rng.uniform().toFixed(3)));
      const line = rng.int(8) === 0 ? String.fromCharCode(...Array.from({ length: 12 }, () => rng.int(256))) : fields.join(' ');
      writeFileSync(file, `${readFileSync(file, 'utf8')}${line}\n`);
      what = `label line '${line}'`;
      break;
    }
    case 2: {
      const extra = pick(rng, ['classes = 0', 'classes = -1', 'classes = abc', 'classes = 9', 'train = train.txt', 'train =', 'names = none.names', '= x', 'valid = /dev/zero', 'junk']);
      writeFileSync(dataFile, `${readFileSync(dataFile, 'utf8')}${extra}\n`);
      what = `.data line '${extra}'`;
      break;
    }
    default: {
      const names = join(data, 'synth.names');
      const v = pick(rng, ['', 'a\n\nb\n', 'only-one\n', 'a\nb\nc\n', '\u0000\u0001\n']);
      writeFileSync(names, v);
      what = `.names ${JSON.stringify(v)}`;
    }
  }
  const f = ctx.fixture;
  const argv = pick(rng, [['data', 'check', dataFile], ['detector', 'calc_anchors', dataFile, '--num', '2'], ['detector', 'map', dataFile, f.cfgFile, f.weightsFile], ['data', 'check', dataFile, '--split', 'valid', '--strict']]);
  return { kind: 'labels', what, argv };
}

const META_DAMAGE: readonly [string, unknown][] = [
  ['iteration', 'ten'],
  ['iteration', -3],
  ['iteration', 1e300],
  ['seen', 2.5],
  ['seed', null],
  ['optimizer', { type: 'sgd', stepCount: 1, slots: [{ index: 999, key: 'velocity' }] }],
  ['optimizer', { type: 'sgd', stepCount: -1, slots: [] }],
  ['optimizer', 'sgd'],
  ['netRng', { seed: 1, counter: 0, used: 9 }],
  ['history', { losses: [{ iteration: 'x' }], maps: [] }],
  ['history', null],
  ['avg', { avg: 'high', count: 1 }],
  ['bestMap', 7],
  ['weights', { file: '../../etc/passwd', sha256: 'x' }],
  ['kind', 'something else'],
  ['version', 2],
  ['layersSha256', 'abc'],
];

async function stateCase(rng: Rng, ctx: FuzzContext, k: number): Promise<FuzzCase> {
  const d = folder(ctx, 'state', k);
  const state = join(d, 'damaged.state');
  let what: string;
  if (rng.int(3) === 0) {
    const m = damageBytes(rng, readFileSync(ctx.state), 24);
    writeFileSync(state, m.bytes);
    what = m.what;
  } else {
    const { meta, tensors } = readTensorFile(ctx.state);
    const inputs = new Map<string, TensorFileInput>();
    for (const [name, e] of tensors) inputs.set(name, e);
    const m = { ...(meta as Record<string, unknown>) };
    if (rng.int(4) === 0) {
      // A tensor with another shape (same dtype), under a valid CRC.
      const names = [...tensors.keys()];
      const name = pick(rng, names);
      const e = tensors.get(name)!;
      inputs.set(name, { dtype: e.dtype, shape: [e.data.length + 1], data: new (e.data.constructor as Float32ArrayConstructor)(e.data.length + 1) } as TensorFileInput);
      what = `tensor '${name}' resized`;
    } else {
      const [field, value] = pick(rng, META_DAMAGE);
      m[field] = value;
      what = `meta ${field} = ${JSON.stringify(value)}`;
    }
    await writeTensorFile(state, m, inputs);
  }
  const f = ctx.fixture;
  return {
    kind: 'state',
    what,
    argv: ['detector', 'train', f.dataFile, f.cfgFile, '--resume', state, '--backup', join(d, 'backup'), '--max-batches', '2', '--workers', '0', '--no-augment', '--chart', 'none'],
  };
}

/** The k-th case of `kind` from `rng` (its files written under ctx.work). */
export async function makeCase(kind: FuzzKind, rng: Rng, ctx: FuzzContext, k: number): Promise<FuzzCase> {
  switch (kind) {
    case 'cfg':
      return cfgCase(rng, ctx, k);
    case 'weights':
      return weightsCase(rng, ctx, k);
    case 'image':
      return imageCase(rng, ctx, k);
    case 'labels':
      return labelsCase(rng, ctx, k);
    case 'state':
      return stateCase(rng, ctx, k);
  }
}
