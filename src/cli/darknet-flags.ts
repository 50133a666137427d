// Darknet's single-dash flags (`-thresh 0.3`, `-map`, `-dont_show`) as the tsgrad options they stand for,
// for the `darknet` table of a CommandSpec. A flag whose feature tsgrad lacks is answered with one line
// naming the nearest option.

import { UsageError, type DarknetFlag } from './args.js';

/** `-name V` → `--option V` (or the switch `-name` → `--option`). */
export function same(option: string, value?: string): DarknetFlag {
  if (value === undefined) return { expand: () => [`--${option}`], help: `= --${option}` };
  return { value, expand: (v) => [`--${option}`, v], help: `= --${option} ${value}` };
}

/** A flag accepted with no effect, because tsgrad already behaves that way. */
export function accepted(why: string, value?: string): DarknetFlag {
  return { ...(value === undefined ? {} : { value }), expand: () => [], help: `accepted, no effect: ${why}` };
}

/** A flag for a feature tsgrad does not have: a usage error naming the nearest thing it has. */
export function lacking(flag: string, nearest: string, value?: string): DarknetFlag {
  return {
    ...(value === undefined ? {} : { value }),
    expand: () => {
      throw new UsageError(`tsgrad has no Darknet -${flag}; nearest: ${nearest}`);
    },
    help: `not in tsgrad; nearest: ${nearest}`,
  };
}

/** `-name V` → `--option f(V)`, for values spelled differently (`-points 11` → `--ap voc07`). */
export function mapped(flag: string, option: string, value: string, table: Readonly<Record<string, string>>): DarknetFlag {
  const pairs = Object.entries(table);
  return {
    value,
    expand: (v) => {
      const to = table[v];
      if (to === undefined) throw new UsageError(`-${flag} ${v}: the values tsgrad maps are ${pairs.map(([k]) => k).join(', ')}`);
      return [`--${option}`, to];
    },
    help: pairs.map(([k, t]) => `${k} = --${option} ${t}`).join(', '),
  };
}

function gpuIndex(flag: string, v: string): string[] {
  if (v === '0') return ['--device', 'cuda'];
  throw new UsageError(`${flag} ${v}: tsgrad runs on one GPU for now (GPU 0): use ${flag} 0, i.e. --device cuda`);
}

/** The device flags of Darknet: -gpus 0, -i 0 (GPU index), -nogpu. */
export const DEVICE_FLAGS: Readonly<Record<string, DarknetFlag>> = {
  gpus: { value: '0', expand: (v) => gpuIndex('-gpus', v), help: '= --device cuda (one GPU for now: only -gpus 0)' },
  i: { value: '0', expand: (v) => gpuIndex('-i', v), help: '= --device cuda (GPU 0 only)' },
  nogpu: { expand: () => ['--device', 'cpu'], help: '= --device cpu' },
};

/** Flags of Darknet's display and web outputs: tsgrad opens no window and serves nothing. */
export const NO_WINDOW_FLAGS: Readonly<Record<string, DarknetFlag>> = {
  dont_show: accepted('tsgrad never opens a window'),
};

/** -width/-height → --width/--height. */
export const SIZE_FLAGS: Readonly<Record<string, DarknetFlag>> = {
  width: same('width', 'W'),
  height: same('height', 'H'),
};
