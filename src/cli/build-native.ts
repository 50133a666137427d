// `tsgrad build-native`: builds the native addon (the cuda-emu and cuda devices) of this installation,
// for an install made with --ignore-scripts, or where npm did not run the package's install script.
// It runs the package's own scripts/install.js; its environment variables apply (TSGRAD_CUDA_ARCH, ...).

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { EXIT, processIO, runCommand, type Command, type CommandIO } from './args.js';

/** The installed package's root (the folder holding scripts/install.js). */
function packageRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
}

export const buildNativeSpec: Command = {
  path: 'build-native',
  summary: 'build the native addon (cuda-emu, cuda) of this installation',
  description:
    'Builds build/Release/tsgrad_emu.node (needs a C++ compiler and cmake) and tsgrad_cuda.node (also nvcc) inside the tsgrad ' +
    'package, then says which devices were built and why not the others.',
  options: {},
  notes:
    'Environment: TSGRAD_CUDA=0 (emulation only), TSGRAD_CUDA_ARCH=native (only the local GPU\'s architecture), ' +
    'CUDACXX=/path/to/nvcc, CXX=/path/to/c++, TSGRAD_BUILD_JOBS=n.',
  run: async () => {
    const script = join(packageRoot(), 'scripts', 'install.js');
    if (!existsSync(script)) throw new Error(`${script} is missing from this installation`);
    const r = spawnSync(process.execPath, [script], { stdio: 'inherit', env: { ...process.env, TSGRAD_NATIVE: 'required' } });
    return r.status ?? EXIT.failed;
  },
};

export async function buildNativeCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runCommand(buildNativeSpec, argv, io);
}
