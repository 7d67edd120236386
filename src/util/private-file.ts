import * as fs from 'node:fs';

/**
 * The mode of every local file that holds the origin's data or a credential (dumps, checksums, site
 * archives, their `.part` downloads, the state file): owner read/write only, as the sync-back export.
 * A mode passed to open() applies only when the file is created (and through the umask), so an existing
 * file, say a `.part` left by an older version, is chmod-ed as well.
 */
export const PRIVATE_FILE_MODE = 0o600;

/** Opens `file` with `flags` ('w', 'a', ...) as a private file, fixing the mode of a file that already existed. */
export function openPrivateSync(file: string, flags: string): number {
  const fd = fs.openSync(file, flags, PRIVATE_FILE_MODE);
  try {
    fs.fchmodSync(fd, PRIVATE_FILE_MODE);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}

/** The promise form of openPrivateSync. */
export async function openPrivate(file: string, flags: string): Promise<fs.promises.FileHandle> {
  const handle = await fs.promises.open(file, flags, PRIVATE_FILE_MODE);
  try {
    await handle.chmod(PRIVATE_FILE_MODE);
  } catch (err) {
    await handle.close();
    throw err;
  }
  return handle;
}

/** Writes `data` to `file` (replacing it) as a private file. */
export function writePrivateFileSync(file: string, data: string | Uint8Array): void {
  const fd = openPrivateSync(file, 'w');
  try {
    fs.writeFileSync(fd, data);
  } finally {
    fs.closeSync(fd);
  }
}

/** A write stream to `file` (truncated) as a private file. */
export function createPrivateWriteStream(file: string): fs.WriteStream {
  return fs.createWriteStream('', { fd: openPrivateSync(file, 'w') });
}
