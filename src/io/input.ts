// Bounded reads of input files (cfg, weights, names, lists, labels, images, raw tensors).
//
// Every input has a byte limit that fits what it can hold. A regular file larger than the limit is
// refused from its size, before anything is read; anything else that can be opened for reading (a
// FIFO, `/dev/stdin`, a character device such as /dev/zero that never ends) is read in chunks and
// refused as soon as it passes the limit, so no input can fill the memory or keep a command reading
// forever. A folder is refused. Every error names the path and what it was read as.

import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';

const CHUNK = 1 << 20;

/**
 * Largest image decoded by default, in pixels (width × height): 2^26 = 67,108,864 (8192 × 8192), about
 * 800 MB once converted to float planes. The header's size is checked before any pixel is decoded, so
 * a decompression bomb is refused from its first bytes. `--max-pixels N` raises the limit.
 */
export const DEFAULT_MAX_PIXELS = 2 ** 26;

/** Byte limits of the inputs (documented in the README). */
export const INPUT_LIMITS = {
  /** cfg, .data, .names, list and label files and other text. */
  text: 64 * 2 ** 20,
  /** One encoded image. */
  image: 256 * 2 ** 20,
} as const;

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function mib(n: number): string {
  return n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(n % 2 ** 20 === 0 ? 0 : 1)} MiB` : `${n} bytes`;
}

/** An input that cannot be read: `${path}: cannot read the ${what}: ${reason}`. */
export class InputFileError extends Error {
  constructor(
    readonly path: string,
    readonly what: string,
    readonly reason: string,
    readonly code?: string,
  ) {
    super(`${path}: cannot read the ${what}: ${reason}`);
    this.name = 'InputFileError';
  }
}

/**
 * The bytes of `path`, at most `maxBytes` of them (see the file comment). `what` names the input in
 * messages ("cfg file", "weights file"). Regular files are read whole; others in chunks.
 */
export function readInputBytes(path: string, what: string, maxBytes: number): Buffer {
  const fail = (reason: string, code?: string): never => {
    throw new InputFileError(path, what, reason, code);
  };
  let fd = -1;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    fail(code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : message(e), code);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) fail('it is a folder', 'EISDIR');
    if (st.isFile()) {
      if (st.size > maxBytes) fail(`${st.size} bytes, more than the ${mib(maxBytes)} such a file can hold`, 'EFBIG');
      const out = Buffer.allocUnsafe(st.size);
      let done = 0;
      while (done < out.length) {
        const n = readSync(fd, out, done, Math.min(out.length - done, 1 << 30), done);
        if (n <= 0) break; // the file shrank while being read
        done += n;
      }
      return done === out.length ? out : out.subarray(0, done);
    }
    const parts: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, maxBytes + 1 - total));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      parts.push(buf.subarray(0, n));
      total += n;
      if (total > maxBytes) fail(`it is not a regular file and gives more than the ${mib(maxBytes)} such a file can hold`, 'EFBIG');
    }
    return Buffer.concat(parts, total);
  } catch (e) {
    if (e instanceof InputFileError) throw e;
    return fail(message(e), (e as NodeJS.ErrnoException).code);
  } finally {
    closeSync(fd);
  }
}

/** The size of `path` when it is a regular file (null for anything else, or when it cannot be seen). */
export function regularFileSize(path: string): number | null {
  try {
    const st = statSync(path);
    return st.isFile() ? st.size : null;
  } catch {
    return null;
  }
}

/** `readInputBytes` as UTF-8 text, at most INPUT_LIMITS.text bytes unless `maxBytes` says otherwise. */
export function readInputText(path: string, what: string, maxBytes: number = INPUT_LIMITS.text): string {
  return readInputBytes(path, what, maxBytes).toString('utf8');
}
