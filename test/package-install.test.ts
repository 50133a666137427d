// tsgrad as a dependency: `npm pack`, install the tarball into a fresh ESM app (no repository beside it),
// compile a strict TypeScript program against the installed types and run it; compile and run every
// TypeScript example of the README the same way; and check what an install without a C++ compiler says.
// With TSGRAD_LONG_TESTS=1 also: install from a git URL and from a folder path.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { REPO_ROOT } from './helpers/refs.js';

const LONG = process.env['TSGRAD_LONG_TESTS'] === '1';
const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
/** The Node type declarations a TypeScript app on Node has (the version this project develops with). */
const NODE_TYPES = `@types/node@${(JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', '@types', 'node', 'package.json'), 'utf8')) as { version: string }).version}`;

/** npm's own CLI script, so npm can run with a PATH that holds nothing else. */
function npmCli(): string {
  const fromEnv = process.env['npm_execpath'];
  if (fromEnv && fromEnv.endsWith('.js') && existsSync(fromEnv)) return fromEnv;
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    const p = join(dir, 'npm');
    if (dir && existsSync(p)) {
      const real = realpathSync(p);
      const cli = real.endsWith('.js') ? real : join(dirname(real), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
      if (existsSync(cli)) return cli;
    }
  }
  throw new Error('npm-cli.js not found');
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
}

function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  return run(process.execPath, [npmCli(), ...args, '--no-audit', '--no-fund', '--prefer-offline'], cwd, env);
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout + r.stderr;
}

/** A fresh ESM app with a strict tsconfig. */
function makeApp(root: string): string {
  const app = join(root, 'app');
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }, null, 2));
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'es2022',
        lib: ['es2022'],
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        noUncheckedIndexedAccess: true,
        rootDir: 'src',
        outDir: 'out',
        types: ['node'],
      },
      include: ['src/**/*.ts'],
    }),
  );
  mkdirSync(join(app, 'src'));
  return app;
}

/** The program of the install check: tensors, gradcheck, a Darknet cfg forward and a detection. */
const PROGRAM = `import { gradcheck, randn, Rng, scope, tensor, type Tensor } from 'tsgrad';
import { Detector, generateWeights, loadWeights, makeImage, readCfgFile } from 'tsgrad/yolo';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const pkg = dirname(createRequire(import.meta.url).resolve('tsgrad/package.json'));

const a: Tensor = tensor([[1, 2], [3, 4]], { dtype: 'float64' });
const b = a.matmul(a).sum();
console.log('tensors', b.item());

const x = randn([3, 4], { dtype: 'float64', rng: new Rng(1) }).requireGrad();
const check = gradcheck((t) => t.mul(t).sigmoid().sum(), [x]);
console.log('gradcheck', check.ok, check.mode);

const cfgFile = join(pkg, 'cfg', 'darknet', 'yolov2-tiny-voc.cfg');
const cfg = readCfgFile(cfgFile, { overrides: { width: 96, height: 96, batch: 1, subdivisions: 1 } });
const det = Detector.open(cfgFile, null, { names: join(pkg, 'data', 'voc.names'), width: 96, height: 96 });
loadWeights(det.net, generateWeights(cfg, 1));
const outputs = scope(() => det.net.forward(randn([1, 3, 96, 96], { rng: new Rng(2) })).length);
console.log('forward', det.net.layers.length, 'layers', outputs, 'outputs');
const image = makeImage(160, 120, 3, 0.5);
const boxes = await det.detect(image, { thresh: 0.001 });
console.log('detections', boxes.length, boxes.every((d) => d.right <= 160 && d.bottom <= 120 && d.names.length > 0));
`;

