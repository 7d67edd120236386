import * as fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { localSha256, SshSession } from './session';

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
export async function resumableGet(options: ResumableGetOptions): Promise<ResumableGetResult> {
  const retries = options.retries ?? 5;
  let delay = options.retryDelayMs ?? 1000;
  let resumedBytes = 0;
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= retries + 1; attempt++) {
    let session: SshSession | undefined;
    try {
      session = await options.connect();
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
        const sftp = await session.sftp();
        let done = offset;
        const source = sftp.createReadStream(options.remotePath, { start: offset });
        source.on('data', (chunk: Buffer) => { done += chunk.length; options.onProgress?.(done, total); });
        // A lost connection does not always error the SFTP stream; make it fail the pipeline.
        const onClose = () => source.destroy(new Error('the SSH connection closed during the transfer'));
        session.client.once('close', onClose);
        try {
          await pipeline(source, fs.createWriteStream(options.localPath, { flags: 'a' }));
        } finally {
          session.client.removeListener('close', onClose);
        }
      }
      options.onProgress?.(total, total);
      const sha256 = await localSha256(options.localPath);
      if (sha256 !== options.expectedSha256) {
        fs.truncateSync(options.localPath, 0);
        throw new Error(`sha256 mismatch for ${options.localPath}: got ${sha256}, the origin has ${options.expectedSha256}`);
      }
      return { bytes: total, sha256, attempts: attempt, resumedBytes };
    } catch (err) {
      lastError = err as Error;
      if (/host key|No such file|cannot stat/i.test(lastError.message)) throw lastError;
      if (attempt <= retries) {
        options.log?.(`transfer attempt ${attempt} failed (${lastError.message}); retrying in ${delay} ms`);
        await new Promise((r) => setTimeout(r, delay));
        delay *= 2;
      }
    } finally {
      session?.close();
    }
  }
  throw new Error(`download of ${options.remotePath} failed after ${retries + 1} attempts: ${lastError?.message}`);
}
