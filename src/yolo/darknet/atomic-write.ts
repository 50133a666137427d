// Atomic file writes: the bytes go to a temporary file in the destination folder, which is then
// renamed over the destination, so a reader never sees a half-written file and a failed write
// leaves the old file (if any) in place.

import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const dest = resolve(path);
  await mkdir(dirname(dest), { recursive: true });
  const tmp = `${dest}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, data, { flag: 'wx' });
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
