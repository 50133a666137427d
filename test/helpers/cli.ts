// Running the `tsgrad` binary as a user does (a separate process) and the small files its tests need:
// temporary folders removed at the end of the test file, tiny Darknet cfgs and synthetic data sets.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = join(REPO_ROOT, 'bin', 'tsgrad.js');

export interface Run {
  /** Exit status (the signal's 128 + n when killed). */
  code: number;
  stdout: string;
  stderr: string;
}

const SIGNALS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** `tsgrad ...args` to completion (stdout and stderr are pipes, not a terminal). */
export function tsgrad(args: readonly string[], opts: { cwd?: string; timeout?: number } = {}): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: opts.cwd ?? REPO_ROOT, timeout: opts.timeout ?? 60_000 });
  return { code: r.status ?? 128 + (SIGNALS[r.signal ?? ''] ?? 0), stdout: r.stdout, stderr: r.stderr };
}

/** The same, not blocking (for several commands at once). */
export function tsgradAsync(args: readonly string[], opts: { cwd?: string } = {}): Promise<Run> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => void (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    child.on('close', (code, signal) => res({ code: code ?? 128 + (SIGNALS[signal ?? ''] ?? 0), stdout, stderr }));
  });
}

/** Quotes a word for sh. */
function sh(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** True when util-linux `script` can give a command a pseudo-terminal here. */
export const HAVE_PTY = spawnSync('script', ['-qec', 'true', '/dev/null'], { encoding: 'utf8' }).status === 0;

/** `tsgrad ...args` on a pseudo-terminal (via `script`): stdout and stderr are a TTY; returns what it drew. */
export function tsgradOnTerminal(args: readonly string[], opts: { cwd?: string; timeout?: number } = {}): Run {
  const cmd = [process.execPath, BIN, ...args].map(sh).join(' ');
  const r = spawnSync('script', ['-qec', `stty cols 160 2>/dev/null; ${cmd}`, '/dev/null'], { encoding: 'utf8', cwd: opts.cwd ?? REPO_ROOT, timeout: opts.timeout ?? 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A new temporary folder, removed when the test file ends. */
export function tempDir(prefix = 'tsgrad-cli-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

function conv(filters: number, size = 3, bn = true, activation = 'leaky'): string {
  return `[convolutional]\n${bn ? 'batch_normalize=1\n' : ''}filters=${filters}\nsize=${size}\nstride=1\npad=1\nactivation=${activation}\n`;
}

const POOL = '[maxpool]\nsize=2\nstride=2\n';

/** A tiny YOLOv2 for 2 classes: 32x32 input, stride 8 (4x4 grid), 2 anchors. `net` adds or replaces [net] keys. */
export function tinyRegionCfg(net: Record<string, string | number> = {}): string {
  const n = { batch: 2, subdivisions: 1, width: 32, height: 32, channels: 3, momentum: 0.9, decay: 0.0005, learning_rate: 0.002, policy: 'constant', max_batches: 3, ...net };
  return (
    `[net]\n${Object.entries(n).map(([k, v]) => `${k}=${v}`).join('\n')}\n` +
    conv(4) + POOL + conv(8) + POOL + conv(8) + POOL + conv(14, 1, false, 'linear') +
    '[region]\nanchors=0.9,0.9, 1.6,1.6\nbias_match=1\nclasses=2\ncoords=4\nnum=2\nsoftmax=1\njitter=.2\nrescore=1\nobject_scale=5\nnoobject_scale=1\nclass_scale=1\ncoord_scale=1\nthresh=.6\nrandom=0\n'
  );
}

/** A tiny classifier for 2 classes: 32x32 input, global average pooling, softmax. */
export function tinyClassifierCfg(net: Record<string, string | number> = {}): string {
  const n = { batch: 2, subdivisions: 1, width: 32, height: 32, channels: 3, momentum: 0.9, decay: 0.0005, learning_rate: 0.01, policy: 'constant', max_batches: 4, ...net };
  return `[net]\n${Object.entries(n).map(([k, v]) => `${k}=${v}`).join('\n')}\n` + conv(4) + POOL + conv(8) + conv(2, 1, false, 'linear') + '[avgpool]\n[softmax]\ngroups=1\n';
}

/** Writes `text` to dir/name; returns the path. */
export function writeFile(dir: string, name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
