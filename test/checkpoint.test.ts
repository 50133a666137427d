import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableDevices, tensor, Tensor, type Device } from '../src/index.js';
import { Storage } from '../src/tensor/storage.js';
import {
  crc32,
  crc32Portable,
  readTensorFile,
  requireTensor,
  tensorFromEntry,
  writeTensorFile,
  TENSOR_FILE_VERSION,
  type TensorFileInput,
} from '../src/nn/checkpoint.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgrad-ckpt-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(dir, `f${n++}.tsg`);

function bitsEqual(a: ArrayBufferView, b: ArrayBufferView, what: string): void {
  assert.deepEqual(
    Buffer.from(a.buffer, a.byteOffset, a.byteLength),
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    `${what}: bytes differ`,
  );
}

/** A small file with a few tensors, its bytes and path. */
async function sample(): Promise<{ path: string; bytes: Buffer }> {
  const path = fresh();
  await writeTensorFile(path, { iteration: 7 }, new Map<string, TensorFileInput>([
    ['a', tensor([1.5, -2, 3], { dtype: 'float32' })],
    ['b', tensor([[1, 2], [3, 4]], { dtype: 'int32' })],
  ]));
  return { path, bytes: readFileSync(path) };
}

test('crc32 matches the standard check value and the portable fallback agrees with node:zlib', () => {
  const check = Buffer.from('123456789', 'latin1');
  assert.equal(crc32Portable(check), 0xcbf43926);
  assert.equal(crc32(check), 0xcbf43926);
  // continuing a CRC over a split buffer equals the CRC of the whole
  assert.equal(crc32Portable(check.subarray(4), crc32Portable(check.subarray(0, 4))), 0xcbf43926);
  const noise = new Uint8Array(1000).map((_, i) => (i * 7919 + 13) & 0xff);
  assert.equal(crc32Portable(noise), crc32(noise));
});

test('round trip is bit-exact for float32/float64/int32/uint32, empty tensors, 0-d tensors and views', async () => {
  const path = fresh();
  const f64 = new Float64Array([Math.PI, -0, 1e-310, Number.MAX_VALUE, -Infinity, 1 / 3]);
  const f32bits = new Uint32Array([0x3f800000, 0x80000000, 0x00000001, 0x7f7fffff, 0xff800000, 0x7fc00000]);
  const f32 = new Float32Array(f32bits.buffer);
  const base = tensor(Array.from({ length: 12 }, (_, i) => i * 0.1 - 0.5), { shape: [3, 4] });
  const view = base.transpose(0, 1).narrow(0, 1, 2); // [2,3], non-contiguous, offset 1
  assert.equal(view.isContiguous(), false);
  const rng = new Uint32Array([0xdeadbeef, 0, 0xffffffff, 12345]);
  const inputs = new Map<string, TensorFileInput>([
    ['f32', tensor(f32, { shape: [2, 3] })],
    ['f64', tensor(f64, { shape: [6] })],
    ['i32', tensor([[-2147483648, 2147483647, 0]], { dtype: 'int32' })],
    ['empty', tensor([], { shape: [0, 5] })],
    ['scalar', tensor(2.25, { dtype: 'float64' })],
    ['view', view],
    ['rng.state', { dtype: 'uint32', shape: [4], data: rng }],
    ['raw-f64', { dtype: 'float64', shape: [1, 2], data: new Float64Array([1e300, -1e-300]) }],
  ]);
  await writeTensorFile(path, { note: 'x' }, inputs);
  const back = readTensorFile(path);
  assert.deepEqual([...back.tensors.keys()], [...inputs.keys()], 'order of entries is kept');
  for (const [name, input] of inputs) {
    const got = back.tensors.get(name)!;
    const expect = input instanceof Tensor ? { dtype: input.dtype, shape: [...input.shape], data: input.data() } : input;
    assert.equal(got.dtype, expect.dtype, name);
    assert.deepEqual(got.shape, [...expect.shape], name);
    assert.equal(got.data.constructor, expect.data.constructor, name);
    bitsEqual(got.data, expect.data, name);
  }
  bitsEqual(back.tensors.get('f32')!.data, f32bits, 'f32 incl. NaN, -0, denormal');
  assert.deepEqual(Array.from(back.tensors.get('view')!.data), [0.1 - 0.5, 0.5 - 0.5, 0.9 - 0.5, 0.2 - 0.5, 0.6 - 0.5, 1.0 - 0.5].map((v) => Math.fround(v)));
  const t = tensorFromEntry(back.tensors.get('i32')!);
  assert.deepEqual(t.toNested(), [[-2147483648, 2147483647, 0]]);
  assert.equal(t.dtype, 'int32');
  assert.throws(() => tensorFromEntry(back.tensors.get('rng.state')!, 'cpu', 'rng.state'), /'rng\.state' is uint32/);
  assert.throws(() => requireTensor(back, 'missing', 'cpu', path), /has no tensor 'missing'/);
});