/** One packed tarball installed (without scripts) into one fresh app, shared by the tests below. */
let installed: { root: string; app: string } | null = null;
function installedApp(): { root: string; app: string } {
  if (installed) return installed;
  const root = mkdtempSync(join(tmpdir(), 'tsgrad-app-'));
  const packed = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', root], REPO_ROOT);
  ok(packed, 'npm pack');
  const tgz = join(root, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
  const app = makeApp(root);
  ok(npm(['install', '--ignore-scripts', tgz, NODE_TYPES], app), 'npm install <tarball> --ignore-scripts');
  installed = { root, app };
  return installed;
}
after(() => {
  if (installed) rmSync(installed.root, { recursive: true, force: true });
});

/** The \`\`\`ts blocks of the README, in order. */
function readmeExamples(): string[] {
  const text = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

test('npm pack holds the compiled library with types, cfgs, the native sources and a LICENSE, and no compiled tests or benches', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-pack-'));
  try {
    const r = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], REPO_ROOT);
    ok(r, 'npm pack');
    const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    for (const f of ['LICENSE', 'README.md', 'package.json', 'bin/tsgrad.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/yolo/index.js', 'dist/src/yolo/index.d.ts', 'scripts/install.js', 'CMakeLists.txt', 'native/addon.cc', 'cfg/darknet/yolov2-tiny-voc.cfg', 'data/voc.names']) {
      assert.ok(files.includes(f), `${f} is in the tarball`);
    }
    assert.deepEqual(files.filter((f) => f.startsWith('dist/test') || f.startsWith('dist/bench') || f.startsWith('test/') || f.endsWith('.map') || f.startsWith('src/')), []);
    const pj = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
    for (const dev of ['typescript', 'tinybench', 'pngjs', '@types/node']) assert.equal(pj['dependencies']![dev], undefined, `${dev} is not a runtime dependency`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the packed tarball installs into a fresh app without scripts, a strict TypeScript program compiles against it and runs on the CPU, and so does every README example', () => {
  const { app } = installedApp();
  {
    writeFileSync(join(app, 'src', 'main.ts'), PROGRAM);
    const examples = readmeExamples();
    assert.ok(examples.length >= 3, `the README has TypeScript examples (found ${examples.length})`);
    examples.forEach((code, i) => writeFileSync(join(app, 'src', `readme-${i + 1}.ts`), code));
    ok(run(process.execPath, [TSC, '-p', 'tsconfig.json'], app), 'tsc (strict) against the installed package');
    const out = ok(run(process.execPath, [join('out', 'main.js')], app), 'the program');
    assert.match(out, /^tensors 54$/m);
    assert.match(out, /^gradcheck true full$/m);
    assert.match(out, /^forward 16 layers 16 outputs$/m);
    assert.match(out, /^detections \d+ true$/m);
    // The README's examples use paths relative to the repository root (cfg/, data/).
    for (let i = 1; i <= examples.length; i++) ok(run(process.execPath, [join(app, 'out', `readme-${i}.js`)], REPO_ROOT), `README example ${i}`);
    // Without its install script the package says how to build the native devices.
    const info = ok(run(process.execPath, [join(app, 'node_modules', '.bin', 'tsgrad'), 'info'], app), 'tsgrad info');
    assert.match(info, /device cpu: available/);
    assert.match(info, /device cuda-emu: unavailable \(native addon not built: .*npx tsgrad build-native/);
  }
});

test('npm rebuild tsgrad with no C++ compiler succeeds and says in one line which devices it built and why not the others', () => {
  const { root, app } = installedApp();
  {
    // A PATH holding node and sh alone: no c++, g++, clang++, cmake or nvcc on it.
    const bin = join(root, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    symlinkSync('/bin/sh', join(bin, 'sh'));
    const env = { ...process.env, PATH: bin, CXX: '', CUDACXX: '' };
    const out = ok(npm(['rebuild', 'tsgrad', '--foreground-scripts'], app, env), 'npm rebuild tsgrad');
    const line = out.split('\n').find((l) => l.startsWith('tsgrad: devices built:'));
    assert.ok(line, `one summary line:\n${out}`);
    assert.match(line, /devices built: cpu; not built: cuda-emu: no C\+\+ compiler found \(tried c\+\+, g\+\+, clang\+\+\); cuda: /);
    if (existsSync('/usr/local/cuda/bin/nvcc')) assert.match(line, /cuda: nvcc is at \/usr\/local\/cuda\/bin\/nvcc, but it needs a host C\+\+ compiler/);
    const status = JSON.parse(readFileSync(join(app, 'node_modules', 'tsgrad', 'build', 'native-status.json'), 'utf8')) as { built: string[] };
    assert.deepEqual(status.built, []);
    const info = ok(run(process.execPath, [join(app, 'node_modules', 'tsgrad', 'bin', 'tsgrad.js'), 'info'], app), 'tsgrad info');
    assert.match(info, /device cuda-emu: unavailable \(native addon not built: no C\+\+ compiler found/);
  }
});

test('installing from a git URL and from a folder path builds what a checkout lacks (prepare) and imports with types', { skip: !LONG && 'set TSGRAD_LONG_TESTS=1 (installs and compiles the whole project twice)' }, () => {
  const root = mkdtempSync(join(tmpdir(), 'tsgrad-git-'));
  try {
    // A clone of the committed state stands in for the remote.
    ok(run('git', ['clone', '--quiet', REPO_ROOT, join(root, 'remote')], root), 'git clone');
    const env = { ...process.env, TSGRAD_SKIP_NATIVE: '1' };
    for (const [what, spec] of [
      ['git', `git+file://${join(root, 'remote')}`],
      ['path', join(root, 'remote')],
    ] as const) {
      const app = makeApp(join(root, what));
      if (what === 'path') ok(npm(['install'], join(root, 'remote'), env), 'npm install in the folder');
      ok(npm(['install', spec, NODE_TYPES], app, env), `npm install <${what}>`);
      writeFileSync(join(app, 'src', 'main.ts'), PROGRAM);
      ok(run(process.execPath, [TSC, '-p', 'tsconfig.json'], app), `tsc against the ${what} install`);
      const out = ok(run(process.execPath, [join('out', 'main.js')], app), `the program (${what})`);
      assert.match(out, /^gradcheck true full$/m);
      assert.ok(readdirSync(join(app, 'node_modules', 'tsgrad', 'dist', 'src')).includes('index.d.ts'));
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
