// Progress of long jobs. On a terminal (stderr is a TTY) one status line is redrawn in place with "\r";
// printed lines first clear it and then redraw it below, so the two never mix. Where stderr is a file or a
// pipe no "\r" is ever written: `loopProgress` prints a plain line at every tenth instead.

import { formatDuration } from '../yolo/train/progress.js';
import type { CommandIO } from './args.js';

export class StatusLine {
  private text = '';
  private shown = false;

  constructor(private readonly io: CommandIO) {}

  /** True when the status line is drawn (stderr is a terminal). */
  get live(): boolean {
    return this.io.errTTY === true;
  }

  /** Replaces the status line (cut to the terminal width). No-op off a terminal. */
  set(text: string): void {
    if (!this.live) return;
    const cols = Math.max(20, (this.io.columns || 80) - 1);
    this.text = text.length > cols ? `${text.slice(0, cols - 1)}…` : text;
    this.io.err(`\r${this.text}\x1b[K`);
    this.shown = true;
  }

  /** Prints `line` (and a newline) to stdout, keeping the status line below it. */
  print(line: string): void {
    this.hide();
    this.io.out(`${line}\n`);
    this.redraw();
  }

  /** Prints `line` to stderr, keeping the status line below it. */
  printErr(line: string): void {
    this.hide();
    this.io.err(`${line}\n`);
    this.redraw();
  }

  /** Removes the status line for good (call before the final output). */
  done(): void {
    this.hide();
    this.text = '';
  }

  private hide(): void {
    if (this.shown) this.io.err('\r\x1b[K');
    this.shown = false;
  }

  private redraw(): void {
    if (this.text !== '' && this.live) {
      this.io.err(`\r${this.text}\x1b[K`);
      this.shown = true;
    }
  }
}

/** A bar of `width` cells for done/total. */
export function bar(done: number, total: number, width = 20): string {
  const f = total > 0 ? Math.min(1, done / total) : 1;
  const n = Math.round(f * width);
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}

/**
 * Progress of a loop over `total` items (map, valid, synth): `what: 120/500 images, 12.3 images/s,
 * ETA 31s`, live on a terminal, else one line per tenth (for 10 items or more). Returns the callback
 * (done, total) and a function that ends the display.
 */
export function loopProgress(io: CommandIO, what: string, unit = 'images'): { update: (done: number, total: number) => void; end: () => void } {
  const status = new StatusLine(io);
  const t0 = performance.now();
  let lastDraw = 0;
  let tenth = 0;
  const line = (done: number, total: number): string => {
    const secs = (performance.now() - t0) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const eta = done > 0 && done < total ? formatDuration(((total - done) * secs) / done) : done >= total ? '0s' : '--';
    return `${what}: ${bar(done, total)} ${done}/${total} ${unit}, ${rate.toFixed(1)} ${unit}/s, ETA ${eta}`;
  };
  return {
    update: (done, total) => {
      if (status.live) {
        const now = performance.now();
        if (now - lastDraw >= 100 || done >= total) {
          lastDraw = now;
          status.set(line(done, total));
        }
        return;
      }
      if (total < 10) return;
      const t = Math.floor((done * 10) / total);
      if (t > tenth) {
        tenth = t;
        io.err(`${line(done, total)}\n`);
      }
    },
    end: () => status.done(),
  };
}
