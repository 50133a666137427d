// The PyTorch peer of the benches (bench/pytorch_peer.py), run as a child process that answers one JSON
// request per line, so a bench can time its own side and the peer's alternately in one run.
//
//   const peer = await Peer.start(pythonOption);   // Peer, or a string saying why there is none
//   const r = await peer.request({ op: 'setup', model: 'yolov2-tiny-voc', batch: 1 });
//   peer.close();
//
// The Python is --python, else $PYTHON, else /usr/bin/python3 (Debian's python3-torch); --no-peer skips it.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** bench/pytorch_peer.py in the source tree (this file compiles to dist/bench/peer.js). */
export const PEER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'pytorch_peer.py');

/** Options every bench with a peer accepts (spread into parseArgs' options). */
export const PEER_OPTIONS = {
  python: { type: 'string' },
  'no-peer': { type: 'boolean' },
} as const;

/** The Python to run the peer with: the option, $PYTHON, or /usr/bin/python3. */
export function peerPython(option: string | undefined): string {
  return option ?? process.env['PYTHON'] ?? '/usr/bin/python3';
}

export type PeerReply = Record<string, unknown>;

export class Peer {
  private readonly pending: ((line: string) => void)[] = [];
  private readonly lines: string[] = [];
  private exited: string | null = null;

  private constructor(private readonly child: ChildProcessWithoutNullStreams, stderr: string[]) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const waiter = this.pending.shift();
      if (waiter) waiter(line);
      else this.lines.push(line);
    });
    child.on('exit', (code, signal) => {
      this.exited = `peer exited (${signal ?? `code ${code}`})${stderr.length ? `: ${stderr.join('').trim().split('\n').pop()}` : ''}`;
      for (const w of this.pending.splice(0)) w('');
    });
  }

  /** Starts the peer; resolves to a Peer, or to a line saying why there is none. */
  static async start(python: string | undefined, skip = false): Promise<Peer | string> {
    if (skip) return 'skipped (--no-peer)';
    if (!existsSync(PEER_SCRIPT)) return `no peer script at ${PEER_SCRIPT}`;
    const exe = peerPython(python);
    const stderr: string[] = [];
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawn(exe, [PEER_SCRIPT, '--serve'], { stdio: 'pipe' });
    } catch (e) {
      return `cannot start ${exe}: ${(e as Error).message}`;
    }
    child.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
    const failed = new Promise<string>((resolve) => child.on('error', (e) => resolve(`cannot start ${exe}: ${e.message}`)));
    const peer = new Peer(child, stderr);
    const first = await Promise.race([peer.next(), failed]);
    if (!first.startsWith('{')) {
      peer.close();
      return first || peer.exited || `${exe} ${PEER_SCRIPT} gave no answer`;
    }
    const hello = JSON.parse(first) as PeerReply;
    peer.description = `PyTorch ${String(hello['torch'])}, ${String(hello['threads'])} threads (${exe})`;
    return peer;
  }

  description = '';

  private next(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.exited !== null) return Promise.resolve('');
    return new Promise((resolve) => this.pending.push(resolve));
  }

  /** Sends one request; resolves to the reply, or throws with the peer's error. */
  async request(req: Record<string, unknown>): Promise<PeerReply> {
    if (this.exited !== null) throw new Error(this.exited);
    this.child.stdin.write(`${JSON.stringify(req)}\n`);
    const line = await this.next();
    if (line === '') throw new Error(this.exited ?? 'peer closed its output');
    const reply = JSON.parse(line) as PeerReply;
    if (typeof reply['error'] === 'string') throw new Error(`peer ${String(req['op'])}: ${reply['error']}`);
    return reply;
  }

  close(): void {
    if (this.exited === null) {
      this.child.stdin.end(`${JSON.stringify({ op: 'quit' })}\n`);
      this.child.unref();
    }
  }
}

export function median(a: readonly number[]): number {
  if (a.length === 0) return NaN;
  const s = [...a].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Milliseconds of each of `runs` calls of fn after `warmup` calls. */
export function timeRuns(fn: () => void, runs: number, warmup = 1): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  return t;
}

/** "ours / peer" as "1.23x", or "-" without a peer figure. */
export function ratio(ours: number, peer: number | undefined): string {
  return peer === undefined || !(peer > 0) ? '-' : `${(ours / peer).toFixed(2)}x`;
}

/** A fixed-width table: first column left-aligned, the others right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}
