// A fuzzer of the `tsgrad` command line: damaged cfgs, weights, images, labels and training states
// (cases.ts), and kill -9 loops of a training run. Every outcome is one of
//   success      exit 0
//   clean error  exit 1 or 2 with a message (stderr, or the report on stdout), and nothing of an engine's own (no stack trace, no
//                TypeError/RangeError, no "Invalid typed array length", ...)
//   crash        anything else: an exception out of main(), an uncaught exception or rejection, another
//                exit code, an engine message, a dead process; in a kill loop, a resume that fails or a
//                _last.weights/_last.state pair that disagrees, or a temporary file that survives
//   hang         no answer within the time limit
// Cases run in a child process (worker.ts) that executes one command line after another in-process, so
// a case costs its own work, not a Node start; the child is killed and replaced after a hang or a crash.
// The memory limit of the cfg check is TSGRAD_MAX_MEMORY=2G in the child, the fuzzer's budget.
//
//   node dist/test/fuzz/fuzz.js [--seed S] [--cases N] [--kills K] [--timeout MS]   (defaults 1, 40, 5, 60000)
// prints the counts by kind and outcome and every crash and hang; exits 1 if there is any. npm test runs
// a small fixed sample (test/fuzz.test.ts).

import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

import { readTensorFile } from '../../src/nn/checkpoint.js';
import { Rng } from '../../src/tensor/random.js';
import { loadDetectionData } from '../../src/yolo/data/labels.js';
import { trainDetector } from '../../src/yolo/train/trainer.js';
import { detectorFixture, runCli, runCliKilled } from '../helpers/detector-fixture.js';
import { FUZZ_KINDS, makeCase, type FuzzCase, type FuzzContext, type FuzzKind } from './cases.js';
import type { FuzzReply, FuzzRequest } from './worker.js';

export const OUTCOMES = ['clean error', 'crash', 'hang', 'success'] as const;
export type Outcome = (typeof OUTCOMES)[number];
export type ReportKind = FuzzKind | 'kill -9';

export interface FuzzOptions {
  seed: number;
  /** Cases of each kind (cfg, weights, image, labels, state). */
  casesPerKind: number;
  /** kill -9 loops (each: a few killed training runs, then a resume to the end). */
  killLoops: number;
  /** Kills per loop. Default 3. */
  killsPerLoop?: number;
  /** Time limit of one case. Default 60 000 ms. */
  timeoutMs?: number;
  /** Progress lines. Default: none. */
  log?: (line: string) => void;
}

export interface FuzzFinding {
  kind: ReportKind;
  outcome: Outcome;
  what: string;
  argv: string[];
  detail: string;
}

export interface FuzzReport {
  counts: Record<ReportKind, Record<Outcome, number>>;
  /** Every crash and hang. */
  findings: FuzzFinding[];
  seconds: number;
}

/** Messages that come from an engine or a bug, never from tsgrad's own checks. */
const RAW = /TypeError|ReferenceError|RangeError|SyntaxError: |Invalid typed array length|Cannot read propert|is not a function|is not iterable|Maximum call stack|of undefined|of null|heap out of memory|Array buffer allocation failed|\n\s+at \S.*:\d+:\d+/;

/** The outcome of a command's exit code and output (see the file comment). */
export function classify(code: number, stdout: string, stderr: string): { outcome: Outcome; detail: string } {
  if (code === 0) return { outcome: 'success', detail: '' };
  const raw = RAW.exec(`${stderr}\n${stdout}`);
  // `data check` prints its report (the reason) on stdout; everything else on stderr.
  const said = (stderr.trim() !== '' ? stderr : stdout).trim();
  if ((code === 1 || code === 2) && said !== '' && raw === null) return { outcome: 'clean error', detail: said.split('\n').slice(-2).join(' / ') };
  return { outcome: 'crash', detail: `exit ${code}${raw ? `, engine message '${raw[0].trim()}'` : ''}: ${stderr.slice(0, 2000)}` };
}

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));

/** The child process running cases in-process; replaced after a hang or a crash. */
class CaseRunner {
  private child: ChildProcess | null = null;
  private nextId = 1;

