// `tsgrad check-refs <dir>`: run every PyTorch reference case of a folder on a device. The checker
// (src/refs/torch-refs.ts) is loaded when the command runs, so --help and usage errors stay fast.
// --runners loads an ES module that registers runners for one's own ops (registerRefRunner) or exports
// them as `runners` ({ op: runner }).

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Runner } from '../refs/runners.js';
import { EXIT, processIO, runCommand, UsageError, type Command, type CommandIO, type ParsedArgs } from './args.js';

/** Import a module of runners: it registers them itself, or exports `runners` (also as the default export's). */
async function loadRunners(path: string): Promise<void> {
  let mod: { runners?: unknown; default?: { runners?: unknown } };
  try {
    mod = (await import(pathToFileURL(resolve(path)).href)) as typeof mod;
  } catch (e) {
    throw new UsageError(`--runners ${path}: ${(e as Error).message}`);
  }
  const table = mod.runners ?? mod.default?.runners;
  if (table === undefined) return;
  if (typeof table !== 'object' || table === null) throw new UsageError(`--runners ${path}: 'runners' must be an object { op: runner }`);
  const { registerRefRunner } = await import('../refs/runners.js');
  for (const [op, runner] of Object.entries(table)) registerRefRunner(op, runner as Runner, { replace: true });
}

/** Tolerance factor per device: device kernels sum in a different order than the CPU backend. */
const DEVICE_TOL: Record<string, number> = { cpu: 1, 'cuda-emu': 4, cuda: 4 };

export const checkRefsSpec: Command = {
  path: 'check-refs',
  summary: 'run PyTorch reference cases (<op>_<n>.json) and compare outputs and gradients',
  description:
    'Runs every reference case (<op>_<n>.json: inputs, outputs and input gradients computed by PyTorch in float64) of a folder with ' +
    'tsgrad on a device, compares forward outputs and gradients, and prints one line per case and a summary. Exit code 1 when a case fails.',
  positionals: [{ name: 'dir', help: 'folder of reference cases' }],
  options: {
    device: { type: 'string', value: 'D', default: 'cpu', help: 'cpu, cuda or cuda-emu' },
    dtype: { type: 'string', value: 'float32|float64', default: 'float32', help: 'dtype the op runs in' },
    runners: { type: 'string', value: 'FILE', multiple: true, defaultText: 'none', help: 'ES module registering runners for one\'s own ops (see docs/GRADCHECK.md)' },
    quiet: { type: 'boolean', help: 'print only failing and unsupported cases and the summary' },
  },
  run: async (a, io) => checkRefsBody(a, io),
};

export async function checkRefsCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runCommand(checkRefsSpec, argv, io);
}

async function checkRefsBody(a: ParsedArgs, io: CommandIO): Promise<number> {
  const dtype = a.choice('dtype', ['float32', 'float64'] as const);
  const device = await a.device();
  const { getDevice } = await import('../tensor/device.js');
  const stored = getDevice(device).dtypes;
  if (dtype === 'float64' && !stored.includes('float64')) {
    throw new UsageError(`device '${device}' stores no float64 (${stored.join(', ')}); check it with --dtype float32`);
  }
  await import('../index.js');
  for (const m of a.list('runners')) await loadRunners(m);
  const { caseFiles, checkCase, formatReport } = await import('../refs/torch-refs.js');
  const dir = a.positional('dir')!;
  const files = caseFiles(dir);
  // A folder without cases is a mistake (a wrong path), not "0 passed".
  if (files.length === 0) throw new Error(`no cases: ${dir} holds no *.json reference case`);
  let passed = 0;
  let failed = 0;
  let unsupported = 0;
  for (const f of files) {
    const r = checkCase(f, { device, dtype, tolFactor: DEVICE_TOL[device] ?? 4 });
    if (r.status === 'pass') passed++;
    else if (r.status === 'FAIL') failed++;
    else unsupported++;
    if (!a.flag('quiet') || r.status !== 'pass') io.out(`${formatReport(r)}\n`);
  }
  io.out(`check-refs (${device}, ${dtype}): ${passed} passed, ${failed} failed, ${unsupported} unsupported\n`);
  return failed > 0 ? EXIT.failed : EXIT.ok;
}
