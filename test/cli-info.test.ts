// `tsgrad info` from a real process: devices, driver and runtime versions, GPUs, the addon's architectures,
// --json, and the reason an unavailable cuda device gives (the explanation rules are checked on
// synthetic runtime reports too, so every rule is exercised whatever machine runs the tests).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';

import type { NativeDeviceInfo } from '../src/backends/cuda/addon.js';
import { cudaVersionText, unavailableReason } from '../src/backends/cuda/diagnose.js';
import { architectureList } from '../src/cli/info.js';
import { tsgrad } from './helpers/cli.js';

interface InfoJson {
  tsgrad: string;
  devices: { name: string; available: boolean; reason: string; kernels: number }[];
  cuda: {
    addon: string;
    addonError: string | null;
    driver: { libcudaLoaded: boolean; libcudaError: string; kernelModule: string | null; cudaVersion: string | null };
    runtime: { version: string | null; builtWith: string | null };
    architectures: string[];
    gpus: { index: number; name: string; computeCapability: string; totalMemory: number }[];
  };
}

const json = tsgrad(['info', '--json']);
const info = JSON.parse(json.stdout) as InfoJson;

test('info --json holds every device, the driver, the runtime, the GPUs and the addon architectures', () => {
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(info.devices.map((d) => d.name).sort(), ['cpu', 'cuda', 'cuda-emu']);
  for (const d of info.devices) assert.equal(d.available, d.reason === '', d.name);
  assert.equal(info.cuda.addon, 'build/Release/tsgrad_cuda.node');
  if (info.cuda.addonError === null) {
    assert.ok(info.cuda.architectures.length > 0, 'a built CUDA addon names its architectures');
    for (const a of info.cuda.architectures) assert.match(a, /^(sm_\d+|compute_\d+ \(PTX\))$/);
    assert.match(info.cuda.runtime.builtWith ?? '', /^\d+\.\d+$/);
  }
  const cuda = info.devices.find((d) => d.name === 'cuda')!;
  assert.equal(cuda.available, info.cuda.gpus.length > 0 && cuda.reason === '');
});

test('info prints the devices, the NVIDIA driver, the CUDA runtime, the addon with its architectures and each GPU', () => {
  const r = tsgrad(['info']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^tsgrad \d+\.\d+\.\d+, node v\d+/);
  for (const d of info.devices) assert.match(r.stdout, new RegExp(`^device ${d.name}: ${d.available ? 'available' : 'unavailable \\('}`, 'm'));
  assert.match(r.stdout, /^ {2}driver {9}\S/m);
  assert.match(r.stdout, /^ {2}CUDA runtime {3}\S/m);
  if (info.cuda.addonError === null) assert.ok(r.stdout.includes(`  addon          build/Release/tsgrad_cuda.node, kernels for ${info.cuda.architectures.join(', ')}`), r.stdout);
  if (info.cuda.gpus.length === 0) assert.match(r.stdout, /^ {2}GPUs {11}none visible$/m);
  for (const g of info.cuda.gpus) assert.match(r.stdout, new RegExp(`^  GPU ${g.index} +.+, compute capability ${g.computeCapability.replace('.', '\\.')}, [\\d.]+ GiB, \\d+ SMs$`, 'm'));
  assert.match(r.stdout, /exit codes of tsgrad commands: 0 done, 1 the job failed, 2 usage error, 3 the --device is not available/);
  const extra = tsgrad(['info', 'now']);
  assert.equal(extra.code, 2);
  assert.match(extra.stderr, /^error: unexpected argument 'now' \(info takes options only\)$/m);
});

const noDriver = !existsSync('/proc/driver/nvidia') && info.cuda.addonError === null && !info.cuda.driver.libcudaLoaded;

test('on a machine without an NVIDIA driver, cuda is unavailable because "no NVIDIA driver found", not "driver version is insufficient"', { skip: !noDriver && 'this machine has an NVIDIA driver (or no CUDA addon)' }, () => {
  const r = tsgrad(['info']);
  assert.match(r.stdout, /^device cuda: unavailable \(no NVIDIA driver found \(libcuda\.so\.1 cannot be loaded and \/proc\/driver\/nvidia does not exist; the CUDA runtime says cuda\w+ \(\d+\)\)\)$/m);
  assert.match(r.stdout, /^ {2}driver {9}no NVIDIA driver found/m);
  assert.doesNotMatch(r.stdout, /driver version is insufficient/i);
});

function report(over: Partial<NativeDeviceInfo>): NativeDeviceInfo {
  return {
    backend: 'cuda',
    available: false,
    reason: 'cudaGetDeviceCount failed: cudaErrorInsufficientDriver (35): CUDA driver version is insufficient for CUDA runtime version',
    errorCode: 35,
    deviceCount: 0,
    name: '',
    computeCapability: '0.0',
    totalMemory: 0,
    multiProcessorCount: 0,
    driverVersion: 0,
    runtimeVersion: 13000,
    ...over,
  };
}

test('the unavailable reason tells no driver, a kernel module without libcuda.so.1, a driver older than the runtime, and no GPU apart', () => {
  const missing = { libcudaLoaded: false, libcudaError: 'libcuda.so.1: cannot open shared object file' };
  const loaded = { libcudaLoaded: true, libcudaError: '' };
  assert.match(unavailableReason(report({}), missing, null), /^no NVIDIA driver found \(.*cudaErrorInsufficientDriver \(35\)\)$/);
  assert.match(unavailableReason(report({}), missing, '550.54.15'), /^the NVIDIA kernel driver 550\.54\.15 is loaded but its library libcuda\.so\.1 cannot be loaded \(libcuda\.so\.1: cannot open/);
  assert.equal(
    unavailableReason(report({ driverVersion: 12020 }), loaded, '535.1'),
    'the NVIDIA driver supports CUDA 12.2, older than the CUDA runtime 13.0 this addon was built with: update the driver (cudaErrorInsufficientDriver (35))',
  );
  assert.match(unavailableReason(report({ errorCode: 100, reason: 'cudaGetDeviceCount failed: cudaErrorNoDevice (100): no CUDA-capable device is detected' }), loaded, '550.1'), /^the NVIDIA driver is installed but sees no GPU \(cudaErrorNoDevice \(100\)\)$/);
  const old = report({ errorCode: 0, reason: 'CUDA device 0 (Tesla T4) has compute capability 7.5; this build has kernels for 8.0 and newer only' });
  assert.equal(unavailableReason(old, loaded, '550.1'), old.reason);
  assert.equal(unavailableReason(report({ available: true, reason: '', errorCode: 0 }), loaded, '550.1'), '');
  assert.equal(cudaVersionText(12040), '12.4');
});

test("the addon's CMake architectures read as real code and PTX", () => {
  assert.deepEqual(architectureList('80-real,86-real,89-real,90'), ['sm_80', 'sm_86', 'sm_89', 'sm_90', 'compute_90 (PTX)']);
  assert.deepEqual(architectureList('75-virtual'), ['compute_75 (PTX)']);
  assert.deepEqual(architectureList(''), []);
});
