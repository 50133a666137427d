// A tensor container file for full training state (weights, optimizer buffers, RNG state, counters):
// reading back a file gives every tensor bit for bit, so a resumed run continues exactly.
//
// Layout (all integers little-endian):
//
//   offset 0   8 bytes   magic "TSGTENS\n"
//          8   u32       format version (1)
//         12   u32       H = byte length of the JSON header
//         16   u64       D = byte length of the data section
//         24   H bytes   JSON header (UTF-8): { "meta": <any>, "tensors": [ { name, dtype, shape,
//                        offset, byteLength } ... ] }, `offset` counted from the data section start
//    align64(24 + H)     zero padding, then the data section: D bytes, each tensor's raw
//                        little-endian elements at a 64-byte aligned offset, zeros in between
//   end - 4    u32       CRC-32 (IEEE, as zlib/PNG) of every byte before it
//
// So a valid file is exactly align64(24 + H) + D + 4 bytes long. Both the writer and the reader
// stream tensor by tensor: peak memory is one tensor's host copy (writer) or the tensors themselves
// (reader), never a second copy of the whole file.
//
// Writes go through writeOutput (src/io/output.ts): atomic and durable over a regular file (temporary
// file, fsync, rename, folder fsync; a failed write leaves the old file intact).

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import zlib from 'node:zlib';
import { writeOutput } from '../io/output.js';
import type { DeviceLike } from '../tensor/device.js';
import { allocArray, type TypedArray } from '../tensor/dtype.js';
import { fromHost } from '../tensor/ops/creation.js';
import { Tensor } from '../tensor/tensor.js';

export type TensorFileDType = 'float32' | 'float64' | 'int32' | 'uint32';
export type TensorFileArray = Float32Array | Float64Array | Int32Array | Uint32Array;

/** A tensor as stored: host data in row-major order. */
export interface TensorFileEntry {
  dtype: TensorFileDType;
  shape: number[];
  data: TensorFileArray;
}

/** What `writeTensorFile` accepts per name: a Tensor (any device, any view) or raw host data. */
export type TensorFileInput =
  | Tensor
  | { dtype: TensorFileDType; shape: readonly number[]; data: TensorFileArray };

export interface TensorFileContents {
  meta: unknown;
  tensors: Map<string, TensorFileEntry>;
}

export const TENSOR_FILE_MAGIC = 'TSGTENS\n';
export const TENSOR_FILE_VERSION = 1;
const PREAMBLE_BYTES = 24;
const ALIGN = 64;
const CRC_BYTES = 4;
const CHUNK = 1 << 20;

const BYTES_PER_ELEMENT: Record<TensorFileDType, number> = { float32: 4, float64: 8, int32: 4, uint32: 4 };

function isFileDType(x: unknown): x is TensorFileDType {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(BYTES_PER_ELEMENT, x);
}

function arrayMatches(dtype: TensorFileDType, a: unknown): boolean {
  switch (dtype) {
    case 'float32':
      return a instanceof Float32Array;
    case 'float64':
      return a instanceof Float64Array;
    case 'int32':
      return a instanceof Int32Array;
    case 'uint32':
      return a instanceof Uint32Array;
  }
}

function allocFileArray(dtype: TensorFileDType, size: number): TensorFileArray {
  return dtype === 'uint32' ? new Uint32Array(size) : (allocArray(dtype, size) as TensorFileArray);
}

const align = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

// ---------------------------------------------------------------------------------------------
// CRC-32 (reflected polynomial 0xEDB88320, init and final xor 0xFFFFFFFF — the zlib/PNG CRC).

let crcTable: Uint32Array | null = null;

function table(): Uint32Array {
  if (crcTable) return crcTable;
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  crcTable = t;
  return t;
}