  private async start(): Promise<ChildProcess> {
    const child = fork(WORKER, [], { env: { ...process.env, TSGRAD_MAX_MEMORY: '2G' }, stdio: ['ignore', 'ignore', 'ignore', 'ipc'], serialization: 'advanced' });
    await new Promise<void>((resolve, reject) => {
      child.once('message', (m: FuzzReply) => (m.type === 'ready' ? resolve() : reject(new Error(`fuzz worker: ${JSON.stringify(m)}`))));
      child.once('exit', (code) => reject(new Error(`fuzz worker exited with ${code} before it was ready`)));
    });
    child.removeAllListeners('exit');
    return child;
  }

  async run(argv: string[], timeoutMs: number): Promise<{ outcome: Outcome; detail: string }> {
    this.child ??= await this.start();
    const child = this.child;
    const id = this.nextId++;
    return new Promise((resolve) => {
      const finish = (r: { outcome: Outcome; detail: string }, dead: boolean): void => {
        clearTimeout(timer);
        child.removeListener('message', onMessage);
        child.removeListener('exit', onExit);
        if (dead) {
          child.kill('SIGKILL');
          this.child = null;
        }
        resolve(r);
      };
      const onMessage = (m: FuzzReply): void => {
        if (m.type === 'fatal') finish({ outcome: 'crash', detail: `uncaught: ${m.stack}` }, true);
        else if (m.type === 'threw' && m.id === id) finish({ outcome: 'crash', detail: `main() threw: ${m.stack}` }, false);
        else if (m.type === 'done' && m.id === id) finish(classify(m.code, m.stdout, m.stderr), false);
      };
      const onExit = (code: number | null, signal: string | null): void => finish({ outcome: 'crash', detail: `the process died (exit ${code}, signal ${signal})` }, true);
      const timer = setTimeout(() => finish({ outcome: 'hang', detail: `no answer in ${timeoutMs} ms` }, true), timeoutMs);
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send({ id, argv } satisfies FuzzRequest);
    });
  }

  close(): void {
    this.child?.kill('SIGKILL');
    this.child = null;
  }
}

const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

/** One kill -9 loop: killed training runs (resumed from their state), then a resume to the end. */
async function killLoop(rng: Rng, dir: string, kills: number, timeoutMs: number): Promise<{ outcome: Outcome; detail: string; what: string }> {
  const f = await detectorFixture(dir, 30);
  const bk = join(dir, 'backup');
  const state = join(bk, 'tiny_last.state');
  const weights = join(bk, 'tiny_last.weights');
  const base = ['detector', 'train', f.dataFile, f.cfgFile, '--backup', bk, '--workers', '0', '--no-augment', '--save-every', '1'];
  const at: number[] = [];
  for (let k = 0; k < kills; k++) {
    const line = 1 + rng.int(8);
    const delay = 200 + rng.int(400);
    at.push(line);
    const args = existsSync(state) ? [...base, '--resume', state] : base;
    // Killed `delay` ms after the line-th progress line of this run: in a save, between two writes, or
    // in an iteration.
    const r = await runCliKilled(args, timeoutMs, { killOn: (out) => (out.match(/^\d+\/30: loss/gm) ?? []).length >= line, killDelayMs: delay });
    if (!r.killed && r.status !== 0) return { outcome: classify(r.status ?? -1, r.stdout, r.stderr).outcome, detail: r.stderr.slice(0, 2000), what: `run ${k} exited ${r.status}` };
    if (r.killed && r.ms >= timeoutMs) return { outcome: 'hang', detail: `run ${k} still running after ${timeoutMs} ms`, what: `kills after lines ${at.join(', ')}` };
  }
  // Two more iterations and a checkpoint: the pair must then agree and no temporary file remain.
  const end = runCli([...(existsSync(state) ? [...base, '--resume', state] : base), '--stop-after', '2'], { timeoutMs });
  const what = `kills after progress lines ${at.join(', ')}`;
  if (end.signal !== null) return { outcome: 'hang', detail: `final resume killed after ${timeoutMs} ms`, what };
  if (end.status !== 0) return { outcome: 'crash', detail: `the final resume failed: ${end.stderr.slice(0, 2000)}`, what };
  const meta = readTensorFile(state).meta as { weights?: { sha256: string } };
  if (meta.weights?.sha256 !== sha(weights)) return { outcome: 'crash', detail: '_last.weights does not match _last.state', what };
  const temps = readdirSync(bk).filter((n) => n.includes('.tmp-'));
  if (temps.length > 0) return { outcome: 'crash', detail: `temporary files left: ${temps.join(', ')}`, what };
  return { outcome: 'success', detail: '', what };
}