test('meta round trips through JSON (nested objects, floats exactly, null for undefined meta)', async () => {
  const meta = { iteration: 1200, lr: 0.001, avg: 3.8712345678901234, nested: { list: [1, 'two', null, true] }, s: 'ünïcødé' };
  const p1 = fresh();
  await writeTensorFile(p1, meta, new Map());
  const back = readTensorFile(p1);
  assert.deepEqual(back.meta, meta);
  assert.equal(back.tensors.size, 0);
  const p2 = fresh();
  await writeTensorFile(p2, undefined, new Map());
  assert.equal(readTensorFile(p2).meta, null);
  const circular: Record<string, unknown> = {};
  circular['self'] = circular;
  await assert.rejects(writeTensorFile(fresh(), circular, new Map()), /meta is not JSON-serialisable/);
  await assert.rejects(writeTensorFile(fresh(), { big: 1n }, new Map()), /meta is not JSON-serialisable/);
});

for (const name of availableDevices().map((d) => d.name).filter((d) => d !== 'cpu')) {
  test(`tensors on device '${name}' are read to the host and restored onto it exactly`, async () => {
    const path = fresh();
    const x = tensor([0.1, 0.2, -7.5, 1e-30, 3.4e38, -0], { device: name, shape: [2, 3] });
    const xt = x.transpose(0, 1);
    await writeTensorFile(path, null, new Map([['x', x], ['xt', xt]]));
    const back = readTensorFile(path);
    bitsEqual(back.tensors.get('x')!.data, x.data(), 'x');
    bitsEqual(back.tensors.get('xt')!.data, xt.data(), 'xt');
    const y = tensorFromEntry(back.tensors.get('xt')!, name);
    assert.equal(y.device.name, name);
    bitsEqual(y.data(), xt.data(), 'restored xt');
  });
}

test('a file cut at any of several points reports truncation with expected and actual sizes', async () => {
  const { bytes } = await sample();
  for (const cut of [0, 3, 8, 13, 24, 40, bytes.length - 70, bytes.length - 5, bytes.length - 1]) {
    const p = fresh();
    writeFileSync(p, bytes.subarray(0, cut));
    assert.throws(
      () => readTensorFile(p),
      (e: Error) => {
        assert.ok(e.message.startsWith(`${p}: truncated tensor file: expected`), `cut ${cut}: ${e.message}`);
        assert.ok(e.message.endsWith(`found ${cut}`), `cut ${cut}: ${e.message}`);
        return true;
      },
    );
  }
  // the full-length messages name the exact size
  const p = fresh();
  writeFileSync(p, bytes.subarray(0, bytes.length - 1));
  assert.throws(() => readTensorFile(p), new RegExp(`expected ${bytes.length} bytes, found ${bytes.length - 1}$`));
});

test('a flipped byte in the header, the data or the CRC is reported as corrupt (CRC mismatch)', async () => {
  const { bytes } = await sample();
  const headerLen = bytes.readUInt32LE(12);
  const positions = { 'JSON header': 24 + 2, 'header name': 24 + headerLen - 10, data: bytes.length - 4 - 3, padding: 24 + headerLen + 1, crc: bytes.length - 2 };
  for (const [where, pos] of Object.entries(positions)) {
    const p = fresh();
    const bad = Buffer.from(bytes);
    bad[pos] = bad[pos]! ^ 0x10;
    writeFileSync(p, bad);
    assert.throws(() => readTensorFile(p), (e: Error) => e.message.startsWith(`${p}: corrupt tensor file: CRC-32 mismatch`) || assert.fail(`${where}: ${e.message}`));
  }
  // a damaged data length shows as a size mismatch rather than a silent misread
  const p = fresh();
  const bad = Buffer.from(bytes);
  bad[16] = bad[16]! ^ 0x01;
  writeFileSync(p, bad);
  assert.throws(() => readTensorFile(p), /truncated tensor file|corrupt tensor file/);
});