/** Pure-JS CRC-32 of `bytes`, continuing from `previous` (the CRC of what came before). */
export function crc32Portable(bytes: Uint8Array, previous = 0): number {
  const t = table();
  let c = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// node:zlib has crc32 from Node 20.15 / 22.2; package.json allows 20.9, so keep the fallback.
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 of `bytes` continuing from `previous`: node:zlib's when present, else crc32Portable. */
export function crc32(bytes: Uint8Array, previous = 0): number {
  if (typeof nativeCrc32 === 'function') return nativeCrc32(bytes, previous) >>> 0;
  return crc32Portable(bytes, previous);
}

// ---------------------------------------------------------------------------------------------
// Byte order: the file is little-endian; a big-endian host swaps element bytes on the way.

const HOST_LE = endianness() === 'LE';

function swappedCopy(bytes: Uint8Array, width: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += width) {
    for (let k = 0; k < width; k++) out[i + k] = bytes[i + width - 1 - k]!;
  }
  return out;
}

function leBytesOf(a: TensorFileArray): Uint8Array {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  return HOST_LE ? bytes : swappedCopy(bytes, a.BYTES_PER_ELEMENT);
}

function swapInPlace(bytes: Uint8Array, width: number): void {
  for (let i = 0; i < bytes.length; i += width) {
    for (let k = 0; k < width >> 1; k++) {
      const x = bytes[i + k]!;
      bytes[i + k] = bytes[i + width - 1 - k]!;
      bytes[i + width - 1 - k] = x;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Writer

interface TableEntry {
  name: string;
  dtype: TensorFileDType;
  shape: number[];
  offset: number;
  byteLength: number;
}

function checkShape(shape: unknown, where: string): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  return [...(shape as number[])];
}

const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Write `meta` (JSON-serialisable; NaN/Infinity inside it become null, as JSON.stringify does)
 * and `tensors` to `path` atomically (see the file comment for the layout). Tensors may be on any
 * device and may be non-contiguous views; they are read to the host one at a time.
 */
export async function writeTensorFile(path: string, meta: unknown, tensors: ReadonlyMap<string, TensorFileInput>): Promise<void> {
  const where = `writeTensorFile(${path})`;
  // Check everything before the file is created, so a bad argument never costs a partial write.
  const table: TableEntry[] = [];
  const sources: TensorFileInput[] = [];
  let dataLength = 0;
  for (const [name, t] of tensors) {
    if (typeof name !== 'string') throw new Error(`${where}: tensor names must be strings, got ${typeof name}`);
    let dtype: TensorFileDType;
    let shape: number[];
    if (t instanceof Tensor) {
      t.assertAlive(`${where}: tensor '${name}'`);
      dtype = t.dtype;
      shape = [...t.shape];
    } else {
      if (!t || typeof t !== 'object') throw new Error(`${where}: entry '${name}' is neither a Tensor nor { dtype, shape, data }`);
      if (!isFileDType(t.dtype)) {
        throw new Error(`${where}: entry '${name}' has dtype ${JSON.stringify(t.dtype)} (expected ${Object.keys(BYTES_PER_ELEMENT).join(', ')})`);
      }
      dtype = t.dtype;
      shape = checkShape(t.shape, `${where}: entry '${name}'`);
      if (!arrayMatches(dtype, t.data)) {
        throw new Error(`${where}: entry '${name}' is ${dtype} but its data is a ${(t.data as object)?.constructor?.name ?? typeof t.data}`);
      }
      if (t.data.length !== elementCount(shape)) {
        throw new Error(`${where}: entry '${name}' has ${t.data.length} values for shape [${shape.join(', ')}] (${elementCount(shape)} elements)`);
      }
    }
    const byteLength = elementCount(shape) * BYTES_PER_ELEMENT[dtype];
    dataLength = align(dataLength);
    table.push({ name, dtype, shape, offset: dataLength, byteLength });
    sources.push(t);
    dataLength += byteLength;
  }

  let json: string | undefined;
  try {
    json = JSON.stringify({ meta: meta === undefined ? null : meta, tensors: table });
  } catch (e) {
    throw new Error(`${where}: meta is not JSON-serialisable: ${(e as Error).message}`);
  }
  if (json === undefined) throw new Error(`${where}: meta is not JSON-serialisable`);
  const header = Buffer.from(json, 'utf8');
  if (header.length > 0xffffffff) throw new Error(`${where}: JSON header of ${header.length} bytes exceeds 4 GiB`);

  const preamble = Buffer.alloc(PREAMBLE_BYTES);
  preamble.write(TENSOR_FILE_MAGIC, 0, 'latin1');
  preamble.writeUInt32LE(TENSOR_FILE_VERSION, 8);
  preamble.writeUInt32LE(header.length, 12);
  preamble.writeBigUInt64LE(BigInt(dataLength), 16);
  const dataStart = align(PREAMBLE_BYTES + header.length);
  const zeros = new Uint8Array(ALIGN);

  await writeOutput(path, async (sink) => {
    let crc = 0;
    const put = async (bytes: Uint8Array): Promise<void> => {
      crc = crc32(bytes, crc);
      await sink(bytes);
    };
    await put(preamble);
    await put(header);
    await put(zeros.subarray(0, dataStart - PREAMBLE_BYTES - header.length));
    let at = 0;
    for (let i = 0; i < table.length; i++) {
      const entry = table[i]!;
      await put(zeros.subarray(0, entry.offset - at));
      const src = sources[i]!;
      let host: TensorFileArray;
      if (src instanceof Tensor) {
        host = src.size === 0 ? allocFileArray(entry.dtype, 0) : src.data();
      } else {
        host = src.data;
      }
      if (host.byteLength !== entry.byteLength) {
        throw new Error(`${where}: tensor '${entry.name}' yielded ${host.byteLength} bytes, expected ${entry.byteLength} (did it change during the write?)`);
      }
      await put(leBytesOf(host));
      at = entry.offset + entry.byteLength;
    }
    const tail = Buffer.alloc(CRC_BYTES);
    tail.writeUInt32LE(crc >>> 0, 0);
    await sink(tail);
  });
}

// ---------------------------------------------------------------------------------------------
// Reader

function readExactly(fd: number, into: Uint8Array, position: number): void {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, Math.min(into.length - done, 1 << 30), position + done);
    if (n <= 0) throw new Error(`unexpected end of file at byte ${position + done}`);
    done += n;
  }
}

