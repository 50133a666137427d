// The `tsgrad` binary run with its exit status, signal and wall time (and killed on cue), and the
// small detector fixture the reliability tests and the fuzzer share: a synthetic data set, a tiny
// [region] cfg and its weights.

import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { makeWeightsBytes } from '../../src/yolo/darknet/generate.js';
import { parseCfg } from '../../src/yolo/darknet/cfg.js';
import { generateSynthDataset } from '../../src/yolo/data/synth.js';
import { TINY_CFG } from './fixtures.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const TSGRAD_BIN = join(REPO_ROOT, 'bin', 'tsgrad.js');

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time of the process in milliseconds. */
  ms: number;
}

export interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the process after this many milliseconds (default 60 000). */
  timeoutMs?: number;
}

/** `tsgrad <args>` in a child process, waited for. */
export function runCli(args: readonly string[], opts: CliOptions = {}): CliResult {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [TSGRAD_BIN, ...args], {
    encoding: 'utf8',
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    timeout: opts.timeoutMs ?? 60_000,
    killSignal: 'SIGKILL',
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms: performance.now() - t0 };
}

/**
 * `tsgrad <args>` in a child process, SIGKILLed after `killAfterMs`, or `killDelayMs` (default 0) after
 * its stdout first matches `killOn` (a pattern or a test of the whole output so far).
 */
export function runCliKilled(args: readonly string[], killAfterMs: number, opts: CliOptions & { killOn?: RegExp | ((stdout: string) => boolean); killDelayMs?: number } = {}): Promise<CliResult & { killed: boolean }> {
  return new Promise((done) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [TSGRAD_BIN, ...args], { cwd: opts.cwd ?? REPO_ROOT, env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    let killed = false;
    const kill = (): void => {
      if (child.exitCode === null && child.signalCode === null) {
        killed = true;
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(kill, killAfterMs);
    let armed = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const on = opts.killOn;
      if (!armed && on !== undefined && (typeof on === 'function' ? on(stdout) : on.test(stdout))) {
        armed = true;
        setTimeout(kill, opts.killDelayMs ?? 0);
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      done({ status, signal, stdout, stderr, ms: performance.now() - t0, killed });
    });
  });
}

export interface DetectorFixture {
  dir: string;
  dataFile: string;
  cfgFile: string;
  weightsFile: string;
  /** Images of the train list. */
  trainImages: string[];
}

/** The [region] cfg of fixtures.ts with training keys (batch 2, `maxBatches` iterations). */
export function tinyTrainCfg(maxBatches: number): string {
  return TINY_CFG.replace('batch=1\n', `batch=2\nsubdivisions=1\nmax_batches=${maxBatches}\nlearning_rate=0.001\npolicy=constant\n`);
}

/** A synthetic data set (4 train, 2 valid images of 64×64, 2 classes), the tiny cfg and its weights in `dir`. */
export async function detectorFixture(dir: string, maxBatches = 4): Promise<DetectorFixture> {
  const r = await generateSynthDataset({ outDir: join(dir, 'data'), train: 4, valid: 2, classes: 2, size: 64, seed: 5, minObjects: 1, maxObjects: 2 });
  const cfgFile = join(dir, 'tiny.cfg');
  const text = tinyTrainCfg(maxBatches);
  writeFileSync(cfgFile, text);
  const weightsFile = join(dir, 'tiny.weights');
  writeFileSync(weightsFile, makeWeightsBytes(parseCfg(text, { file: cfgFile }), 1));
  const trainImages = Array.from({ length: 4 }, (_, i) => join(dir, 'data', 'images', 'train', `${String(i).padStart(6, '0')}.jpg`));
  return { dir, dataFile: r.dataFile, cfgFile, weightsFile, trainImages };
}
