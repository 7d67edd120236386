import * as fs from 'node:fs';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createPrivateWriteStream } from '../util/private-file';
import * as zlib from 'node:zlib';

/**
 * A small reader of tar headers (POSIX ustar, pax extended headers, GNU long names), enough to vet a
 * site bundle and to rewrite modes in place. There is no tar library in the dependencies; GNU tar's
 * `--list --verbose` output would have to be parsed back from quoted names, which is fragile for the
 * very names (spaces, ` -> `, newlines) a hostile bundle would use. Reading the 512-byte headers
 * ourselves gives the exact name, type, mode and link target that tar on the instance will see.
 */

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'device' | 'fifo' | 'socket' | 'other';

export interface TarEntry {
  /** The member name as stored (pax `path` / GNU long name applied), not normalised. */
  readonly path: string;
  readonly type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (`mode & 0o7777`). */
  readonly mode: number;
  readonly size: number;
  /** Symlink target, or the member a hardlink refers to. */
  readonly linkTarget?: string;
  /** The raw type flag, for messages about unknown types. */
  readonly typeflag: string;
}

export interface TarScanEvents {
  /** Each member's header; `header` is the block that will be passed to `onBlock`, so it may be patched. */
  onEntry?(entry: TarEntry, header: Buffer): void;
  /** The member's data, without the padding to 512 bytes. */
  onData?(entry: TarEntry, chunk: Buffer): void;
  onEntryEnd?(entry: TarEntry): void;
  /** Every 512-byte block of the archive, in order (extension headers, headers, data, end blocks). */
  onBlock?(block: Buffer): void;
}

/** The bundle is not a tar archive we can read (bad checksum, truncated). */
export class TarFormatError extends Error {
  override readonly name = 'TarFormatError';
  constructor(
    message: string,
    /** Byte offset in the uncompressed archive. */
    readonly offset: number,
  ) {
    super(message);
  }
}

const BLOCK = 512;

function cstring(b: Buffer, start: number, len: number): string {
  const field = b.subarray(start, start + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? len : nul).toString('utf8');
}

function number(b: Buffer, start: number, len: number): number {
  // GNU base-256 for values that do not fit the octal field (sizes >= 8 GiB).
  if (b[start] & 0x80) {
    let v = b[start] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[start + i];
    return v;
  }
  const s = cstring(b, start, len).trim();
  return s ? parseInt(s, 8) : 0;
}

function checksumOf(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
  return sum;
}

/** Rewrites a ustar header's mode field and its checksum (the mode is not carried in pax or GNU extensions). */
export function setHeaderMode(header: Buffer, mode: number): void {
  header.write(mode.toString(8).padStart(7, '0') + '\0', 100, 8, 'ascii');
  header.write(checksumOf(header).toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file', // contiguous file: extracted as a regular file
  S: 'file', // GNU sparse file
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'device',
  '4': 'device',
  '5': 'dir',
  D: 'dir', // GNU dump directory
  '6': 'fifo',
};

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp === -1) break;
    const len = parseInt(data.subarray(i, sp).toString('ascii'), 10);
    if (!(len > 0)) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8'); // without the trailing newline
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** An incremental tar parser: push uncompressed bytes, in any chunking. */
export class TarScanner {
  private pending: Buffer = Buffer.alloc(0);
  private offset = 0;
  /** Bytes of the current record's data still to come (its last block carries the padding). */
  private dataLeft = 0;
  private current?: TarEntry;
  /** Collects the data of a pax or GNU long-name record, which applies to the next header. */
  private meta?: { kind: string; parts: Buffer[] };
  private next: { path?: string; linkTarget?: string; size?: number } = {};

