// What `detector train` and `classifier train` show while they run, and what Ctrl-C does.
//
// Output: on a terminal (stderr a TTY) one status line redrawn in place: bar, iteration, loss, average,
// lr, s/it, ETA. Where stdout is not a terminal (a log) every iteration prints the line of
// formatProgress; --log-every N prints it every N iterations (also on a terminal); --quiet prints
// neither. The trainer's messages (header, notes, evaluation) always print.
// Ctrl-C: the first one asks the trainer to stop after the current iteration and write its checkpoint;
// the command then prints the command that resumes and exits 130. A second Ctrl-C quits at once, naming
// the last complete checkpoint (its files are written atomically, so they are whole).

import { formatDuration, formatProgress, type ProgressInfo, type TrainHooks } from '../yolo/train/progress.js';
import { EXIT, type CommandIO, type ParsedArgs } from './args.js';
import { bar, StatusLine } from './status-line.js';

export interface Checkpoint {
  iteration: number;
  weights: string;
  state: string | null;
}

function fixed(x: number, d: number): string {
  return Number.isFinite(x) ? x.toFixed(d) : String(x);
}

/** The terminal status line of one iteration. */
export function statusText(p: ProgressInfo): string {
  const remaining = Math.max(0, p.maxIterations - p.iteration);
  const pct = p.maxIterations > 0 ? Math.floor((100 * p.iteration) / p.maxIterations) : 100;
  return (
    `${bar(p.iteration, p.maxIterations)} ${p.iteration}/${p.maxIterations} ${pct}% ETA ${formatDuration(remaining * p.secondsPerIteration)} | ` +
    `loss ${fixed(p.loss, 3)}, avg ${fixed(p.avgLoss, 3)} | lr ${Number(p.lr.toPrecision(3))} | ${fixed(p.secondsPerIteration, 2)} s/it, ${fixed(p.imagesPerSecond, 1)} img/s`
  );
}

/** A word for a POSIX shell: quoted when it holds anything but plain path characters. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command line that resumes a run from `state`: the same positionals (without starting weights) and
 * options, minus those a resume replaces (--resume, --clear, --partial, --stop-after).
 */
export function resumeCommand(a: ParsedArgs, positionals: readonly string[], state: string): string {
  const words = ['tsgrad', ...a.spec.path.split(' '), ...positionals, '--resume', state];
  for (const [name, v] of Object.entries(a.values)) {
    if (name === 'resume' || name === 'clear' || name === 'partial' || name === 'stop-after') continue;
    if (v === true) words.push(`--${name}`);
    else if (typeof v === 'string') words.push(`--${name}`, v);
    else if (Array.isArray(v)) for (const x of v) words.push(`--${name}`, x);
  }
  return words.map(shellWord).join(' ');
}

export class TrainReporter {
  private readonly status: StatusLine;
  private readonly logEvery: number;
  private readonly quiet: boolean;
  /** The last complete checkpoint of this run. */
  last: Checkpoint | null = null;

  constructor(
    io: CommandIO,
    opts: { logEvery?: number | undefined; quiet: boolean },
  ) {
    this.status = new StatusLine(io);
    this.quiet = opts.quiet;
    // Iteration lines by default only where no status line shows the progress on the same terminal.
    this.logEvery = opts.logEvery ?? (io.outTTY === true && io.errTTY === true ? 0 : 1);
  }

  /** A message of the trainer (always shown). */
  message(line: string): void {
    this.status.print(line);
  }

  progress(p: ProgressInfo): void {
    if (this.quiet) return;
    const last = p.iteration >= p.maxIterations;
    if (this.logEvery > 0 && (p.iteration % this.logEvery === 0 || last)) this.status.print(formatProgress(p));
    if (this.status.live) this.status.set(statusText(p));
  }

  checkpoint(c: Checkpoint): void {
    this.last = c;
  }

  /** Ends the status line (before the summary). */
  done(): void {
    this.status.done();
  }

  /** The trainer hooks that report here; `stop` is the Ctrl-C signal. */
  hooks(stop: AbortSignal): Required<TrainHooks> {
    return { progress: (p) => this.progress(p), checkpoint: (c) => this.checkpoint(c), stop };
  }
}

/**
 * Ctrl-C while training: see the file comment. `resume(state)` gives the command line printed on a
 * forced quit. Returns the signal for the trainer and a function that removes the handler.
 */
export function interruptHandler(report: TrainReporter, resume: (state: string) => string): { signal: AbortSignal; dispose: () => void } {
  const ctl = new AbortController();
  const onSigint = (): void => {
    if (!ctl.signal.aborted) {
      ctl.abort();
      report.message('interrupt: stopping after the current iteration and writing a checkpoint (Ctrl-C again quits at once)');
      return;
    }
    const c = report.last;
    report.done();
    report.message(
      c === null
        ? 'quit: no checkpoint was written in this run'
        : `quit: the last complete checkpoint is ${c.weights}${c.state ? ` + ${c.state}` : ''} (iteration ${c.iteration})${c.state ? `\nresume with: ${resume(c.state)}` : ''}`,
    );
    process.exit(EXIT.interrupted);
  };
  process.on('SIGINT', onSigint);
  return { signal: ctl.signal, dispose: () => void process.off('SIGINT', onSigint) };
}