/** CRC-32 of bytes [0, end) of the open file, read in chunks. */
function crcOfRange(fd: number, end: number): number {
  const buf = new Uint8Array(Math.min(CHUNK, Math.max(end, 1)));
  let crc = 0;
  for (let pos = 0; pos < end; pos += buf.length) {
    const part = buf.subarray(0, Math.min(buf.length, end - pos));
    readExactly(fd, part, pos);
    crc = crc32(part, crc);
  }
  return crc;
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

/** Validate the parsed header; returns the table sorted by offset. Throws a plain message. */
function checkTable(header: unknown, dataLength: number): { meta: unknown; table: TableEntry[] } {
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw new Error('header is not a JSON object');
  const h = header as { meta?: unknown; tensors?: unknown };
  if (!('meta' in h)) throw new Error('header has no "meta"');
  if (!Array.isArray(h.tensors)) throw new Error('header has no "tensors" list');
  const names = new Set<string>();
  const table: TableEntry[] = [];
  h.tensors.forEach((raw: unknown, i: number) => {
    if (!raw || typeof raw !== 'object') throw new Error(`tensor table entry ${i} is not an object`);
    const e = raw as Record<string, unknown>;
    const name = e['name'];
    if (typeof name !== 'string') throw new Error(`tensor table entry ${i} has no string "name"`);
    const label = `tensor '${name}'`;
    if (names.has(name)) throw new Error(`${label} appears twice in the tensor table`);
    names.add(name);
    if (!isFileDType(e['dtype'])) throw new Error(`${label} has unknown dtype ${JSON.stringify(e['dtype'])}`);
    const dtype = e['dtype'];
    const shape = checkShape(e['shape'], label);
    const offset = e['offset'];
    const byteLength = e['byteLength'];
    if (!Number.isSafeInteger(offset) || (offset as number) < 0 || (offset as number) % ALIGN !== 0) {
      throw new Error(`${label} has offset ${JSON.stringify(offset)} (expected a non-negative multiple of ${ALIGN})`);
    }
    const expectedBytes = elementCount(shape) * BYTES_PER_ELEMENT[dtype];
    if (byteLength !== expectedBytes) {
      throw new Error(`${label} has byteLength ${JSON.stringify(byteLength)} but ${dtype} [${shape.join(', ')}] needs ${expectedBytes}`);
    }
    if ((offset as number) + expectedBytes > dataLength) {
      throw new Error(`${label} spans bytes ${offset}..${(offset as number) + expectedBytes} of a ${dataLength}-byte data section`);
    }
    table.push({ name, dtype, shape, offset: offset as number, byteLength: expectedBytes });
  });
  const sorted = [...table].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    if (sorted[i]!.offset < prev.offset + prev.byteLength) {
      throw new Error(`tensors '${prev.name}' and '${sorted[i]!.name}' overlap in the data section`);
    }
  }
  return { meta: h.meta, table };
}

