// `tsgrad info`: what this process can run on: every device (available or why not), the NVIDIA driver
// and CUDA runtime versions, each GPU's name, compute capability and memory, and the architectures the
// CUDA addon was built for. The backends are loaded when the command runs.

import { relative } from 'node:path';

import type { NativeDeviceInfo, NativeSystemInfo } from '../backends/cuda/addon.js';
import { EXIT, processIO, runCommand, type Command, type CommandIO, type ParsedArgs } from './args.js';

export const infoSpec: Command = {
  path: 'info',
  summary: 'devices, NVIDIA driver and CUDA runtime versions, GPUs, the addon build',
  description:
    "Prints every device (cpu, cuda-emu, cuda) and whether it can run here (or the reason it cannot: e.g. no NVIDIA driver), the " +
    "NVIDIA driver and CUDA runtime versions, each GPU's name, compute capability and memory, and the architectures the CUDA " +
    'addon was built for. A command given a --device that is not available exits with code 3.',
  options: { json: { type: 'boolean', help: 'print it as one JSON object' } },
  run: async (a, io) => infoBody(a, io),
};

export async function infoCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runCommand(infoSpec, argv, io);
}

/** "80-real,86-real,90" → ["sm_80", "sm_86", "sm_90", "compute_90 (PTX)"]: real code and PTX, as CMake spells them. */
export function architectureList(cmake: string): string[] {
  const out: string[] = [];
  for (const a of cmake.split(',').filter((s) => s !== '')) {
    const m = /^(\d+)(?:-(real|virtual))?$/.exec(a);
    if (m === null) out.push(a);
    else {
      if (m[2] !== 'virtual') out.push(`sm_${m[1]}`);
      if (m[2] !== 'real') out.push(`compute_${m[1]} (PTX)`);
    }
  }
  return out;
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

interface CudaReport {
  addon: string;
  addonError: string | null;
  driver: { libcudaLoaded: boolean; libcudaError: string; kernelModule: string | null; cudaVersion: string | null };
  runtime: { version: string | null; builtWith: string | null };
  architectures: string[];
  gpus: NativeSystemInfo['devices'];
}

async function infoBody(a: ParsedArgs, io: CommandIO): Promise<number> {
  await import('../index.js');
  const cuda = await import('../backends/cuda/index.js');
  const { cudaVersionText, kernelDriverVersion } = await import('../backends/cuda/diagnose.js');
  const { listDevices } = await import('../tensor/device.js');
  const { kernelsOn } = await import('../tensor/registry.js');
  const { readFileSync } = await import('node:fs');
  const root = cuda.nativeRoot();
  const version = (JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { version: string }).version;

  const load = cuda.loadAddon('cuda');
  let info: NativeDeviceInfo | null = null;
  let sys: NativeSystemInfo | null = null;
  let addonError = load.addon === null ? load.reason : null;
  if (load.addon !== null) {
    try {
      info = load.addon.info();
      sys = load.addon.systemInfo();
    } catch (e) {
      addonError = `${(e as Error).message}`;
    }
  }
  const report: CudaReport = {
    addon: relative(root, load.path),
    addonError,
    driver: {
      libcudaLoaded: sys?.libcudaLoaded ?? false,
      libcudaError: sys?.libcudaError ?? '',
      kernelModule: kernelDriverVersion(),
      cudaVersion: info !== null && info.driverVersion > 0 ? cudaVersionText(info.driverVersion) : null,
    },
    runtime: {
      version: info !== null && info.runtimeVersion > 0 ? cudaVersionText(info.runtimeVersion) : null,
      builtWith: sys !== null && sys.runtimeVersionBuilt > 0 ? cudaVersionText(sys.runtimeVersionBuilt) : null,
    },
    architectures: architectureList(sys?.cudaArchitectures ?? ''),
    gpus: sys?.devices ?? [],
  };
  const devices = listDevices().map((d) => ({ name: d.name, available: d.available, reason: d.reason, dtypes: [...d.dtypes], kernels: kernelsOn(d.name).length }));

  if (a.flag('json')) {
    io.out(`${JSON.stringify({ tsgrad: version, node: process.version, platform: `${process.platform}-${process.arch}`, devices, cuda: report }, null, 1)}\n`);
    return EXIT.ok;
  }
  const lines = [`tsgrad ${version}, node ${process.version}, ${process.platform}-${process.arch}`, ''];
  for (const d of devices) {
    const what = d.name === 'cuda-emu' ? ' (the CUDA kernels compiled for the host, one thread)' : '';
    lines.push(`device ${d.name}: ${d.available ? `available${what}; dtypes ${d.dtypes.join(', ')}; ${d.kernels} kernels` : `unavailable (${d.reason})`}`);
  }
  const dr = report.driver;
  lines.push('', 'NVIDIA / CUDA:');
  lines.push(
    `  driver         ${
      dr.libcudaLoaded
        ? `libcuda.so.1 loaded${dr.cudaVersion ? `, supports CUDA ${dr.cudaVersion}` : ''}${dr.kernelModule ? `, kernel module ${dr.kernelModule}` : ''}`
        : dr.kernelModule
          ? `kernel module ${dr.kernelModule}, but libcuda.so.1 cannot be loaded: ${dr.libcudaError}`
          : 'no NVIDIA driver found (no libcuda.so.1, no /proc/driver/nvidia)'
    }`,
  );
  lines.push(`  CUDA runtime   ${report.runtime.version ?? report.runtime.builtWith ?? 'none'}${report.runtime.version ? ' (linked statically into the addon)' : ''}`);
  lines.push(`  addon          ${report.addon}${report.addonError ? `: ${report.addonError}` : `, kernels for ${report.architectures.join(', ') || 'no architecture'}`}`);
  if (report.gpus.length === 0) lines.push('  GPUs           none visible');
  for (const g of report.gpus) lines.push(`  GPU ${g.index}          ${g.name}, compute capability ${g.computeCapability}, ${gib(g.totalMemory)}, ${g.multiProcessorCount} SMs`);
  lines.push('', "exit codes of tsgrad commands: 0 done, 1 the job failed, 2 usage error, 3 the --device is not available, 130 training interrupted (checkpoint written)");
  io.out(`${lines.join('\n')}\n`);
  return EXIT.ok;
}
