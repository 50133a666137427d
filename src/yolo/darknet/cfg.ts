// Darknet .cfg parser and shape inference.
//
//   const net = parseCfg(text, { file: 'yolov2-tiny-voc.cfg', overrides: { width: 96, height: 96 } });
//   net.layers[15]            // RegionLayer: anchors, classes, ... with Darknet's defaults
//   net.layers[3].shape       // Darknet's w,h,c,out_w,out_h,out_c,inputs,outputs for that layer
//
// The first section must be [net] or [network]; every later section is one layer (Darknet's layer
// index counts them all, parameter-free ones included). Layer sections are built in order, each
// from the previous layer's output, exactly as parse_network_cfg does; any problem (unknown
// section or key, bad value, impossible geometry, wrong filter count before [region]/[detection])
// is one DarknetCfgError naming file:line.

import { InputFileError, readInputText } from '../../io/input.js';

import { DARKNET_ONLY_SECTIONS, SECTION_TABLE, type BuildContext, type LayerInput } from './cfg-layers.js';
import { readNetOptions } from './cfg-net.js';
import { SectionOptions } from './cfg-options.js';
import { lexCfg, type RawEntry, type RawSection } from './cfg-text.js';
import type { CommonLayerOptions, DarknetLayer, DarknetNetwork, LayerShape, SectionSource, TensorSpec } from './cfg-types.js';
import { DarknetCfgError } from './errors.js';
import { MAX_ELEMENTS } from '../../tensor/shape.js';
import { formatBytes } from './cfg-memory.js';

export type * from './cfg-types.js';
export { ACTIVATIONS } from './cfg-types.js';
export { DarknetCfgError } from './errors.js';

/** [net] keys replaced before parsing, e.g. `{ width: 96, height: 96, batch: 1, subdivisions: 1 }`. */
export type NetOverrides = Readonly<Record<string, number | string>>;

export interface ParseCfgOptions {
  /** Name used in error messages and `source.file` (default `<cfg>`). */
  readonly file?: string;
  readonly overrides?: NetOverrides;
}

/** Parses cfg text into a typed network with shapes. Throws DarknetCfgError (file:line). */
export function parseCfg(text: string, options: ParseCfgOptions = {}): DarknetNetwork {
  const file = options.file ?? '<cfg>';
  const sections = lexCfg(text, file);
  const first = sections[0];
  if (first === undefined) throw new DarknetCfgError(file, 0, 'the file has no sections');
  if (first.name !== 'net' && first.name !== 'network') {
    throw new DarknetCfgError(file, first.line, `the first section must be [net] or [network], got [${first.name}]`);
  }
  for (const s of sections.slice(1)) {
    if (s.name === 'net' || s.name === 'network') {
      throw new DarknetCfgError(file, s.line, `a second [${s.name}] section (the first is at line ${first.line})`);
    }
  }

  const overrides = options.overrides ?? {};
  const netSection = applyOverrides(first, overrides);
  const netOpts = new SectionOptions(file, netSection, `[${first.name}]`);
  const net = readNetOptions(netOpts, sourceOf(file, netSection, netOpts), Object.keys(overrides));
  netOpts.finish();

  const layers: DarknetLayer[] = [];
  let input: LayerInput =
    net.width * net.height * net.channels > 0
      ? { w: net.width, h: net.height, c: net.channels, inputs: net.inputs }
      : { w: 0, h: 0, c: 0, inputs: net.inputs };
  for (const section of sections.slice(1)) {
    const layer = buildLayer(file, section, { index: layers.length, input, layers });
    layers.push(layer);
    const s = layer.shape;
    input = { w: s.outW, h: s.outH, c: s.outC, inputs: s.outputs };
  }
  if (layers.length === 0) throw new DarknetCfgError(file, first.line, 'the network has no layers after [net]');

  // get_network_output_layer: the last layer that is not a [cost] layer.
  const outputLayer = [...layers].reverse().find((l) => l.type !== 'cost') ?? (layers[layers.length - 1] as DarknetLayer);
  const last = layers[layers.length - 1] as DarknetLayer;
  const lastTruths = last.type === 'region' || last.type === 'detection' ? last.truths : 0;
  return {
    file,
    net,
    layers,
    input: net.width * net.height * net.channels > 0 ? [net.channels, net.height, net.width] : [net.inputs, 1, 1],
    inputs: net.inputs,
    outputs: outputLayer.shape.outputs,
    truths: lastTruths > 0 ? lastTruths : outputLayer.shape.outputs,
    paramCount: layers.reduce((a, l) => a + l.paramCount, 0),
  };
}

/** The text of a .cfg file (a bounded read); a DarknetCfgError naming the path when it cannot be read. */
export function readCfgText(path: string): string {
  try {
    return readInputText(path, 'cfg file');
  } catch (e) {
    throw e instanceof InputFileError ? new DarknetCfgError(path, 0, `cannot read the cfg file: ${e.reason}`) : e;
  }
}