/**
 * Read a file written by `writeTensorFile`. Every failure is an Error naming `path`: not a tensor
 * file (bad magic), unsupported version, truncated (expected vs actual size), corrupt (CRC
 * mismatch) or an inconsistent tensor table. Tensors come back in the order they were written.
 */
export function readTensorFile(path: string): TensorFileContents {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new Error(`${path}: cannot open tensor file: ${(e as Error).message}`);
  }
  try {
    return readOpen(fd, path);
  } catch (e) {
    const msg = (e as Error).message;
    // I/O errors (the file shrinking under us, EISDIR...) get the path too.
    throw msg.startsWith(`${path}: `) ? e : new Error(`${path}: cannot read tensor file: ${msg}`);
  } finally {
    closeSync(fd);
  }
}

function readOpen(fd: number, path: string): TensorFileContents {
  const stat = fstatSync(fd);
  if (!stat.isFile()) throw new Error(`${path}: not a regular file`);
  const size = stat.size;
  const fail = (msg: string): never => {
    throw new Error(`${path}: ${msg}`);
  };
  const magic = Buffer.from(TENSOR_FILE_MAGIC, 'latin1');
  const pre = Buffer.alloc(PREAMBLE_BYTES);
  readExactly(fd, pre.subarray(0, Math.min(PREAMBLE_BYTES, size)), 0);
  const magicSeen = Math.min(size, magic.length);
  if (!pre.subarray(0, magicSeen).equals(magic.subarray(0, magicSeen))) {
    fail(`not a tsgrad tensor file (starts with bytes ${pre.subarray(0, magicSeen).toString('hex')}, expected ${magic.toString('hex')})`);
  }
  if (size < 12) fail(`truncated tensor file: expected at least ${PREAMBLE_BYTES + CRC_BYTES} bytes, found ${size}`);
  const version = pre.readUInt32LE(8);
  if (version !== TENSOR_FILE_VERSION) fail(`unsupported tensor file version ${version} (this reader knows version ${TENSOR_FILE_VERSION})`);
  if (size < PREAMBLE_BYTES) fail(`truncated tensor file: expected at least ${PREAMBLE_BYTES + CRC_BYTES} bytes, found ${size}`);
  const headerLength = pre.readUInt32LE(12);
  const dataLengthBig = pre.readBigUInt64LE(16);
  if (dataLengthBig > BigInt(Number.MAX_SAFE_INTEGER)) fail(`corrupt tensor file: data section length ${dataLengthBig} is impossible`);
  const dataLength = Number(dataLengthBig);
  const dataStart = align(PREAMBLE_BYTES + headerLength);
  const expected = dataStart + dataLength + CRC_BYTES;
  if (size < expected) fail(`truncated tensor file: expected ${expected} bytes, found ${size}`);
  if (size > expected) fail(`corrupt tensor file: expected ${expected} bytes, found ${size} (trailing data or a damaged header)`);

  const storedCrc = (() => {
    const b = Buffer.alloc(CRC_BYTES);
    readExactly(fd, b, size - CRC_BYTES);
    return b.readUInt32LE(0);
  })();
  const crcError = (actual: number): string =>
    `corrupt tensor file: CRC-32 mismatch (stored ${hex(storedCrc)}, computed ${hex(actual)})`;
  // A header problem is most likely damage: report the CRC mismatch when there is one, so the
  // message says "corrupt" rather than blaming the writer.
  const headerProblem = (msg: string): never => {
    const actual = crcOfRange(fd, size - CRC_BYTES);
    if (actual !== storedCrc) fail(crcError(actual));
    return fail(`inconsistent tensor table: ${msg}`);
  };

  const headerBytes = Buffer.alloc(headerLength);
  readExactly(fd, headerBytes, PREAMBLE_BYTES);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    headerProblem(`JSON header does not parse: ${(e as Error).message}`);
  }
  let checked: { meta: unknown; table: TableEntry[] } = { meta: null, table: [] };
  try {
    checked = checkTable(parsed, dataLength);
  } catch (e) {
    headerProblem((e as Error).message);
  }

  // Stream the file once: CRC every byte, reading each tensor straight into its own array.
  let crc = crc32(pre);
  crc = crc32(headerBytes, crc);
  const scratch = new Uint8Array(Math.min(CHUNK, Math.max(dataLength, dataStart, 1)));
  const skip = (from: number, to: number): void => {
    for (let pos = from; pos < to; pos += scratch.length) {
      const part = scratch.subarray(0, Math.min(scratch.length, to - pos));
      readExactly(fd, part, pos);
      crc = crc32(part, crc);
    }
  };
  skip(PREAMBLE_BYTES + headerLength, dataStart);
  const arrays = new Map<string, TensorFileArray>();
  let at = dataStart;
  for (const e of [...checked.table].sort((a, b) => a.offset - b.offset)) {
    skip(at, dataStart + e.offset);
    const arr = allocFileArray(e.dtype, elementCount(e.shape));
    const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
    readExactly(fd, bytes, dataStart + e.offset);
    crc = crc32(bytes, crc);
    if (!HOST_LE) swapInPlace(bytes, arr.BYTES_PER_ELEMENT);
    arrays.set(e.name, arr);
    at = dataStart + e.offset + e.byteLength;
  }
  skip(at, size - CRC_BYTES);
  if (crc !== storedCrc) fail(crcError(crc));

  const tensors = new Map<string, TensorFileEntry>();
  for (const e of checked.table) tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: arrays.get(e.name)! });
  return { meta: checked.meta, tensors };
}

