import { Readable, Transform, pipeline } from 'node:stream';
import * as zlib from 'node:zlib';
import type { DumpSource } from './importer';
import { DumpStatement, StatementSplitter } from './splitter';

/**
 * One streamed read of a dump from its first byte: counted, gunzipped when the source is gzip, and split
 * into statements. The pre-pass (./dump-check) and the import (./importer) both read the dump this way,
 * so what the check vetted is byte for byte what the import runs.
 */
export class DumpReader {
  /** Bytes read from the source so far (compressed bytes for gzip: what `source.size` counts). */
  rawBytes = 0;
  /** Uncompressed bytes read so far: the dump's offsets count these. */
  bytes = 0;

  constructor(
    private readonly source: DumpSource,
    /** Sees every uncompressed chunk before it is split (the pre-pass keeps the dump's last bytes). */
    private readonly onChunk?: (chunk: Buffer) => void,
  ) {}

  /**
   * The statements each chunk completes, then the last one (a statement without a delimiter, as the mysql
   * client runs it). Breaking out of the loop closes the source; a read or gunzip error is thrown from it.
   */
  async *statements(): AsyncGenerator<DumpStatement[]> {
    const raw = await this.source.open();
    const counter = new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        this.rawBytes += chunk.length;
        cb(null, chunk);
      },
    });
    // The loop over `out` may end cleanly where pipeline's callback sees an error: checked before the last statement.
    let streamError: Error | undefined;
    const stages: NodeJS.ReadWriteStream[] = [counter];
    if (this.source.gzip) stages.push(zlib.createGunzip());
    const out = (pipeline as (...args: unknown[]) => Readable)(raw, ...stages, (err: Error | null) => {
      if (err && (err as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') streamError = err;
    });
    const splitter = new StatementSplitter();
    try {
      for await (const chunk of out as AsyncIterable<Buffer>) {
        this.bytes += chunk.length;
        this.onChunk?.(chunk);
        yield splitter.push(chunk);
      }
      if (streamError) throw streamError;
      yield splitter.end();
    } finally {
      out.destroy();
      raw.destroy();
    }
  }

  /**
   * The start of a message for an error from gunzip (`…: the gzip stream ends early …`, `…: not a valid gzip
   * stream …`), or undefined for any other error; the caller adds what it means for its run.
   */
  gzipFailure(err: unknown): { readonly truncated: boolean; readonly message: string } | undefined {
    const e = err as { code?: string; message?: string };
    if (e.code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(e.message ?? ''))
      return {
        truncated: true,
        message: `${this.source.description}: the gzip stream ends early after ${this.rawBytes} compressed bytes: the dump is truncated (incomplete download or copy?)`,
      };
    if (e.code?.startsWith('Z_'))
      return {
        truncated: false,
        message: `${this.source.description}: not a valid gzip stream (${e.message}) after ${this.rawBytes} bytes`,
      };
    return undefined;
  }
}
