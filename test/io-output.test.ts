// Every output goes through writeOutput (src/io/output.ts): atomic over regular files and missing
// paths, the mode of a replaced file kept, symbolic links followed to their target, character devices
// and FIFOs written through (a FIFO without a reader is a clear error), folders refused, no temporary
// file left after a failure; ensureDir fails at once where mkdir -p would spin (/proc). The CLI writes
// --json to /dev/full as an error naming it and leaves the device a device.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, openSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { checkWritableDir, ensureDir, removeStaleTemps, writeOutput } from '../src/io/output.js';
import { detectorFixture, REPO_ROOT, runCli, TSGRAD_BIN } from './helpers/detector-fixture.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tsgrad-out-'));
}

test('writeOutput creates a missing file (and its folders) and replaces a regular file keeping its mode 0600', async () => {
  const dir = tmp();
  try {
    const fresh = join(dir, 'a', 'b', 'new.txt');
    await writeOutput(fresh, 'hello');
    assert.equal(readFileSync(fresh, 'utf8'), 'hello');
    const kept = join(dir, 'secret.json');
    writeFileSync(kept, 'old');
    chmodSync(kept, 0o600);
    await writeOutput(kept, new TextEncoder().encode('new'));
    assert.equal(readFileSync(kept, 'utf8'), 'new');
    assert.equal(statSync(kept).mode & 0o777, 0o600, 'the replaced file keeps its permission bits (was 0644 before)');
    assert.deepEqual(readdirSync(dir).sort(), ['a', 'secret.json'], 'no temporary file is left');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeOutput follows a symbolic link (the link stays a link, its target gets the bytes), a dangling one creates the target', async () => {
  const dir = tmp();
  try {
    const target = join(dir, 'target.png');
    writeFileSync(target, 'old');
    chmodSync(target, 0o640);
    const link = join(dir, 'link.png');
    symlinkSync('target.png', link);
    await writeOutput(link, 'new');
    assert.ok(lstatSync(link).isSymbolicLink(), 'the link was replaced by a file');
    assert.equal(readlinkSync(link), 'target.png');
    assert.equal(readFileSync(target, 'utf8'), 'new');
    assert.equal(statSync(target).mode & 0o777, 0o640);
    const dangling = join(dir, 'dangling.json');
    symlinkSync(join(dir, 'sub', 'made.json'), dangling);
    await writeOutput(dangling, '{}');
    assert.ok(lstatSync(dangling).isSymbolicLink());
    assert.equal(readFileSync(join(dir, 'sub', 'made.json'), 'utf8'), '{}');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeOutput writes through /dev/null, reports /dev/full as ENOSPC naming it, and both stay character devices', async () => {
  await writeOutput('/dev/null', 'discarded');
  assert.ok(statSync('/dev/null').isCharacterDevice());
  if (!existsSync('/dev/full')) return;
  await assert.rejects(writeOutput('/dev/full', 'x'.repeat(10000)), /cannot write \/dev\/full: .*ENOSPC/);
  assert.ok(statSync('/dev/full').isCharacterDevice());
});

test('writeOutput writes through a FIFO with a reader and refuses one without a reader at once; a folder is refused', async () => {
  const dir = tmp();
  try {
    const fifo = join(dir, 'pipe');
    try {
      execFileSync('mkfifo', [fifo]);
    } catch {
      return; // no mkfifo here
    }
    await assert.rejects(writeOutput(fifo, 'x'), /cannot write .*pipe: a FIFO that no process is reading/);
    const reader = spawn('cat', [fifo]);
    let got = '';
    reader.stdout.on('data', (d: Buffer) => (got += d.toString()));
    const closed = new Promise((r) => reader.on('close', r));
    // Wait until cat has the FIFO open for reading.
    for (let i = 0; i < 200; i++) {
      try {
        await writeOutput(fifo, 'through the pipe '.repeat(10000));
        break;
      } catch (e) {
        if (!/no process is reading/.test((e as Error).message)) throw e;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    await closed;
    assert.equal(got, 'through the pipe '.repeat(10000));
    assert.ok(statSync(fifo).isFIFO(), 'the FIFO is still a FIFO');
    await assert.rejects(writeOutput(dir, 'x'), /cannot write .*: it is a folder/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a write that fails half-way leaves the old file as it was and no temporary file', async () => {
  const dir = tmp();
  try {
    const file = join(dir, 'state.bin');
    writeFileSync(file, 'good');
    await assert.rejects(
      writeOutput(file, async (sink) => {
        await sink(new Uint8Array(1000));
        throw new Error('the tensor went away');
      }),
      /cannot write .*state\.bin: the tensor went away/,
    );
    assert.equal(readFileSync(file, 'utf8'), 'good');
    assert.deepEqual(readdirSync(dir), ['state.bin']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ensureDir fails at once under /proc and under a file (mkdir -p spins forever on /proc); checkWritableDir finds them too', async () => {
  const dir = tmp();
  try {
    if (existsSync('/proc/self')) {
      const t0 = performance.now();
      assert.throws(() => ensureDir('/proc/tsgrad-no/such/folder'), /cannot create folder \/proc\/tsgrad-no .*does not take new folders/);
      await assert.rejects(checkWritableDir('/proc/tsgrad-no/backup'), /\/proc\/tsgrad-no/);
      assert.ok(performance.now() - t0 < 1000);
    }
    writeFileSync(join(dir, 'file'), '');
    assert.throws(() => ensureDir(join(dir, 'file', 'sub')), /file is a file, not a folder/);
    ensureDir(join(dir, 'x', 'y'));
    assert.ok(statSync(join(dir, 'x', 'y')).isDirectory());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('removeStaleTemps removes the temporary files of dead processes and keeps those of live ones and other files', () => {
  const dir = tmp();
  try {
    mkdirSync(join(dir, 'keep.tmp-1-abcdef01'));
    writeFileSync(join(dir, 'a.weights.tmp-999999999-0123abcd'), 'x'); // no such pid
    writeFileSync(join(dir, `b.state.tmp-${process.pid}-0123abcd`), 'x'); // this process
    writeFileSync(join(dir, 'c.weights'), 'x');
    const removed = removeStaleTemps(dir);
    assert.deepEqual(removed, [join(dir, 'a.weights.tmp-999999999-0123abcd')]);
    assert.deepEqual(readdirSync(dir).sort(), [`b.state.tmp-${process.pid}-0123abcd`, 'c.weights', 'keep.tmp-1-abcdef01']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every file write in src goes through writeOutput: no other writeFile, rename or copyFile', () => {
  const offenders: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith(join('io', 'output.ts'))) {
        const text = readFileSync(p, 'utf8');
        for (const call of ['writeFileSync(', 'writeFile(', 'copyFile(', 'createWriteStream(', 'rename(tmp', 'mkdir(', 'mkdirSync(']) {
          if (text.includes(call) && !(call === 'rename(tmp' && p.endsWith(join('data', 'write.ts')))) offenders.push(`${p}: ${call}`);
        }
      }
    }
  };
  walk(join(REPO_ROOT, 'src'));
  assert.deepEqual(offenders, []);
});

test('tsgrad detector map --json /dev/full exits 1 naming the device, which stays a character device; --json /dev/stdout into a redirected file appends; --json over a 0600 file keeps its mode', async () => {
  const dir = tmp();
  try {
    const f = await detectorFixture(dir);
    if (existsSync('/dev/full')) {
      const r = runCli(['detector', 'map', f.dataFile, f.cfgFile, f.weightsFile, '--json', '/dev/full']);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /cannot write \/dev\/full: ENOSPC/);
      assert.ok(statSync('/dev/full').isCharacterDevice());
    }
    // --json /dev/stdout with stdout redirected to a file: appended to what the command printed, not
    // renamed over the file the shell opened.
    const outFile = join(dir, 'stdout.txt');
    const fd = openSync(outFile, 'w');
    const redirected = spawnSync(process.execPath, [TSGRAD_BIN, 'detector', 'map', f.dataFile, f.cfgFile, f.weightsFile, '--json', '/dev/stdout'], { stdio: ['ignore', fd, 'pipe'] });
    closeSync(fd);
    assert.equal(redirected.status, 0, String(redirected.stderr));
    const printed = readFileSync(outFile, 'utf8');
    assert.match(printed, /^detector map: 2 images[^]*"evaluations"[^]*wrote \/dev\/stdout\n$/);
    const json = join(dir, 'map.json');
    writeFileSync(json, '');
    chmodSync(json, 0o600);
    const ok = runCli(['detector', 'map', f.dataFile, f.cfgFile, f.weightsFile, '--json', json]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(statSync(json).mode & 0o777, 0o600);
    assert.ok(JSON.parse(readFileSync(json, 'utf8')).evaluations.length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
