// `tsgrad check-refs <dir> [--device D] [--dtype float32|float64] [--runners module.js]`: run every PyTorch
// reference case. --runners loads an ES module that registers runners for one's own ops (registerRefRunner)
// or exports them as `runners` ({ op: runner }).

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import '../backends/cuda/index.js';
import { getDevice } from '../tensor/device.js';
import { registerRefRunner, type Runner } from '../refs/runners.js';
import { caseFiles, checkCase, formatReport } from '../refs/torch-refs.js';

/** Import a module of runners: it registers them itself, or exports `runners` (also as the default export's). */
async function loadRunners(path: string): Promise<void> {
  const mod = (await import(pathToFileURL(resolve(path)).href)) as { runners?: unknown; default?: { runners?: unknown } };
  const table = mod.runners ?? mod.default?.runners;
  if (table === undefined) return;
  if (typeof table !== 'object' || table === null) throw new Error(`${path}: 'runners' must be an object { op: runner }`);
  for (const [op, runner] of Object.entries(table)) registerRefRunner(op, runner as Runner, { replace: true });
}

export const CHECK_REFS_USAGE = 'usage: tsgrad check-refs <dir> [--device cpu|cuda|cuda-emu] [--dtype float32|float64] [--runners module.js] [--quiet]';

/** Tolerance factor per device: device kernels sum in a different order than the CPU backend. */
const DEVICE_TOL: Record<string, number> = { cpu: 1, 'cuda-emu': 4, cuda: 4 };

export async function checkRefsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      device: { type: 'string', default: 'cpu' },
      dtype: { type: 'string', default: 'float32' },
      runners: { type: 'string', multiple: true, default: [] },
      quiet: { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1) {
    console.error(CHECK_REFS_USAGE);
    return 2;
  }
  const dtype = values.dtype;
  if (dtype !== 'float32' && dtype !== 'float64') {
    console.error(`check-refs: --dtype must be float32 or float64, got '${dtype}'`);
    return 2;
  }
  const device = values.device!;
  const dev = getDevice(device);
  if (dtype === 'float64' && !dev.dtypes.includes('float64')) {
    console.error(`check-refs: device '${device}' stores no float64 (${dev.dtypes.join(', ')}); check it with --dtype float32`);
    return 2;
  }
  for (const m of values.runners!) {
    try {
      await loadRunners(m);
    } catch (e) {
      console.error(`check-refs: --runners ${m}: ${(e as Error).message}`);
      return 2;
    }
  }
  const files = caseFiles(positionals[0]!);
  let passed = 0;
  let failed = 0;
  let unsupported = 0;
  for (const f of files) {
    const r = checkCase(f, { device, dtype, tolFactor: DEVICE_TOL[device] ?? 4 });
    if (r.status === 'pass') passed++;
    else if (r.status === 'FAIL') failed++;
    else unsupported++;
    if (!values.quiet || r.status !== 'pass') console.log(formatReport(r));
  }
  console.log(`check-refs (${device}, ${dtype}): ${passed} passed, ${failed} failed, ${unsupported} unsupported`);
  return failed > 0 ? 1 : 0;
}