/**
 * A tensor entry from `readTensorFile` as a new Tensor on `device` (default cpu). uint32 entries
 * have no Tensor dtype and are refused; a device that does not store the dtype refuses too.
 */
export function tensorFromEntry(entry: TensorFileEntry, device: DeviceLike = 'cpu', name = 'entry'): Tensor {
  if (entry.dtype === 'uint32' || entry.data instanceof Uint32Array) {
    throw new Error(`tensorFromEntry: '${name}' is uint32, which no Tensor stores (use its data directly)`);
  }
  if (!arrayMatches(entry.dtype, entry.data) || entry.data.length !== elementCount(entry.shape)) {
    throw new Error(`tensorFromEntry: '${name}' has ${entry.data.length} ${entry.data.constructor.name} values for ${entry.dtype} [${entry.shape.join(', ')}]`);
  }
  return fromHost(entry.data as TypedArray, entry.shape, { device });
}

/** `readTensorFile(path).tensors.get(name)` as a Tensor, with a clear error when it is missing. */
export function requireTensor(contents: TensorFileContents, name: string, device: DeviceLike = 'cpu', path = 'tensor file'): Tensor {
  const e = contents.tensors.get(name);
  if (!e) throw new Error(`${path}: has no tensor '${name}' (it holds ${[...contents.tensors.keys()].join(', ') || 'none'})`);
  return tensorFromEntry(e, device, name);
}
