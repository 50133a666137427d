// Every file tsgrad writes goes through `writeOutput` (weights, training state, charts, images, JSON,
// comp4 and label files). What happens depends on what is at the path already:
//
//   nothing, or a regular file   atomic and durable: the bytes go to a temporary file in the same
//                                folder (`<name>.tmp-<pid>-<random>`, opened exclusively), which is
//                                fsynced, closed and renamed over the path; then the folder is fsynced.
//                                A reader never sees a half-written file; a failed write removes the
//                                temporary file and leaves the old one. An existing file keeps its
//                                permission bits (and, where the process may, its owner).
//   a symbolic link              followed to its target (a dangling link creates the target), so the
//                                link stays a link and the file it names is replaced as above
//   a character device or FIFO   written through (`/dev/null`, `/dev/stdout`, a named pipe): there is
//                                nothing to replace atomically; a FIFO with no reader is an error
//   an open file descriptor      (`/dev/stdout`, `/dev/fd/N`, `/proc/self/fd/N` when the shell redirected
//                                it to a file) written through that descriptor, after what the command
//                                printed there, as the shell's redirection expects
//   a folder, socket or block    refused with an error naming the path
//   device
//
// Missing parent folders are created one level at a time (`ensureDir`), never with a recursive mkdir,
// which spins forever on file systems such as /proc that refuse new entries with ENOENT. Every error
// names the path.

import { randomBytes } from 'node:crypto';
import { constants, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** Receives the bytes of an output, chunk after chunk, in order. */
export type OutputSink = (bytes: Uint8Array) => Promise<void>;

/** What `writeOutput` writes: bytes, text (UTF-8) or a function that streams chunks to a sink. */
export type OutputData = Uint8Array | string | ((sink: OutputSink) => Promise<void>);

/** The marker in the names of temporary files (`<name>.tmp-<pid>-<8 hex digits>`). */
export const TEMP_MARK = '.tmp-';
const TEMP_RE = /\.tmp-(\d+)-[0-9a-f]{8}$/;
const MAX_LINKS = 40;

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

function statOrNull(path: string, follow: boolean): Stats | null {
  try {
    return follow ? statSync(path) : lstatSync(path);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new Error(`cannot write ${path}: ${message(e)}`);
  }
}

const FD_LINK = /^\/(?:proc\/(self|\d+)|dev)\/fd\/(\d+)$/;

/**
 * The path a chain of symbolic links ends at (which may not exist yet), and the descriptor of this
 * process the chain went through (/dev/stdout → /proc/self/fd/1), if any.
 */
function followLinks(path: string): { dest: string; fd: number | null } {
  let p = resolve(path);
  let fd: number | null = null;
  for (let i = 0; i < MAX_LINKS; i++) {
    const m = FD_LINK.exec(p);
    if (m !== null && fd === null && (m[1] === undefined || m[1] === 'self' || Number(m[1]) === process.pid)) fd = Number(m[2]);
    const st = statOrNull(p, false);
    if (st === null || !st.isSymbolicLink()) return { dest: p, fd };
    p = resolve(dirname(p), readlinkSync(p));
  }
  throw new Error(`cannot write ${path}: more than ${MAX_LINKS} symbolic links in a row`);
}

/** Writes through one of this process's descriptors (synchronously, as process.stdout writes to a file). */
async function writeToFd(shown: string, fd: number, write: (sink: OutputSink) => Promise<void>): Promise<void> {
  try {
    await write(async (bytes) => {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30));
    });
  } catch (e) {
    throw new Error(`cannot write ${shown}: ${message(e)}`);
  }
}

function kindOf(st: Stats): string {
  if (st.isFile()) return 'a file';
  if (st.isDirectory()) return 'a folder';
  if (st.isSocket()) return 'a socket';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isFIFO()) return 'a FIFO';
  return 'not a regular file';
}

/**
 * Creates `dir` and any missing parent folders, one level at a time. Fails at once (naming the
 * folder) where a parent is not a folder or the file system refuses a new entry.
 */
export function ensureDir(dir: string): void {
  const abs = resolve(dir);
  const missing: string[] = [];
  let p = abs;
  for (;;) {
    let st: Stats;
    try {
      st = statSync(p);
    } catch (e) {
      const code = errnoCode(e);
      // ENOTDIR: some parent is a file; going up finds which one.
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(p) !== p) {
        missing.unshift(p);
        p = dirname(p);
        continue;
      }
      throw new Error(`cannot create folder ${dir}: ${message(e)}`);
    }
    if (!st.isDirectory()) throw new Error(`cannot create folder ${dir}: ${p} is ${kindOf(st)}, not a folder`);
    break;
  }
  for (const m of missing) {
    try {
      mkdirSync(m);
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'EEXIST' && statOrNull(m, true)?.isDirectory()) continue;
      const why = code === 'ENOENT' ? `the file system of ${dirname(m)} does not take new folders (${message(e)})` : message(e);
      throw new Error(`cannot create folder ${m === abs ? dir : `${m} (for ${dir})`}: ${why}`);
    }
  }
}

