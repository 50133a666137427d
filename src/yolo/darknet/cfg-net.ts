// The [net] / [network] section: Darknet's parse_net_options, with its defaults.

import type { SectionOptions } from './cfg-options.js';
import type { LearningRatePolicy, NetOptions, SectionSource } from './cfg-types.js';

const POLICIES: readonly LearningRatePolicy[] = ['constant', 'step', 'steps', 'exp', 'poly', 'sigmoid', 'random'];

export function readNetOptions(o: SectionOptions, source: SectionSource, overridden: readonly string[]): NetOptions {
  const batch = o.int('batch', 1, { min: 1 });
  const subdivisions = o.int('subdivisions', 1, { min: 1 });
  const timeSteps = o.int('time_steps', 1, { min: 1 });
  const miniBatch = Math.trunc(batch / subdivisions) * timeSteps;
  if (miniBatch < 1) o.fail('subdivisions', `batch=${batch} / subdivisions=${subdivisions} leaves no image per forward pass`);

  const height = o.int('height', 0, { min: 0 });
  const width = o.int('width', 0, { min: 0 });
  const channels = o.int('channels', 0, { min: 0 });
  const image = width * height * channels;
  const inputs = o.int('inputs', image, { min: 0 });
  if (inputs === 0) o.fail(null, 'no input size: set width, height and channels (or inputs)');
  if (image !== 0 && inputs !== image) {
    o.fail('inputs', `inputs=${inputs} disagrees with width*height*channels = ${width}*${height}*${channels} = ${image}`);
  }

  const maxCrop = o.int('max_crop', width * 2, { min: 0 });
  const minCrop = o.int('min_crop', width, { min: 0 });
  const policy = o.str('policy', 'constant', POLICIES);
  const steps = o.intList('steps') ?? [];
  const scales = o.floatList('scales') ?? [];
  if (policy === 'steps') {
    if (!o.has('steps') || !o.has('scales')) o.fail('policy', 'policy=steps needs both steps= and scales=');
    if (steps.length !== scales.length) {
      o.fail('scales', `steps has ${steps.length} values but scales has ${scales.length}`);
    }
  }

  return {
    source,
    overridden,
    batch,
    subdivisions,
    timeSteps,
    miniBatch,
    width,
    height,
    channels,
    inputs,
    learningRate: o.float('learning_rate', 0.001, { min: 0 }),
    momentum: o.float('momentum', 0.9, { min: 0 }),
    decay: o.float('decay', 0.0001, { min: 0 }),
    policy,
    burnIn: o.int('burn_in', 0, { min: 0 }),
    power: o.float('power', 4),
    step: o.int('step', 1, { min: 1 }),
    scale: o.float('scale', 1),
    steps,
    scales,
    gamma: o.float('gamma', 1),
    maxBatches: o.int('max_batches', 0, { min: 0 }),
    adam: o.flag('adam', false),
    B1: o.float('B1', 0.9, { min: 0, max: 1, maxExclusive: true }),
    B2: o.float('B2', 0.999, { min: 0, max: 1, maxExclusive: true }),
    eps: o.float('eps', 0.0000001, { min: 0, minExclusive: true }),
    notruth: o.flag('notruth', false),
    random: o.flag('random', false),
    center: o.flag('center', false),
    clip: o.float('clip', 0, { min: 0 }),
    maxCrop,
    minCrop,
    maxRatio: o.float('max_ratio', width > 0 ? maxCrop / width : 0, { min: 0 }),
    minRatio: o.float('min_ratio', width > 0 ? minCrop / width : 0, { min: 0 }),
    angle: o.float('angle', 0),
    aspect: o.float('aspect', 1, { min: 0, minExclusive: true }),
    saturation: o.float('saturation', 1, { min: 0 }),
    exposure: o.float('exposure', 1, { min: 0 }),
    hue: o.float('hue', 0, { min: 0 }),
  };
}
