#!/usr/bin/env node
// Builds tsgrad's native addon (the `install` script of the package, `npm run build-native`,
// `npx tsgrad build-native`). The JavaScript and type declarations ship compiled; only the addon is
// built here, with cmake-js and the local compilers, offline:
//
//   build/Release/tsgrad_emu.node   where a C++ compiler and cmake exist: the cuda-emu device
//   build/Release/tsgrad_cuda.node  also where nvcc exists: the cuda device
//
// Nothing here is required for the CPU device. A missing toolchain, or a build that fails, leaves the
// install working on the CPU and ends with one line naming the devices built and why not the others;
// the same facts go to build/native-status.json, where `tsgrad info` reads them.
//
// Environment:
//   TSGRAD_SKIP_NATIVE=1      build nothing
//   TSGRAD_CUDA=0             build only the emulated variant
//   TSGRAD_CUDA_ARCH=native   CUDA architectures to build (CMake syntax, e.g. "native" for the local GPU
//                             only, or "90"); default: every architecture CUDA supports (CMakeLists.txt)
//   CUDACXX=/path/nvcc        the CUDA compiler (else nvcc on PATH, else /usr/local/cuda/bin/nvcc)
//   CXX=/path/c++             the host C++ compiler (else c++, g++, clang++ on PATH)
//   TSGRAD_BUILD_JOBS=n       parallel compile jobs (default: the number of CPUs)
//   TSGRAD_NATIVE=required    exit 1 when an addon that could be built fails (for CI); default: exit 0
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const buildDir = path.join(root, 'build');
const quiet = process.argv.includes('--quiet');

function log(msg) {
  console.log(`tsgrad: ${msg}`);
}

