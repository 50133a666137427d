// `tsgrad check-refs <dir> [--device D] [--dtype float32|float64]`: run every PyTorch reference case.

import { parseArgs } from 'node:util';
import '../backends/cuda/index.js';
import { getDevice } from '../tensor/device.js';
import { caseFiles, checkCase, formatReport } from '../refs/torch-refs.js';
import { attachNegativeValues } from './args.js';

export const CHECK_REFS_USAGE = 'usage: tsgrad check-refs <dir> [--device cpu|cuda|cuda-emu] [--dtype float32|float64] [--quiet]';

/** Tolerance factor per device: device kernels sum in a different order than the CPU backend. */
const DEVICE_TOL: Record<string, number> = { cpu: 1, 'cuda-emu': 4, cuda: 4 };

export async function checkRefsCommand(argv: string[]): Promise<number> {
  const options = { device: { type: 'string', default: 'cpu' }, dtype: { type: 'string', default: 'float32' }, quiet: { type: 'boolean', default: false } } as const;
  let parsed;
  try {
    parsed = parseArgs({ args: attachNegativeValues(argv, options), allowPositionals: true, options });
  } catch (e) {
    console.error(`check-refs: ${(e as Error).message}\n${CHECK_REFS_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    console.error(CHECK_REFS_USAGE);
    return 2;
  }
  const dtype = values.dtype;
  if (dtype !== 'float32' && dtype !== 'float64') {
    console.error(`check-refs: --dtype must be float32 or float64, got '${dtype}'`);
    return 2;
  }
  const device = values.device;
  try {
    getDevice(device);
  } catch (e) {
    console.error(`check-refs: --device: ${(e as Error).message}\n${CHECK_REFS_USAGE}`);
    return 2;
  }
  let files: string[];
  try {
    files = caseFiles(positionals[0]!);
  } catch (e) {
    console.error(`check-refs: ${(e as Error).message}`);
    return 1;
  }
  if (files.length === 0) {
    console.error(`check-refs: no cases: ${positionals[0]} holds no *.json reference case`);
    return 1;
  }
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
