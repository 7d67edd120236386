import * as fs from 'node:fs';
import { isSshError, SshError } from './errors';
import { exponentialBackoff, retry } from '../util/retry';
import { openPrivate } from '../util/private-file';
import { sha256File } from '../util/sha256';
import { remoteFileError, SshSession } from './session';

export interface ResumableGetOptions {
  /** Opens a fresh SSH session (called again after a lost connection). */
  readonly connect: () => Promise<SshSession>;
  readonly remotePath: string;
  readonly localPath: string;
  /** The sha256 the origin computed; the download is verified against it. */
  readonly expectedSha256: string;
  /** Attempts after the first one, for lost connections and mismatches. @default 5 */
  readonly retries?: number;
  /** Wait between attempts, doubled each time. @default 1000 */
  readonly retryDelayMs?: number;
  /** Called with bytes done and the total. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Called with a line for each retry. */
  readonly log?: (message: string) => void;
  /** SFTP read requests kept in flight (of 64 KiB each); 1 is a plain sequential read. @default 32 */
  readonly window?: number;
}

const READ_SIZE = 64 * 1024;

/** The downloaded bytes do not hash to what the origin computed (the local copy is truncated for a retry). */
export class ChecksumMismatchError extends Error {
  override readonly name = 'ChecksumMismatchError';
  constructor(
    readonly localPath: string,
    readonly actual: string,
    readonly expected: string,
  ) {
    super(`sha256 mismatch for ${localPath}: got ${actual}, the origin has ${expected}`);
  }
}

/** Every attempt of a resumable download failed; `cause` is the last attempt's error. */
export class TransferFailedError extends Error {
  override readonly name = 'TransferFailedError';
  constructor(
    readonly remotePath: string,
    readonly attempts: number,
    cause: Error | undefined,
  ) {
    super(`download of ${remotePath} failed after ${attempts} attempts: ${cause?.message}`, { cause });
  }
}

/**
 * Reads [offset, total) of a remote file with `window` SFTP reads in flight and appends the bytes in
 * order to the local file. One read at a time (ssh2's createReadStream) waits a round trip per 64 KiB,
 * which over a WAN link is a few MB/s at best; a window keeps the link busy.
 */
async function pipelinedRead(
  session: SshSession,
  remotePath: string,
  offset: number,
  total: number,
  localPath: string,
  window: number,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  const sftp = await session.sftp();
  const handle = await new Promise<Buffer>((resolve, reject) =>
    sftp.open(remotePath, 'r', (err, h) =>
      err ? reject(remoteFileError('open', remotePath, err, session.where)) : resolve(h),
    ),
  );
  // A lost connection does not always fail outstanding requests; fail them ourselves.
  let onClose!: () => void;
  const closed = new Promise<never>((_, reject) => {
    onClose = () =>
      reject(new SshError('connection-lost', 'the SSH connection closed during the transfer', session.where));
    session.client.once('close', onClose);
  });
  closed.catch(() => undefined);
  const readAt = (position: number, length: number) => {
    const p = Promise.race([
      closed,
      new Promise<Buffer>((resolve, reject) =>
        sftp.read(handle, Buffer.allocUnsafe(length), 0, length, position, (err, bytesRead, buf) =>
          err ? reject(err) : resolve(buf.subarray(0, bytesRead)),
        ),
      ),
    ]);
    p.catch(() => undefined); // requests behind a failed one are abandoned; their rejections are expected
    return p;
  };
  const out = await openPrivate(localPath, 'a'); // a partial dump or site archive is as private as the whole
  try {
    let next = offset;
    let done = offset;
    const inFlight: Array<{ position: number; length: number; data: Promise<Buffer> }> = [];
    const fill = () => {
      while (next < total && inFlight.length < Math.max(1, window)) {
        const length = Math.min(READ_SIZE, total - next);
        inFlight.push({ position: next, length, data: readAt(next, length) });
        next += length;
      }
    };
    fill();
    while (inFlight.length > 0) {
      const req = inFlight.shift()!;
      let buf = await req.data;
      // A short read (allowed by SFTP) is completed before anything after it is written.
      while (buf.length < req.length) {
        const more = await readAt(req.position + buf.length, req.length - buf.length);
        if (more.length === 0)
          throw new Error(
            `${remotePath} on the origin is shorter than ${total} bytes (it changed during the transfer?)`,
          );
        buf = Buffer.concat([buf, more]);
      }
      await out.write(buf);
      done += buf.length;
      onProgress?.(done, total);
      fill();
    }
  } finally {
    session.client.removeListener('close', onClose);
    await out.close();
    sftp.close(handle, () => undefined);
  }
}

export interface ResumableGetResult {
  readonly bytes: number;
  readonly sha256: string;
  readonly attempts: number;
  /** Bytes that were already on disk when a (re)attempt started, summed: what resuming saved. */
  readonly resumedBytes: number;
}

/**
 * Downloads a file over SFTP, appending from the local file's size (resume), retrying on a lost
 * connection, and verifying the sha256 at the end. A mismatch restarts from zero once per retry:
 * a corrupt prefix cannot be repaired by appending.
 */
/** A wrong host key, a missing remote file or a login we cannot make does not get better by retrying. */
const isPermanent = (err: unknown) => isSshError(err, 'host-key', 'remote-file', 'local-setup');

export async function resumableGet(options: ResumableGetOptions): Promise<ResumableGetResult> {
  const retries = options.retries ?? 5;
  let resumedBytes = 0;
  const attempt = async (n: number): Promise<ResumableGetResult> => {
    const session = await options.connect();
    try {
      const total = await session.remoteSize(options.remotePath);
      let offset = fs.existsSync(options.localPath) ? fs.statSync(options.localPath).size : 0;
      if (offset > total) {
        options.log?.(`${options.localPath} is larger than the remote file (${offset} > ${total}): starting over`);
        fs.truncateSync(options.localPath, 0);
        offset = 0;
      }
      if (offset > 0) {
        resumedBytes += offset;
        options.log?.(`resuming ${options.remotePath} at byte ${offset} of ${total}`);
      }
      if (offset < total) {
        await pipelinedRead(
          session,
          options.remotePath,
          offset,
          total,
          options.localPath,
          options.window ?? 32,
          options.onProgress,
        );
      }
      options.onProgress?.(total, total);
      const sha256 = await sha256File(options.localPath);
      if (sha256 !== options.expectedSha256) {
        fs.truncateSync(options.localPath, 0);
        throw new ChecksumMismatchError(options.localPath, sha256, options.expectedSha256);
      }
      return { bytes: total, sha256, attempts: n, resumedBytes };
    } finally {
      session.close();
    }
  };
  try {
    return await retry(attempt, {
      shouldRetry: (err, n) => !isPermanent(err) && n <= retries,
      delayMs: exponentialBackoff(options.retryDelayMs ?? 1000),
      onRetry: (err, n, delay) =>
        options.log?.(`transfer attempt ${n} failed (${(err as Error).message}); retrying in ${delay} ms`),
    });
  } catch (err) {
    if (isPermanent(err)) throw err;
    throw new TransferFailedError(options.remotePath, retries + 1, err as Error);
  }
}