test('bad magic, an unknown version and trailing bytes are clear errors naming the file', async () => {
  const { bytes } = await sample();
  const p1 = fresh();
  writeFileSync(p1, Buffer.from('\x89PNG\r\n\x1a\n' + 'x'.repeat(40), 'latin1'));
  assert.throws(() => readTensorFile(p1), (e: Error) => e.message.startsWith(`${p1}: not a tsgrad tensor file (starts with bytes 89504e47`));
  const p2 = fresh();
  const v2 = Buffer.from(bytes);
  v2.writeUInt32LE(TENSOR_FILE_VERSION + 1, 8);
  writeFileSync(p2, v2);
  assert.throws(() => readTensorFile(p2), /unsupported tensor file version 2 \(this reader knows version 1\)/);
  const p3 = fresh();
  writeFileSync(p3, Buffer.concat([bytes, Buffer.from([0])]));
  assert.throws(() => readTensorFile(p3), new RegExp(`expected ${bytes.length} bytes, found ${bytes.length + 1} \\(trailing`));
  assert.throws(() => readTensorFile(join(dir, 'does-not-exist')), /does-not-exist: cannot open tensor file/);
  assert.throws(() => readTensorFile(dir), (e: Error) => e.message === `${dir}: not a regular file`);
});

test('an inconsistent tensor table with a valid CRC is reported as such', async () => {
  // Build a file by hand whose table claims more bytes than the data section holds.
  const json = Buffer.from(JSON.stringify({ meta: null, tensors: [{ name: 'w', dtype: 'float32', shape: [4], offset: 0, byteLength: 16 }] }));
  const dataLen = 8;
  const dataStart = Math.ceil((24 + json.length) / 64) * 64;
  const buf = Buffer.alloc(dataStart + dataLen + 4);
  buf.write('TSGTENS\n', 0, 'latin1');
  buf.writeUInt32LE(1, 8);
  buf.writeUInt32LE(json.length, 12);
  buf.writeBigUInt64LE(BigInt(dataLen), 16);
  json.copy(buf, 24);
  buf.writeUInt32LE(crc32(buf.subarray(0, buf.length - 4)), buf.length - 4);
  const p = fresh();
  writeFileSync(p, buf);
  assert.throws(() => readTensorFile(p), /inconsistent tensor table: tensor 'w' spans bytes 0\.\.16 of a 8-byte data section/);
});

test('bad inputs are refused before any file is created', async () => {
  const p = fresh();
  const disposed = tensor([1, 2]);
  disposed.dispose();
  await assert.rejects(writeTensorFile(p, null, new Map([['d', disposed]])), /tensor 'd'.*was disposed/);
  await assert.rejects(writeTensorFile(p, null, new Map([['r', { dtype: 'float32', shape: [3], data: new Float32Array(2) }]])), /'r' has 2 values for shape \[3\]/);
  await assert.rejects(
    writeTensorFile(p, null, new Map([['r', { dtype: 'int32', shape: [2], data: new Float32Array(2) as unknown as Int32Array }]])),
    /'r' is int32 but its data is a Float32Array/,
  );
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith(p.split('/').pop()!)), []);
});

test('a write that fails midway leaves the previous file intact and no temporary file behind', async () => {
  const { path, bytes } = await sample();
  // A device whose reads fail, as a lost GPU would: the failure comes after the header is written.
  const broken: Device = {
    name: 'broken-test-device',
    available: true,
    reason: '',
    dtypes: ['float32'],
    alloc: () => null,
    free: () => undefined,
    write: () => undefined,
    read: () => {
      throw new Error('device read failed');
    },
    memoryStats: () => ({ allocated: 0, reserved: 0, peak: 0 }),
    synchronize: () => undefined,
  };
  const bad = new Tensor(new Storage(broken, 'float32', 4, null), [4]);
  const big = tensor(new Float32Array(4096));
  await assert.rejects(writeTensorFile(path, { iteration: 8 }, new Map([['ok', big], ['bad', bad]])), /device read failed/);
  assert.deepEqual(readFileSync(path), bytes, 'old file untouched');
  assert.deepEqual(readTensorFile(path).meta, { iteration: 7 });
  const name = path.split('/').pop()!;
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith(name)), [name], 'no temporary file left');
  // and a successful write replaces it
  await writeTensorFile(path, { iteration: 9 }, new Map([['ok', big]]));
  assert.deepEqual(readTensorFile(path).meta, { iteration: 9 });
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith(name)), [name]);
});
