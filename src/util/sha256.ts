import { createHash } from 'node:crypto';
import * as fs from 'node:fs';

// Read in 1 MiB chunks: dumps and site archives may be many GB, so never read a whole file into memory.
const CHUNK = 1024 * 1024;

/** Hex sha256 of a whole file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: CHUNK })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Hex sha256 of a whole file, read in chunks synchronously: for CDK constructs, which cannot await. */
export function sha256FileSync(file: string): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 * CHUNK);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}