/** Runs the cases and loops of `o` (see the file comment); removes its files afterwards. */
export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const t0 = performance.now();
  const timeoutMs = o.timeoutMs ?? 60_000;
  const log = o.log ?? (() => undefined);
  const work = mkdtempSync(join(tmpdir(), 'tsgrad-fuzz-'));
  const counts = Object.fromEntries([...FUZZ_KINDS, 'kill -9'].map((k) => [k, Object.fromEntries(OUTCOMES.map((x) => [x, 0]))])) as FuzzReport['counts'];
  const findings: FuzzFinding[] = [];
  const runner = new CaseRunner();
  try {
    const fixture = await detectorFixture(join(work, 'fixture'), 2);
    const wideImage = join(work, 'wide.png');
    await sharp({ create: { width: 2000, height: 4, channels: 3, background: { r: 90, g: 30, b: 200 } } }).png().toFile(wideImage);
    const items = loadDetectionData(fixture.dataFile, 'train').dataset.items;
    const trained = await trainDetector({ cfgFile: fixture.cfgFile, items, backupDir: join(work, 'trained'), workers: 0, augment: false, chart: null, stopAfter: 1, log: () => undefined });
    const ctx: FuzzContext = { work, fixture, state: trained.lastState!, wideImage };
    const rng = new Rng(o.seed);
    for (let k = 0; k < o.casesPerKind; k++) {
      for (const kind of FUZZ_KINDS) {
        let c: FuzzCase;
        try {
          c = await makeCase(kind, rng, ctx, k);
        } catch (e) {
          throw new Error(`fuzz: making ${kind} case ${k} failed: ${(e as Error).message}`);
        }
        const r = await runner.run(c.argv, timeoutMs);
        counts[kind][r.outcome]++;
        if (r.outcome === 'crash' || r.outcome === 'hang') findings.push({ kind, outcome: r.outcome, what: c.what, argv: c.argv, detail: r.detail });
        log(`${kind} ${k}: ${r.outcome} (${c.what})${r.detail === '' ? '' : `: ${r.detail.split('\n')[0]}`}`);
      }
    }
    runner.close();
    for (let k = 0; k < o.killLoops; k++) {
      const dir = join(work, `kill-${k}`);
      mkdirSync(dir);
      const r = await killLoop(rng, dir, o.killsPerLoop ?? 3, timeoutMs);
      counts['kill -9'][r.outcome]++;
      if (r.outcome === 'crash' || r.outcome === 'hang') findings.push({ kind: 'kill -9', outcome: r.outcome, what: r.what, argv: [], detail: r.detail });
      log(`kill -9 loop ${k}: ${r.outcome} (${r.what})`);
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    runner.close();
    rmSync(work, { recursive: true, force: true });
  }
  return { counts, findings, seconds: (performance.now() - t0) / 1000 };
}

/** The counts table and every finding. */
export function formatFuzzReport(r: FuzzReport): string {
  const kinds = Object.keys(r.counts) as ReportKind[];
  const lines = [`${'kind'.padEnd(9)}${OUTCOMES.map((o) => o.padStart(13)).join('')}`];
  const total = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
  for (const k of kinds) {
    lines.push(`${k.padEnd(9)}${OUTCOMES.map((o) => String(r.counts[k][o]).padStart(13)).join('')}`);
    for (const o of OUTCOMES) total[o] += r.counts[k][o];
  }
  lines.push(`${'total'.padEnd(9)}${OUTCOMES.map((o) => String(total[o]).padStart(13)).join('')}   (${r.seconds.toFixed(1)} s)`);
  for (const f of r.findings) lines.push(`${f.outcome.toUpperCase()} ${f.kind}: ${f.what}\n  tsgrad ${f.argv.join(' ')}\n  ${f.detail.split('\n').join('\n  ')}`);
  return lines.join('\n');
}

function optionValue(argv: string[], name: string, def: number): number {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(argv[i + 1]);
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`--${name} needs a non-negative integer, got '${argv[i + 1]}'`);
  return v;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const argv = process.argv.slice(2);
  const report = await runFuzz({
    seed: optionValue(argv, 'seed', 1),
    casesPerKind: optionValue(argv, 'cases', 40),
    killLoops: optionValue(argv, 'kills', 5),
    timeoutMs: optionValue(argv, 'timeout', 60_000),
    log: argv.includes('--verbose') ? (l) => console.log(l) : undefined,
  });
  console.log(formatFuzzReport(report));
  process.exitCode = report.findings.length > 0 ? 1 : 0;
}
