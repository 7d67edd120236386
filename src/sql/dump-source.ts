import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { DumpSource } from './importer';

/** True if the bytes start with the gzip magic number (the name of a file says nothing reliable). */
export function isGzipMagic(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** A dump file on disk, plain `.sql` or gzip. */
export function fileDumpSource(file: string): DumpSource {
  const stat = fs.statSync(file);
  if (!stat.isFile()) throw new Error(`${file} is not a file`);
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(2);
  try {
    fs.readSync(fd, head, 0, 2, 0);
  } finally {
    fs.closeSync(fd);
  }
  return {
    description: file,
    gzip: isGzipMagic(head),
    size: stat.size,
    open: async () => fs.createReadStream(file, { highWaterMark: 1024 * 1024 }),
  };
}

// The dump's hash identifies it in the progress table; the one implementation lives in util.
export { sha256File } from '../util/sha256';

/** A dump held in memory (tests). */
export function bufferDumpSource(data: Buffer, description = 'dump'): DumpSource {
  return { description, gzip: isGzipMagic(data), size: data.length, open: async () => Readable.from([data]) };
}