/** Reads and parses a .cfg file; messages name it by `path` as given unless `options.file` is set. */
export function readCfgFile(path: string, options: ParseCfgOptions = {}): DarknetNetwork {
  return parseCfg(readCfgText(path), { ...options, file: options.file ?? path });
}

/** Human-readable one-line-per-layer summary, in the spirit of Darknet's own printout. */
export function describeNetwork(net: DarknetNetwork): string {
  const rows = net.layers.map((l) => {
    const s = l.shape;
    const inShape = s.c > 0 ? `${s.c}×${s.h}×${s.w}` : `${s.inputs}`;
    const [c, h, w] = l.out;
    return `${String(l.index).padStart(4)} ${l.type.padEnd(14)} ${inShape.padStart(14)} -> ${`${c}×${h}×${w}`.padEnd(14)} params ${l.paramCount}`;
  });
  return [`input ${net.input.join('×')}`, ...rows, `total params ${net.paramCount}`].join('\n');
}

function applyOverrides(section: RawSection, overrides: NetOverrides): RawSection {
  const keys = Object.keys(overrides);
  if (keys.length === 0) return section;
  const entries: RawEntry[] = section.entries.filter((e) => !(e.key in overrides));
  for (const key of keys) entries.push({ key, value: String(overrides[key]), line: 0 });
  return { ...section, entries };
}

function sourceOf(file: string, section: RawSection, o: SectionOptions): SectionSource {
  return { file, line: section.line, section: section.name, keys: o.keyLines() };
}

function readCommon(o: SectionOptions): CommonLayerOptions {
  o.unsupported('numload', '0', 'loading only some filters');
  o.unsupported('truth', '0', 'layer output used as truth');
  o.unsupported('smooth', '0', 'label smoothing');
  return {
    learningRateScale: o.float('learning_rate', 1, { min: 0 }),
    onlyforward: o.flag('onlyforward', false),
    stopbackward: o.flag('stopbackward', false),
    dontsave: o.flag('dontsave', false),
    dontload: o.flag('dontload', false),
    dontloadscales: o.flag('dontloadscales', false),
  };
}

function buildLayer(file: string, section: RawSection, ctx: BuildContext): DarknetLayer {
  const spec = SECTION_TABLE.get(section.name);
  if (spec === undefined) {
    const why = DARKNET_ONLY_SECTIONS.has(section.name)
      ? 'a Darknet section that tsgrad does not implement'
      : 'unknown section';
    const known = [...new Set([...SECTION_TABLE.values()].map((s) => s.type))].join(', ');
    throw new DarknetCfgError(file, section.line, `[${section.name}] (layer ${ctx.index}): ${why}; supported: ${known}`);
  }
  const o = new SectionOptions(file, section, `[${section.name}] (layer ${ctx.index})`);
  const fields = spec.build(o, ctx);
  const common = readCommon(o);
  o.finish();
  checkShape(o, fields.shape);
  const partial = { ...fields, type: spec.type, index: ctx.index, source: sourceOf(file, section, o), common };
  const tensors = (spec.tensors as (l: DarknetLayer) => TensorSpec[])({ ...partial, out: [0, 0, 0], tensors: [], paramCount: 0 } as DarknetLayer);
  checkTensors(o, tensors);
  const s = fields.shape;
  const image = s.outC * s.outH * s.outW;
  const out: [number, number, number] = image > 0 && image === s.outputs ? [s.outC, s.outH, s.outW] : [s.outputs, 1, 1];
  return { ...partial, out, tensors, paramCount: tensors.reduce((a, t) => a + t.count, 0) } as DarknetLayer;
}

function checkShape(o: SectionOptions, s: LayerShape): void {
  if (!(s.outputs > 0)) o.fail(null, `produces no outputs (input ${s.c}×${s.h}×${s.w}, ${s.inputs} values)`);
  if (!Number.isSafeInteger(s.outputs)) o.fail(null, `output size ${s.outputs} is too large`);
  if (s.outputs > MAX_ELEMENTS) {
    o.fail(null, `output of ${s.outputs} values per image (${s.outC}×${s.outH}×${s.outW}, ${formatBytes(s.outputs * 4)} as float32) is more than one tensor can hold (${MAX_ELEMENTS} values)`);
  }
}

function checkTensors(o: SectionOptions, tensors: readonly TensorSpec[]): void {
  for (const t of tensors) {
    if (!(Number.isSafeInteger(t.count) && t.count <= MAX_ELEMENTS)) {
      o.fail(null, `its '${t.name}' would hold ${t.count} values (${formatBytes(t.count * 4)} as float32), more than one tensor can hold (${MAX_ELEMENTS} values)`);
    }
  }
}
