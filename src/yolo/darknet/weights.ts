// Darknet .weights files: reader and writer (parser.c load_weights_upto / save_weights_upto).
//
// Layout (little-endian):
//   int32 major, int32 minor, int32 revision,
//   seen: uint64 when major*10+minor >= 2 and major < 1000 and minor < 1000, else int32,
//   then, per layer in cfg order, its tensors (cfg `tensors`, SEMANTICS.md 3.1):
//     [convolutional] biases[n], (BN: scales[n], rolling_mean[n], rolling_variance[n]), weights[n*c/groups*size*size]
//     [connected]     biases[out], weights[out*in], (BN: scales, rolling_mean, rolling_variance)
//     [local]         biases[out_c*out_h*out_w], weights[out_h*out_w * n * c * size * size]
//   Parameter-free layers store nothing; there is no per-layer marker, so the cfg defines the layout.
// When major > 1000 or minor > 1000 the [connected] weights are stored transposed ([in][out]); the
// reader returns them as [out][in] and the writer transposes them back, so read → write gives the
// same bytes. `dontload` / `dontloadscales` layers are skipped on read, `dontsave` layers on write,
// as Darknet does.
//
// Loaded values are plain Float32Arrays, one per tensor, in Darknet's order inside the tensor
// (conv [filter][in_channel][ky][kx], connected [output][input], local [location][filter][c][ky][kx]).

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

import { writeOutput } from '../../io/output.js';
import type { DarknetLayer, DarknetNetwork, TensorName } from './cfg-types.js';
import { DarknetWeightsError } from './errors.js';

export { DarknetWeightsError } from './errors.js';

export interface WeightsHeader {
  readonly major: number;
  readonly minor: number;
  readonly revision: number;
  /** Images seen in training (uint64 or int32 on disk, see seenBytes). */
  readonly seen: number;
}

/** The header Darknet's save_weights writes: version 0.2.0, 8-byte `seen`. */
export function defaultHeader(seen = 0): WeightsHeader {
  return { major: 0, minor: 2, revision: 0, seen };
}

/** Bytes of `seen` on disk for this version. */
export function seenBytes(h: Pick<WeightsHeader, 'major' | 'minor'>): 4 | 8 {
  return h.major * 10 + h.minor >= 2 && h.major < 1000 && h.minor < 1000 ? 8 : 4;
}

/** Header size in bytes: 12 + seenBytes. */
export function headerBytes(h: Pick<WeightsHeader, 'major' | 'minor'>): number {
  return 12 + seenBytes(h);
}

/** Darknet's rule for files whose [connected] weights are stored [input][output]. */
export function transposesConnected(h: Pick<WeightsHeader, 'major' | 'minor'>): boolean {
  return h.major > 1000 || h.minor > 1000;
}

export type WeightedLayerType = 'convolutional' | 'connected' | 'local';

/** The parameters of one layer. BN fields are null when the layer has no BN (or skipped them). */
export interface LayerWeights {
  readonly layerIndex: number;
  readonly type: WeightedLayerType;
  biases: Float32Array;
  scales: Float32Array | null;
  rollingMean: Float32Array | null;
  rollingVariance: Float32Array | null;
  weights: Float32Array;
}

export interface DarknetWeights {
  header: WeightsHeader;
  /** In layer order; only layers that have parameters (and were loaded). */
  layers: LayerWeights[];
}

export interface TensorPlacement {
  readonly name: TensorName;
  readonly count: number;
  readonly byteOffset: number;
}

export interface LayerPlacement {
  readonly layerIndex: number;
  readonly type: WeightedLayerType;
  readonly tensors: readonly TensorPlacement[];
  readonly byteOffset: number;
  readonly byteLength: number;
}

export interface WeightsLayout {
  readonly headerBytes: number;
  readonly layers: readonly LayerPlacement[];
  /** Header plus every tensor. */
  readonly totalBytes: number;
}

export interface LayoutOptions {
  /** 'load' skips dontload layers and dontloadscales BN tensors; 'save' skips dontsave layers. */
  readonly mode?: 'load' | 'save';
  /** Only layers with index < upTo (Darknet's cutoff). Default: all. */
  readonly upTo?: number;
  /** Header whose version sets the `seen` size (default: defaultHeader()). */
  readonly header?: Pick<WeightsHeader, 'major' | 'minor'>;
}

const BN_TENSORS: ReadonlySet<TensorName> = new Set(['scales', 'rollingMean', 'rollingVariance']);

