// A builder of ONNX graphs: nodes, initializers and typed graph inputs/outputs, encoded with the official
// onnx.proto schema as compiled by protobufjs (the onnx-proto package), never by hand.
//
// Every value the builder creates is float32 unless said otherwise, and it keeps the shape of each one
// (without the batch dimension, which is always axis 0 and may be symbolic), so exporters can insert a
// Reshape only where the layout actually changes. Constants are initializers (never Constant nodes),
// shape constants are int64 and shared by value. Tensor data goes into `raw_data`, little-endian.

import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import type { onnx as OnnxNamespace } from 'onnx-proto';

type Onnx = typeof OnnxNamespace;

let loaded: Onnx | null = null;

/** The compiled onnx.proto messages (loaded on first use, so importing tsgrad does not load protobufjs). */
function onnxProto(): Onnx {
  if (loaded === null) loaded = (createRequire(import.meta.url)('onnx-proto') as { onnx: Onnx }).onnx;
  return loaded;
}

/** TensorProto.DataType values the exporter writes. */
export const DT = { float: 1, bool: 9, int64: 7, double: 11 } as const;

/** A node attribute, tagged with its ONNX type. */
export type Attr = { readonly i: number } | { readonly f: number } | { readonly ints: readonly number[] } | { readonly floats: readonly number[] } | { readonly s: string };

/** A graph input or output: name, element type and per-item shape (the batch dimension goes in front). */
export interface ValueSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly elemType?: number;
}

export interface ModelMeta {
  readonly opset: number;
  readonly producerVersion: string;
  readonly graphName: string;
  readonly docString: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** ONNX IR version that goes with an opset (IR 6: opset 11, IR 7: 12–14, IR 8: 15–18). */
export function irVersionFor(opset: number): number {
  return opset <= 11 ? 6 : opset <= 14 ? 7 : 8;
}

const littleEndian = endianness() === 'LE';

function le32(a: Float32Array): Uint8Array {
  if (littleEndian) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out = new Uint8Array(a.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) dv.setFloat32(i * 4, a[i]!, true);
  return out;
}

function le64(values: readonly number[], kind: 'int64' | 'double'): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => (kind === 'int64' ? dv.setBigInt64(i * 8, BigInt(v), true) : dv.setFloat64(i * 8, v, true)));
  return out;
}

interface Initializer {
  readonly name: string;
  readonly dims: readonly number[];
  readonly dataType: number;
  readonly raw: Uint8Array;
}

interface NodeSpec {
  readonly op: string;
  readonly name: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: Readonly<Record<string, Attr>>;
}

/**
 * Collects one graph. `prefix` (set per layer) names the nodes and intermediate values it creates
 * ("l3_maxpool", "l3_1", ...), so a runtime's messages point at the Darknet layer.
 */
export class GraphBuilder {
  prefix = 'g';
  private readonly nodes: NodeSpec[] = [];
  private readonly inits: Initializer[] = [];
  private readonly names = new Set<string>();
  private readonly shapes = new Map<string, readonly number[]>();
  private readonly shared = new Map<string, string>();
  private readonly ins: ValueSpec[] = [];
  private readonly outs: ValueSpec[] = [];
  private counter = 0;
  /** Bytes of tensor data so far (the protobuf message must stay under 2 GiB). */
  dataBytes = 0;
  /** Float parameters written (weights, biases, BN statistics). */
  parameters = 0;

  /** A value name not used yet, `<prefix>_<base>` or `<prefix>_<n>`. */
  fresh(base?: string): string {
    let name = base === undefined ? `${this.prefix}_${++this.counter}` : `${this.prefix}_${base}`;
    while (this.names.has(name)) name = `${this.prefix}_${++this.counter}`;
    this.names.add(name);
    return name;
  }

  /** Per-item shape of a value (batch dimension excluded). */
  shape(name: string): readonly number[] {
    const s = this.shapes.get(name);
    if (s === undefined) throw new Error(`onnx graph: no shape recorded for '${name}'`);
    return s;
  }

  setShape(name: string, shape: readonly number[]): void {
    this.shapes.set(name, shape.slice());
  }

  /** Declares a graph input (float32 by default). */
  input(spec: ValueSpec): string {
    this.names.add(spec.name);
    this.ins.push(spec);
    this.setShape(spec.name, spec.shape);
    return spec.name;
  }

  /** Declares `name` (which must already exist) as graph output `as`, through an Identity node. */
  output(name: string, as: string): void {
    const shape = this.shape(name);
    this.names.add(as);
    this.nodes.push({ op: 'Identity', name: `${as}_identity`, inputs: [name], outputs: [as], attrs: {} });
    this.setShape(as, shape);
    this.outs.push({ name: as, shape });
  }

  /** A float32 initializer with the given dims (a constant: no batch dimension). */
  floats(base: string, data: Float32Array, dims: readonly number[], parameters = true): string {
    const n = dims.reduce((a, b) => a * b, 1);
    if (n !== data.length) throw new Error(`onnx graph: initializer '${base}' has ${data.length} values, dims [${dims.join(', ')}] need ${n}`);
    const name = this.fresh(base);
    this.inits.push({ name, dims: dims.slice(), dataType: DT.float, raw: le32(data) });
    this.dataBytes += data.byteLength;
    if (parameters) this.parameters += data.length;
    return name;
  }