function works(cmd, args = ['--version']) {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

/** nvcc: $CUDACXX, then PATH, then where the CUDA toolkit installs it. */
function findNvcc() {
  const candidates = [process.env.CUDACXX, onPath('nvcc'), '/usr/local/cuda/bin/nvcc'].filter(Boolean);
  return candidates.find((c) => works(c)) ?? null;
}

function writeStatus(status) {
  try {
    mkdirSync(buildDir, { recursive: true });
    const tmp = path.join(buildDir, `.native-status.json.tmp-${process.pid}`);
    writeFileSync(tmp, `${JSON.stringify(status, null, 2)}\n`);
    renameSync(tmp, path.join(buildDir, 'native-status.json'));
  } catch {
    // The status file only improves `tsgrad info`'s explanation; a read-only package folder is fine.
  }
}

function finish(status, failed) {
  writeStatus({ ...status, node: process.version, at: new Date().toISOString() });
  const built = ['cpu', ...status.built.map((v) => (v === 'emu' ? 'cuda-emu' : 'cuda'))];
  const why = Object.entries(status.notBuilt).map(([d, reason]) => `${d}: ${reason}`);
  log(`devices built: ${built.join(', ')}${why.length ? `; not built: ${why.join('; ')}` : ''}`);
  if (why.length) log('build them later with `npx tsgrad build-native` (or `npm rebuild tsgrad`)');
  process.exitCode = failed && process.env.TSGRAD_NATIVE === 'required' ? 1 : 0;
}

function main() {
  const status = { built: [], notBuilt: {} };
  const skipAll = (reason) => {
    status.notBuilt['cuda-emu'] = reason;
    status.notBuilt.cuda = reason;
    finish(status, false);
  };
  if (process.env.TSGRAD_SKIP_NATIVE === '1') return skipAll('TSGRAD_SKIP_NATIVE=1');
  // npm prepares a git dependency by running `npm install` in a temporary clone, then packs it and
  // installs the result (which runs this script again, in its final place): build only there.
  if (process.env._PACOTE_NO_PREPARE_ && !existsSync(path.join(root, 'dist', 'src', 'index.js'))) {
    log('preparing a git checkout: the native addon is built when the package is installed');
    return;
  }
  const compilers = [process.env.CXX, 'c++', 'g++', 'clang++'].filter(Boolean);
  const cxx = compilers.find((c) => works(c));
  const nvcc = process.env.TSGRAD_CUDA === '0' ? null : findNvcc();
  if (!cxx) {
    const reason = `no C++ compiler found (tried ${compilers.join(', ')})`;
    status.notBuilt['cuda-emu'] = reason;
    status.notBuilt.cuda = nvcc ? `nvcc is at ${nvcc}, but it needs a host C++ compiler (g++ or clang++): none found (tried ${compilers.join(', ')})` : `${reason}, and no nvcc`;
    return finish(status, false);
  }
  if (!works('cmake')) return skipAll('cmake not found (install cmake ≥ 3.18)');
  let cmakeJs;
  try {
    cmakeJs = path.join(path.dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  } catch {
    return skipAll('the cmake-js package is not installed');
  }
  const jobs = Number(process.env.TSGRAD_BUILD_JOBS) || os.availableParallelism?.() || os.cpus().length;
  const args = [cmakeJs, 'build', '--directory', root, '--out', buildDir, '--config', 'Release', '--parallel', String(jobs), '--log-level', 'warn'];
  if (process.env.CXX) args.push(`--CDCMAKE_CXX_COMPILER=${cxx}`);
  if (nvcc) {
    args.push(`--CDCMAKE_CUDA_COMPILER=${nvcc}`);
    if (process.env.TSGRAD_CUDA_ARCH) args.push(`--CDCMAKE_CUDA_ARCHITECTURES=${process.env.TSGRAD_CUDA_ARCH}`);
  } else {
    args.push('--CDTSGRAD_CUDA=OFF');
  }
  if (!quiet) log(`building the native addon (${cxx}${nvcc ? ` and ${nvcc}` : ''}, ${jobs} jobs)`);
  const t0 = Date.now();
  let r = spawnSync(process.execPath, args, { cwd: root, stdio: quiet ? 'ignore' : 'inherit' });
  let cudaFailed = false;
  if ((r.error || r.status !== 0) && nvcc) {
    // A CUDA toolchain that cannot build (say, nvcc with an unsupported host compiler) should not cost
    // the emulated device: build that one alone.
    cudaFailed = true;
    log('the build with nvcc failed; building the emulated variant alone');
    r = spawnSync(process.execPath, [...args.filter((a) => !a.startsWith('--CDCMAKE_CUDA')), '--CDTSGRAD_CUDA=OFF'], { cwd: root, stdio: quiet ? 'ignore' : 'inherit' });
  }
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  const outDir = path.join(buildDir, 'Release');
  const files = existsSync(outDir) ? readdirSync(outDir).filter((f) => f.endsWith('.node')) : [];
  if (files.includes('tsgrad_emu.node')) status.built.push('emu');
  if (files.includes('tsgrad_cuda.node')) status.built.push('cuda');
  const failed = Boolean(r.error || r.status !== 0) || cudaFailed;
  const failure = `the build failed after ${seconds} s (compiler output above; rerun with \`npx tsgrad build-native\`)`;
  if (!status.built.includes('emu')) status.notBuilt['cuda-emu'] = r.error || r.status !== 0 ? failure : 'not built';
  if (!status.built.includes('cuda')) {
    if (process.env.TSGRAD_CUDA === '0') status.notBuilt.cuda = 'TSGRAD_CUDA=0';
    else if (!nvcc) status.notBuilt.cuda = 'nvcc not found (looked at $CUDACXX, PATH, /usr/local/cuda/bin/nvcc)';
    else status.notBuilt.cuda = cudaFailed ? `the CUDA build with ${nvcc} failed after ${seconds} s (compiler output above)` : failed ? failure : 'not built';
  }
  if (!failed && !quiet) log(`native addon built in ${seconds} s`);
  finish(status, failed);
}

main();