function isWeighted(l: DarknetLayer): l is Extract<DarknetLayer, { type: WeightedLayerType }> {
  return l.type === 'convolutional' || l.type === 'connected' || l.type === 'local';
}

/** Where every tensor of `net` sits in a .weights file. */
export function weightsLayout(net: DarknetNetwork, options: LayoutOptions = {}): WeightsLayout {
  const mode = options.mode ?? 'load';
  const upTo = options.upTo ?? net.layers.length;
  const hb = headerBytes(options.header ?? defaultHeader());
  let offset = hb;
  const layers: LayerPlacement[] = [];
  for (const l of net.layers) {
    if (l.index >= upTo) break;
    if (!isWeighted(l)) continue;
    if (mode === 'load' ? l.common.dontload : l.common.dontsave) continue;
    const start = offset;
    const tensors: TensorPlacement[] = [];
    for (const t of l.tensors) {
      if (mode === 'load' && l.common.dontloadscales && BN_TENSORS.has(t.name)) continue;
      tensors.push({ name: t.name, count: t.count, byteOffset: offset });
      offset += t.count * 4;
    }
    layers.push({ layerIndex: l.index, type: l.type, tensors, byteOffset: start, byteLength: offset - start });
  }
  return { headerBytes: hb, layers, totalBytes: offset };
}

export interface ReadWeightsOptions {
  /** Name for messages (default `<weights>`). */
  readonly file?: string;
  /**
   * Partial load (Darknet load_weights_upto): read only the layers with index < upTo. The file may
   * then be longer than needed (e.g. a full net's weights loaded into the first layers of another cfg).
   */
  readonly upTo?: number;
  /**
   * Size of the whole file when `bytes` holds only its first part (a bounded read): the length checks
   * use it. Default: bytes.byteLength.
   */
  readonly fileSize?: number;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function readFloats(bytes: Uint8Array, byteOffset: number, count: number): Float32Array {
  if (LITTLE_ENDIAN_HOST) {
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset + byteOffset, bytes.byteOffset + byteOffset + count * 4));
  }
  const out = new Float32Array(count);
  const dv = new DataView(bytes.buffer, bytes.byteOffset + byteOffset, count * 4);
  for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}

function writeFloats(dst: Uint8Array, byteOffset: number, src: Float32Array): void {
  if (LITTLE_ENDIAN_HOST) {
    dst.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), byteOffset);
    return;
  }
  const dv = new DataView(dst.buffer, dst.byteOffset + byteOffset, src.length * 4);
  for (let i = 0; i < src.length; i++) dv.setFloat32(i * 4, src[i] as number, true);
}