  /** A float32 constant shared by value (scalars and small grids; dims as given). */
  constFloats(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `f:${dims.join('x')}:${values.join(',')}`;
    return this.sharedConst(key, () => this.floats('const', Float32Array.from(values), dims, false));
  }

  /** A float32 scalar constant (rank 0). */
  scalar(v: number): string {
    return this.sharedConst(`s:${v}`, () => {
      const name = this.fresh('const');
      this.inits.push({ name, dims: [], dataType: DT.float, raw: le32(Float32Array.of(v)) });
      return name;
    });
  }

  /** A float64 scalar constant (rank 0). */
  scalarDouble(v: number): string {
    return this.sharedConst(`d:${v}`, () => {
      const name = this.fresh('const');
      this.inits.push({ name, dims: [], dataType: DT.double, raw: le64([v], 'double') });
      return name;
    });
  }

  /** An int64 vector constant (shapes, pads, slice bounds), shared by value. */
  int64s(values: readonly number[]): string {
    return this.sharedConst(`i:${values.join(',')}`, () => {
      const name = this.fresh('const');
      this.inits.push({ name, dims: [values.length], dataType: DT.int64, raw: le64(values, 'int64') });
      return name;
    });
  }

  private sharedConst(key: string, make: () => string): string {
    let name = this.shared.get(key);
    if (name === undefined) {
      const prefix = this.prefix;
      this.prefix = 'c';
      try {
        name = make();
      } finally {
        this.prefix = prefix;
      }
      this.shared.set(key, name);
    }
    return name;
  }

  /**
   * Appends a node with one output, whose per-item shape is `shape`; returns the output's name
   * (`out` when given, else a fresh one). An empty input name is an omitted optional input.
   */
  node(op: string, inputs: readonly string[], shape: readonly number[], attrs: Readonly<Record<string, Attr>> = {}, out?: string): string {
    const output = out ?? this.fresh();
    if (out !== undefined) this.names.add(out);
    this.nodes.push({ op, name: `${output}_${op}`, inputs: inputs.slice(), outputs: [output], attrs });
    this.setShape(output, shape);
    return output;
  }

  /** x reshaped to per-item `shape` (no node when it already has it). */
  reshape(x: string, shape: readonly number[]): string {
    const s = this.shape(x);
    if (s.length === shape.length && s.every((d, i) => d === shape[i])) return x;
    const n = s.reduce((a, b) => a * b, 1);
    const m = shape.reduce((a, b) => a * b, 1);
    if (n !== m) throw new Error(`onnx graph: cannot reshape '${x}' [${s.join(', ')}] to [${shape.join(', ')}]`);
    return this.node('Reshape', [x, this.int64s([0, ...shape])], shape);
  }

  /** The encoded ModelProto. */
  encode(meta: ModelMeta, batch: number | string): Uint8Array {
    const onnx = onnxProto();
    const A = onnx.AttributeProto.AttributeType;
    const attr = (name: string, a: Attr): OnnxNamespace.IAttributeProto => {
      if ('i' in a) return { name, type: A.INT, i: a.i };
      if ('f' in a) return { name, type: A.FLOAT, f: a.f };
      if ('ints' in a) return { name, type: A.INTS, ints: a.ints.slice() };
      if ('floats' in a) return { name, type: A.FLOATS, floats: a.floats.slice() };
      return { name, type: A.STRING, s: new TextEncoder().encode(a.s) };
    };
    const batchDim: OnnxNamespace.TensorShapeProto.IDimension = typeof batch === 'number' ? { dimValue: batch } : { dimParam: batch };
    const value = (v: ValueSpec): OnnxNamespace.IValueInfoProto => ({
      name: v.name,
      type: { tensorType: { elemType: v.elemType ?? DT.float, shape: { dim: [batchDim, ...v.shape.map((d) => ({ dimValue: d }))] } } },
    });
    const model = onnx.ModelProto.create({
      irVersion: irVersionFor(meta.opset),
      opsetImport: [{ domain: '', version: meta.opset }],
      producerName: 'tsgrad',
      producerVersion: meta.producerVersion,
      docString: meta.docString,
      metadataProps: Object.entries(meta.metadata).map(([key, v]) => ({ key, value: v })),
      graph: {
        name: meta.graphName,
        node: this.nodes.map((n) => ({
          opType: n.op,
          name: n.name,
          input: n.inputs.slice(),
          output: n.outputs.slice(),
          attribute: Object.entries(n.attrs).map(([k, a]) => attr(k, a)),
        })),
        initializer: this.inits.map((t) => ({ name: t.name, dims: t.dims.slice(), dataType: t.dataType, rawData: t.raw })),
        input: this.ins.map(value),
        output: this.outs.map(value),
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  get inputs(): readonly ValueSpec[] {
    return this.ins;
  }

  get outputs(): readonly ValueSpec[] {
    return this.outs;
  }
}