  constructor(private readonly events: TarScanEvents) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let at = 0;
    while (this.pending.length - at >= BLOCK) {
      // A copy: the block may be patched by onEntry and is handed on to onBlock.
      const block = Buffer.from(this.pending.subarray(at, at + BLOCK));
      at += BLOCK;
      this.block(block);
      this.offset += BLOCK;
    }
    this.pending = this.pending.subarray(at);
  }

  end(): void {
    if (this.pending.length || this.dataLeft || this.meta)
      throw new TarFormatError('the archive is truncated', this.offset);
  }

  private block(block: Buffer): void {
    if (this.dataLeft > 0) {
      const data = block.subarray(0, Math.min(this.dataLeft, BLOCK));
      if (this.meta) this.meta.parts.push(Buffer.from(data));
      else if (this.current) this.events.onData?.(this.current, data);
      this.dataLeft -= data.length;
      this.events.onBlock?.(block);
      if (this.dataLeft === 0) this.finishRecord();
      return;
    }
    if (block.every((b) => b === 0)) {
      // End-of-archive blocks. Anything after them is still read and vetted: stricter than tar, never looser.
      this.events.onBlock?.(block);
      return;
    }
    const stored = number(block, 148, 8);
    if (stored !== checksumOf(block))
      throw new TarFormatError(
        `bad header checksum at byte ${this.offset}: not a tar archive or corrupted`,
        this.offset,
      );
    const typeflag = String.fromCharCode(block[156]);
    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      const size = number(block, 124, 12);
      this.meta = { kind: typeflag, parts: [] };
      this.dataLeft = size;
      this.events.onBlock?.(block);
      if (size === 0) this.finishRecord();
      return;
    }
    const size = this.next.size ?? number(block, 124, 12);
    const magic = block.subarray(257, 263).toString('latin1');
    const prefix = magic === 'ustar\0' ? cstring(block, 345, 155) : '';
    const name = cstring(block, 0, 100);
    const linkname = cstring(block, 157, 100);
    const entry: TarEntry = {
      path: this.next.path ?? (prefix ? `${prefix}/${name}` : name),
      type: TYPES[typeflag] ?? 'other',
      mode: number(block, 100, 8) & 0o7777,
      size,
      linkTarget: typeflag === '1' || typeflag === '2' ? (this.next.linkTarget ?? linkname) : undefined,
      typeflag,
    };
    this.next = {};
    this.events.onEntry?.(entry, block);
    this.events.onBlock?.(block);
    this.current = entry;
    this.dataLeft = size;
    if (size === 0) this.finishRecord();
  }

  private finishRecord(): void {
    if (this.meta) {
      const data = Buffer.concat(this.meta.parts);
      const kind = this.meta.kind;
      this.meta = undefined;
      if (kind === 'L') this.next.path = cstring(data, 0, data.length);
      else if (kind === 'K') this.next.linkTarget = cstring(data, 0, data.length);
      else if (kind === 'x') {
        const pax = parsePax(data);
        if (pax.path !== undefined) this.next.path = pax.path;
        if (pax.linkpath !== undefined) this.next.linkTarget = pax.linkpath;
        if (pax.size !== undefined) this.next.size = Number(pax.size);
      }
      // 'g' (global pax) records carry defaults such as mtime; none of them matter for vetting.
      return;
    }
    const entry = this.current;
    this.current = undefined;
    if (entry) this.events.onEntryEnd?.(entry);
  }
}

/**
 * Reads a `.tar.gz` synchronously (for `cdk synth`, whose constructors cannot await). Node has no
 * synchronous streaming gunzip, so the uncompressed archive is held in memory once.
 */
export function scanTarGzSync(file: string, events: TarScanEvents): void {
  const scanner = new TarScanner(events);
  scanner.push(zlib.gunzipSync(fs.readFileSync(file)));
  scanner.end();
}

/** Reads a `.tar.gz` as a stream. */
export async function scanTarGz(file: string, events: TarScanEvents): Promise<void> {
  const scanner = new TarScanner(events);
  await pipeline(
    fs.createReadStream(file),
    zlib.createGunzip(),
    new Writable({
      write(chunk: Buffer, _enc, done) {
        try {
          scanner.push(chunk);
          done();
        } catch (err) {
          done(err as Error);
        }
      },
      final(done) {
        try {
          scanner.end();
          done();
        } catch (err) {
          done(err as Error);
        }
      },
    }),
  );
}

/**
 * Copies a `.tar.gz`, giving the members named in `modes` (by stored name) the mode there. Every other
 * byte of the archive is kept: the same members, order, names and data.
 */
export async function rewriteTarGzModes(src: string, dst: string, modes: ReadonlyMap<string, number>): Promise<void> {
  const out = new Transform({
    transform(chunk: Buffer, _enc, done) {
      try {
        scanner.push(chunk);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    flush(done) {
      try {
        scanner.end();
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
  const scanner = new TarScanner({
    onEntry(entry, header) {
      const mode = modes.get(entry.path);
      if (mode !== undefined) setHeaderMode(header, mode);
    },
    onBlock(block) {
      out.push(block);
    },
  });
  await pipeline(fs.createReadStream(src), zlib.createGunzip(), out, zlib.createGzip(), createPrivateWriteStream(dst));
}
