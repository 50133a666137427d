#!/usr/bin/env node
// npm "install" script: build the TypeScript (`tsc -p tsconfig.json`), then the native addon with cmake-js, offline.
//
//   build/Release/tsgrad_emu.node   always, where a C++ compiler and cmake exist (the cuda-emu device)
//   build/Release/tsgrad_cuda.node  also where nvcc exists (the cuda device)
//
// A missing compiler or cmake is not an error: the script says so in one line and the CUDA devices report
// themselves unavailable. A kernel that does not compile is an error (exit 1).
// Environment: TSGRAD_SKIP_NATIVE=1 skips the addon; TSGRAD_CUDA=0 builds only the emulated variant;
// TSGRAD_BUILD_JOBS=n sets the parallel compile jobs (default: the number of CPUs).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function log(msg) {
  console.log(`tsgrad install: ${msg}`);
}

function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
}

function works(cmd, args = ['--version']) {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

function seconds(t0) {
  return ((Date.now() - t0) / 1000).toFixed(1);
}

let failed = false;

// 1. TypeScript. Type errors are reported and fail the install, but tsc still emits dist/, and the addon
// is still built.
{
  const t0 = Date.now();
  let tsc;
  try {
    tsc = path.join(path.dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
  } catch {
    tsc = null;
  }
  const r = tsc ? run(process.execPath, [tsc, '-p', 'tsconfig.json']) : run('npx', ['tsc', '-p', 'tsconfig.json']);
  if (r.error || r.status !== 0) {
    failed = true;
    log(`TypeScript build failed (tsc exit ${r.status ?? r.error?.message}); see the errors above`);
  } else {
    log(`TypeScript built in ${seconds(t0)} s`);
  }
}

// 2. Native addon.
function buildNative() {
  if (process.env.TSGRAD_SKIP_NATIVE === '1') {
    log('TSGRAD_SKIP_NATIVE=1: native addon not built; the cuda and cuda-emu devices are unavailable');
    return true;
  }
  const compilers = [process.env.CXX, 'c++', 'g++', 'clang++'].filter(Boolean);
  const cxx = compilers.find((c) => works(c));
  if (!cxx) {
    log(`no C++ compiler found (tried ${compilers.join(', ')}): native addon not built; the cuda and cuda-emu devices are unavailable`);
    return true;
  }
  if (!works('cmake')) {
    log('cmake not found: native addon not built; the cuda and cuda-emu devices are unavailable');
    return true;
  }
  let cmakeJs;
  try {
    cmakeJs = path.join(path.dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  } catch {
    log('cmake-js is not installed (npm dependency missing): native addon not built');
    return true;
  }
  const wantCuda = process.env.TSGRAD_CUDA !== '0';
  const jobs = Number(process.env.TSGRAD_BUILD_JOBS) || os.availableParallelism?.() || os.cpus().length;
  const args = [cmakeJs, 'build', '--directory', root, '--out', path.join(root, 'build'), '--config', 'Release',
    '--parallel', String(jobs), '--log-level', 'warn'];
  if (!wantCuda) args.push('--CDTSGRAD_CUDA=OFF');
  log(`building the native addon (cmake-js, ${jobs} jobs${wantCuda ? '' : ', CUDA variant disabled'})`);
  const t0 = Date.now();
  const r = run(process.execPath, args);
  if (r.error || r.status !== 0) {
    log(`native addon build FAILED after ${seconds(t0)} s (see the compiler output above)`);
    return false;
  }
  const outDir = path.join(root, 'build', 'Release');
  const built = existsSync(outDir) ? readdirSync(outDir).filter((f) => f.endsWith('.node')) : [];
  log(`native addon built in ${seconds(t0)} s: ${built.map((f) => `build/Release/${f}`).join(', ') || '(nothing)'}`);
  if (!built.includes('tsgrad_cuda.node')) log('nvcc not found or CUDA disabled: tsgrad_cuda.node not built; the cuda device is unavailable');
  return built.includes('tsgrad_emu.node');
}

if (!buildNative()) failed = true;
process.exitCode = failed ? 1 : 0;