/**
 * Checks, before any long work, that files can be created in `dir` (creating it if needed): a
 * temporary file is written, fsynced and removed. Throws an error naming the folder.
 */
export async function checkWritableDir(dir: string): Promise<void> {
  ensureDir(dir);
  const probe = join(resolve(dir), `.tsgrad-probe${TEMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}`);
  let fh: FileHandle | null = null;
  try {
    fh = await open(probe, 'wx');
    await fh.write(new Uint8Array([0]));
    await fh.sync();
  } catch (e) {
    throw new Error(`cannot write into folder ${dir}: ${message(e)}`);
  } finally {
    await fh?.close().catch(() => undefined);
    await rm(probe, { force: true }).catch(() => undefined);
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

/**
 * Removes the temporary files that writes interrupted by a crash or a kill left in `dir`: names
 * `<name>.tmp-<pid>-<8 hex>` whose process no longer runs. Returns the paths removed.
 */
export function removeStaleTemps(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw new Error(`cannot list folder ${dir}: ${message(e)}`);
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_RE.exec(name);
    if (m === null || isAlive(Number(m[1]))) continue;
    const p = join(dir, name);
    try {
      if (!lstatSync(p).isFile()) continue;
      rmSync(p, { force: true });
      removed.push(p);
    } catch (e) {
      throw new Error(`cannot remove the stale temporary file ${p}: ${message(e)}`);
    }
  }
  return removed;
}

function asStream(data: OutputData): (sink: OutputSink) => Promise<void> {
  if (typeof data === 'function') return data;
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return (sink) => sink(bytes);
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, Math.min(bytes.length - done, 1 << 30));
    if (bytesWritten <= 0) throw new Error('write made no progress');
    done += bytesWritten;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  // Makes the rename durable. Some file systems refuse to fsync a folder; the file is complete and in
  // place by then, so that is not an error.
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    /* folder fsync unsupported */
  }
}

async function writeAtomically(shown: string, dest: string, existing: Stats | null, write: (sink: OutputSink) => Promise<void>): Promise<void> {
  const dir = dirname(dest);
  ensureDir(dir);
  const tmp = join(dir, `${basename(dest)}${TEMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}`);
  let fh: FileHandle | null = null;
  try {
    fh = await open(tmp, 'wx', existing === null ? 0o666 : existing.mode & 0o7777);
    if (existing !== null) {
      // open() applies the umask; the file being replaced keeps its own bits (and owner, where allowed).
      await fh.chmod(existing.mode & 0o7777);
      if (process.getuid?.() === 0) await fh.chown(existing.uid, existing.gid).catch(() => undefined);
    }
    const handle = fh;
    await write((bytes) => writeAll(handle, bytes));
    await fh.sync();
    await fh.close();
    fh = null;
    await rename(tmp, dest);
  } catch (e) {
    if (fh !== null) await fh.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new Error(`cannot write ${shown}: ${message(e)}`);
  }
  await fsyncDir(dir);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function writeThrough(shown: string, path: string, fifo: boolean, write: (sink: OutputSink) => Promise<void>): Promise<void> {
  let fh: FileHandle;
  try {
    // A FIFO is opened without blocking: with no reader that fails (ENXIO) instead of waiting forever.
    fh = await open(path, fifo ? constants.O_WRONLY | constants.O_NONBLOCK : constants.O_WRONLY);
  } catch (e) {
    const why = errnoCode(e) === 'ENXIO' ? 'a FIFO that no process is reading' : message(e);
    throw new Error(`cannot write ${shown}: ${why}`);
  }
  try {
    await write(async (bytes) => {
      let done = 0;
      while (done < bytes.length) {
        try {
          const { bytesWritten } = await fh.write(bytes, done, Math.min(bytes.length - done, 1 << 20));
          if (bytesWritten <= 0) throw new Error('write made no progress');
          done += bytesWritten;
        } catch (e) {
          if (errnoCode(e) !== 'EAGAIN') throw e;
          await sleep(2); // the reader of the FIFO has not caught up
        }
      }
    });
  } catch (e) {
    throw new Error(`cannot write ${shown}: ${message(e)}`);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Writes `data` to `path` as the file comment says (atomic over regular files, through devices). */
export async function writeOutput(path: string, data: OutputData): Promise<void> {
  const write = asStream(data);
  const st = statOrNull(path, true);
  if (st === null) {
    await writeAtomically(path, followLinks(path).dest, null, write);
  } else if (st.isFile()) {
    const { dest, fd } = followLinks(path);
    if (fd !== null) await writeToFd(path, fd, write);
    else await writeAtomically(path, dest, st, write);
  } else if (st.isCharacterDevice() || st.isFIFO()) {
    await writeThrough(path, path, st.isFIFO(), write);
  } else {
    throw new Error(`cannot write ${path}: it is ${kindOf(st)}; tsgrad writes regular files, character devices and FIFOs`);
  }
}