/** Returns a [cols][rows] copy of a row-major [rows][cols] matrix. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c] as number;
  return t;
}

/** Reads the header (throws when the bytes are shorter than it). */
export function readWeightsHeader(bytes: Uint8Array, file = '<weights>'): WeightsHeader {
  if (bytes.byteLength < 12) {
    throw new DarknetWeightsError(file, `too short for a weights header: ${bytes.byteLength} bytes (need at least 16)`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = dv.getInt32(0, true), minor = dv.getInt32(4, true), revision = dv.getInt32(8, true);
  const sb = seenBytes({ major, minor });
  if (bytes.byteLength < 12 + sb) {
    throw new DarknetWeightsError(file, `too short for a version ${major}.${minor} header: ${bytes.byteLength} bytes (need ${12 + sb})`);
  }
  let seen: number;
  if (sb === 8) {
    const big = dv.getBigUint64(12, true);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new DarknetWeightsError(file, `header 'seen' = ${big} is not a plausible image count`);
    seen = Number(big);
  } else {
    seen = dv.getInt32(12, true);
  }
  return { major, minor, revision, seen };
}

/** Parses .weights bytes against `net`. Throws DarknetWeightsError on any size mismatch. */
export function readWeights(bytes: Uint8Array, net: DarknetNetwork, options: ReadWeightsOptions = {}): DarknetWeights {
  const file = options.file ?? '<weights>';
  const header = readWeightsHeader(bytes, file);
  const layout = weightsLayout(net, { mode: 'load', header, ...(options.upTo === undefined ? {} : { upTo: options.upTo }) });
  const actual = options.fileSize ?? bytes.byteLength;
  const floats = (layout.totalBytes - layout.headerBytes) / 4;
  const what = `${net.file}${options.upTo === undefined ? '' : ` (layers 0..${options.upTo - 1})`}`;
  if (actual < layout.totalBytes) {
    const cut = layout.layers.find((l) => l.byteOffset + l.byteLength > actual);
    const where = cut === undefined ? '' : `; the data ends inside layer ${cut.layerIndex} [${cut.type}] (bytes ${cut.byteOffset}..${cut.byteOffset + cut.byteLength})`;
    throw new DarknetWeightsError(
      file,
      `too short for ${what}: expected ${layout.totalBytes} bytes (${layout.headerBytes}-byte header + ${floats} floats), got ${actual} (${layout.totalBytes - actual} missing)${where}`,
    );
  }
  if (bytes.byteLength < layout.totalBytes) {
    throw new DarknetWeightsError(file, `only ${bytes.byteLength} of its ${actual} bytes could be read (expected ${layout.totalBytes})`);
  }
  if (options.upTo === undefined && actual > layout.totalBytes) {
    throw new DarknetWeightsError(
      file,
      `too long for ${what}: expected ${layout.totalBytes} bytes (${layout.headerBytes}-byte header + ${floats} floats), got ${actual} (${actual - layout.totalBytes} extra bytes after the last layer; wrong cfg or size? use upTo for a partial load)`,
    );
  }
  const transposed = transposesConnected(header);
  const layers = layout.layers.map((p): LayerWeights => {
    const lw: LayerWeights = { layerIndex: p.layerIndex, type: p.type, biases: new Float32Array(0), scales: null, rollingMean: null, rollingVariance: null, weights: new Float32Array(0) };
    for (const t of p.tensors) lw[t.name] = readFloats(bytes, t.byteOffset, t.count);
    if (transposed && p.type === 'connected') {
      const l = net.layers[p.layerIndex] as DarknetLayer;
      lw.weights = transpose(lw.weights, l.shape.inputs, l.shape.outputs);
    }
    return lw;
  });
  return { header, layers };
}

export interface WriteWeightsOptions {
  /** Darknet save_weights_upto: only layers with index < upTo. */
  readonly upTo?: number;
  /** Name for messages (default `<weights>`). */
  readonly file?: string;
}

/** Serializes weights for `net` (Darknet save_weights layout, header as given). */
export function writeWeights(w: DarknetWeights, net: DarknetNetwork, options: WriteWeightsOptions = {}): Uint8Array {
  const file = options.file ?? '<weights>';
  const h = w.header;
  for (const [k, v] of [['major', h.major], ['minor', h.minor], ['revision', h.revision]] as const) {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new DarknetWeightsError(file, `header ${k}=${v} is not an int32`);
  }
  const sb = seenBytes(h);
  const seenOk = sb === 8 ? Number.isSafeInteger(h.seen) && h.seen >= 0 : Number.isInteger(h.seen) && h.seen >= -0x80000000 && h.seen <= 0x7fffffff;
  if (!seenOk) throw new DarknetWeightsError(file, `header seen=${h.seen} does not fit its ${sb}-byte field`);

  const layout = weightsLayout(net, { mode: 'save', header: h, ...(options.upTo === undefined ? {} : { upTo: options.upTo }) });
  const byIndex = new Map<number, LayerWeights>();
  for (const lw of w.layers) {
    const l = net.layers[lw.layerIndex];
    if (l === undefined || l.type !== lw.type) {
      throw new DarknetWeightsError(file, `weights given for layer ${lw.layerIndex} [${lw.type}], but ${net.file} has ${l === undefined ? 'no such layer' : `a [${l.type}] there`}`);
    }
    byIndex.set(lw.layerIndex, lw);
  }

  const out = new Uint8Array(layout.totalBytes);
  const dv = new DataView(out.buffer);
  dv.setInt32(0, h.major, true);
  dv.setInt32(4, h.minor, true);
  dv.setInt32(8, h.revision, true);
  if (sb === 8) dv.setBigUint64(12, BigInt(h.seen), true);
  else dv.setInt32(12, h.seen, true);

  const transposed = transposesConnected(h);
  for (const p of layout.layers) {
    const lw = byIndex.get(p.layerIndex);
    if (lw === undefined) throw new DarknetWeightsError(file, `no weights for layer ${p.layerIndex} [${p.type}] of ${net.file}`);
    for (const t of p.tensors) {
      let data = lw[t.name];
      if (data === null) throw new DarknetWeightsError(file, `layer ${p.layerIndex} [${p.type}] has no '${t.name}' (the cfg needs ${t.count} values)`);
      if (data.length !== t.count) {
        throw new DarknetWeightsError(file, `layer ${p.layerIndex} [${p.type}] '${t.name}' has ${data.length} values, the cfg needs ${t.count}`);
      }
      if (transposed && p.type === 'connected' && t.name === 'weights') {
        const l = net.layers[p.layerIndex] as DarknetLayer;
        data = transpose(data, l.shape.outputs, l.shape.inputs);
      }
      writeFloats(out, t.byteOffset, data);
    }
  }
  return out;
}

/**
 * One line per layer whose loaded values hold NaN or ±Infinity (a damaged or diverged file): the layer,
 * its cfg line, and how many values of which tensor. Empty when every value is finite.
 */
export function nonFiniteWeights(w: DarknetWeights, net: DarknetNetwork): string[] {
  const out: string[] = [];
  for (const lw of w.layers) {
    const parts: string[] = [];
    for (const name of ['biases', 'scales', 'rollingMean', 'rollingVariance', 'weights'] as const) {
      const a = lw[name];
      if (a === null) continue;
      let bad = 0;
      for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) bad++;
      if (bad > 0) parts.push(`${bad} of ${a.length} '${name}'`);
    }
    if (parts.length === 0) continue;
    const l = net.layers[lw.layerIndex];
    const where = l === undefined ? '' : ` at ${net.file}:${l.source.line}`;
    out.push(`layer ${lw.layerIndex} [${lw.type}]${where}: ${parts.join(', ')} values are NaN or infinite`);
  }
  return out;
}

/** The layers with index < upTo (what a partial save keeps). */
export function sliceWeights(w: DarknetWeights, upTo: number): DarknetWeights {
  return { header: { ...w.header }, layers: w.layers.filter((l) => l.layerIndex < upTo) };
}

/** The weights of layer `index`, or undefined when it has none. */
export function layerWeights(w: DarknetWeights, index: number): LayerWeights | undefined {
  return w.layers.find((l) => l.layerIndex === index);
}

export async function readWeightsFile(path: string, net: DarknetNetwork, options: Omit<ReadWeightsOptions, 'file' | 'fileSize'> = {}): Promise<DarknetWeights> {
  return readWeightsFileSync(path, net, options);
}

/**
 * The bytes of a weights file for `net`, bounded by what the cfg needs: a regular file is read up to
 * the largest layout its header can ask for (its real size goes to the length checks); anything else
 * (a FIFO, /dev/zero) is read up to one byte more than that, so an endless input stops at once.
 */
function readWeightsBytes(path: string, net: DarknetNetwork, upTo: number | undefined): { bytes: Uint8Array; size: number } {
  const fail = (why: string): never => {
    throw new DarknetWeightsError(path, `cannot read the weights file: ${why}`);
  };
  let fd = -1;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    fail((e as Error).message);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) fail('it is a folder');
    // The 8-byte `seen` header gives the longer layout of the two.
    const most = weightsLayout(net, { mode: 'load', header: defaultHeader(), ...(upTo === undefined ? {} : { upTo }) }).totalBytes;
    const want = st.isFile() ? Math.min(st.size, most) : most + 1;
    const bytes = new Uint8Array(want);
    let done = 0;
    while (done < want) {
      const n = readSync(fd, bytes, done, Math.min(want - done, 1 << 30), st.isFile() ? done : null);
      if (n <= 0) break;
      done += n;
    }
    if (!st.isFile() && done > most && upTo === undefined) {
      fail(`it is not a regular file and gives more than the ${most} bytes a weights file for ${net.file} can hold`);
    }
    return { bytes: bytes.subarray(0, Math.min(done, most)), size: st.isFile() ? st.size : done };
  } catch (e) {
    if (e instanceof DarknetWeightsError) throw e;
    return fail((e as Error).message);
  } finally {
    closeSync(fd);
  }
}

/** Reads a .weights file for `net` (bounded, see readWeightsBytes) and parses it. */
export function readWeightsFileSync(path: string, net: DarknetNetwork, options: Omit<ReadWeightsOptions, 'file' | 'fileSize'> = {}): DarknetWeights {
  const { bytes, size } = readWeightsBytes(path, net, options.upTo);
  return readWeights(bytes, net, { ...options, file: path, fileSize: size });
}

/** Writes the file through writeOutput (atomic over a regular file). */
export async function writeWeightsFile(path: string, w: DarknetWeights, net: DarknetNetwork, options: WriteWeightsOptions = {}): Promise<void> {
  await writeOutput(path, writeWeights(w, net, { ...options, file: options.file ?? path }));
}
