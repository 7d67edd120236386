/**
 * Streaming statement splitter for mysqldump output.
 *
 * Hand-written rather than a SQL parser library: a parser needs whole statements, while a dump is a
 * client-side script (`DELIMITER` commands, MariaDB's `/*M!999999\- ...` sandbox line) whose
 * statements may be many MB of binary data. What the `mysql` client does is a small byte-level state
 * machine (quotes, escapes, comments, delimiter), and that is what this is: it never holds more than
 * the current statement, works on bytes so binary data and utf8mb4 pass through unchanged, and reports
 * each statement's byte offsets in the (uncompressed) dump so an import can resume exactly.
 */

/** One statement of the dump, without its delimiter. */
export interface DumpStatement {
  /** The statement's bytes exactly as in the dump (leading comments and whitespace removed). */
  readonly sql: Buffer;
  /** Offset of the statement's first byte in the uncompressed dump. */
  readonly startOffset: number;
  /** Offset just past its delimiter: where the next statement's search starts, and where a resume starts. */
  readonly endOffset: number;
  /** 1-based line of the statement's first byte, for error messages. */
  readonly line: number;
  /**
   * A client-side command rather than SQL (MariaDB's `/*M!999999\- enable the sandbox mode * /`):
   * the `mysql` client interprets it, the server would reject it.
   */
  readonly clientCommand?: boolean;
  /**
   * The dump's `character_set_client` for this statement when it is one whose two-byte characters may
   * end in 0x5C (backslash) or 0x60 (backtick): sjis, cp932, big5, gbk, gb18030. Anything that reads the
   * statement's bytes (the vetting) must step over such characters as the server's lexer does.
   */
  readonly charset?: MultiByteCharset;
}

/** Character sets whose two-byte characters can have a trail byte that is ASCII `\` or `` ` ``. */
export type MultiByteCharset = 'sjis' | 'cp932' | 'big5' | 'gbk' | 'gb18030';

interface ByteRanges {
  lead: Array<[number, number]>;
  trail: Array<[number, number]>;
}

// cp932 is Microsoft's sjis: the same lead and trail ranges.
const SJIS_RANGES: ByteRanges = {
  lead: [
    [0x81, 0x9f],
    [0xe0, 0xfc],
  ],
  trail: [
    [0x40, 0x7e],
    [0x80, 0xfc],
  ],
};

// Two-byte gb18030 characters are gbk's; its four-byte ones (second byte 0x30-0x39) never hold 0x5C.
const GBK_RANGES: ByteRanges = {
  lead: [[0x81, 0xfe]],
  trail: [
    [0x40, 0x7e],
    [0x80, 0xfe],
  ],
};

/** Lead and trail byte ranges, as MySQL's and MariaDB's `ismbchar_*` (strings/ctype-sjis.c, -big5.c, -gbk.c). */
const MB_RANGES: Record<MultiByteCharset, ByteRanges> = {
  sjis: SJIS_RANGES,
  cp932: SJIS_RANGES,
  big5: {
    lead: [[0xa1, 0xf9]],
    trail: [
      [0x40, 0x7e],
      [0xa1, 0xfe],
    ],
  },
  gbk: GBK_RANGES,
  gb18030: GBK_RANGES,
};

/** Per charset, a 256-entry table: bit 1 = lead byte, bit 2 = trail byte. */
const MB_TABLES = new Map<MultiByteCharset, Uint8Array>(
  (Object.keys(MB_RANGES) as MultiByteCharset[]).map((cs) => {
    const t = new Uint8Array(256);
    for (const [lo, hi] of MB_RANGES[cs].lead) for (let b = lo; b <= hi; b++) t[b] |= 1;
    for (const [lo, hi] of MB_RANGES[cs].trail) for (let b = lo; b <= hi; b++) t[b] |= 2;
    return [cs, t];
  }),
);

/** The byte table of a multibyte charset, or undefined for charsets whose bytes >= 0x80 never pair with ASCII. */
export function multiByteTable(charset: MultiByteCharset | undefined): Uint8Array | undefined {
  return charset ? MB_TABLES.get(charset) : undefined;
}

function asMultiByte(name: string | undefined): MultiByteCharset | undefined {
  const n = (name ?? '').toLowerCase();
  return MB_TABLES.has(n as MultiByteCharset) ? (n as MultiByteCharset) : undefined;
}

const enum S {
  Start,
  Normal,
  SQuote,
  DQuote,
  Backtick,
  LineComment,
  BlockComment,
  StartLineComment,
  StartBlockComment,
  ClientComment,
}

const SPACE = (b: number) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0b || b === 0x0c;
const DELIMITER_WORD = Buffer.from('delimiter', 'latin1');
/** The bytes that matter inside a '...' / "..." string when no multibyte charset is active: 1 = stop there. */
const stopTable = (quote: number) => {
  const t = new Uint8Array(256);
  for (const b of [quote, 0x5c, 0x0a]) t[b] = 1;
  return t;
};
const SQUOTE_STOP = stopTable(0x27);
/** The first position in [i, end) whose byte is marked in `stop`, or `end`. Kept small so V8 optimizes it alone. */
function skipPlain(buf: Buffer, i: number, end: number, stop: Uint8Array): number {
  while (i < end && stop[buf[i]] === 0) i++;
  return i;
}
const DQUOTE_STOP = stopTable(0x22);

/**
 * Thrown for input the splitter cannot make sense of (an unterminated string at the end of the dump, a bad DELIMITER
 * line).
 */
export class DumpSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'DumpSyntaxError';
  }
}

export class StatementSplitter {
  private state = S.Start;
  private delimiter = Buffer.from(';');
  /** Offset (in the whole dump) of `carry[0]` / of the next chunk's first byte when carry is empty. */
  private base = 0;
  private carry: Buffer = Buffer.alloc(0);
  private pieces: Buffer[] = [];
  private stmtStart = -1;
  private stmtLine = 1;
  private line = 1;
  /** Offset of the opening quote or comment, for "unterminated" errors. */
  private openedAt = 0;
  private finished = false;
  /**
   * The dump's `character_set_client` as set by its `SET NAMES`, `SET CHARACTER SET` and
   * `SET character_set_client = ...` statements (mysqldump saves and restores it in user variables,
   * so those are followed too). The server lexes strings in that charset: in sjis, `'表'` is 27 95 5C 27,
   * and the 0x5C is half of a character, not an escape.
   */
  private charsetName: string | undefined;
  private readonly savedCharsets = new Map<string, string | undefined>();
  private mb: Uint8Array | undefined;

  /** Feeds the next chunk of the dump; returns the statements completed by it. */
  push(chunk: Buffer): DumpStatement[] {
    if (this.finished) throw new Error('StatementSplitter: push() after end()');
    const buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    return this.scan(buf, false);
  }

  /** Signals the end of the dump; returns the last statement if it had no delimiter (as the mysql client runs it). */
  end(): DumpStatement[] {
    this.finished = true;
    return this.scan(this.carry, true);
  }

  private scan(buf: Buffer, final: boolean): DumpStatement[] {
    const out: DumpStatement[] = [];
    const n = buf.length;
    let i = 0;
    let seg = 0; // start of the current statement's bytes in buf
    let state = this.state;
    const delim = this.delimiter;
    const d0 = delim[0];
    const dlen = delim.length;
    let line = this.line;
    let mb = this.mb;
    // The next ' / " / backslash / newline at or after some earlier position (-2: not searched yet, -1: none in
    // buf), for the quoted strings' fast path.
    let nextSq = -2;
    let nextDq = -2;
    let nextBs = -2;
    let nextNl = -2;

    // Lookahead checks are written inline as `(i + k > n && !final)`: "wait for more bytes before deciding".
    // A closure over `i` would make V8 keep `i` in a heap context and slow the byte loop several times.

    scan: while (i < n) {
      const b = buf[i];
      switch (state) {
        case S.Start: {
          if (b === 0x0a) {
            line++;
            i++;
            continue;
          }
          if (SPACE(b)) {
            i++;
            continue;
          }
          if (b === 0x23) {
            state = S.StartLineComment;
            i++;
            continue;
          } // '#'
          if (b === 0x2d) {
            // "-- "
            if (i + 3 > n && !final) break scan;
            if (buf[i + 1] === 0x2d && (i + 2 >= n || buf[i + 2] <= 0x20)) {
              state = S.StartLineComment;
              i += 2;
              continue;
            }
          }
          if (b === 0x2f) {
            // "/*"
            if (i + 13 > n && !final) break scan;
            if (buf[i + 1] === 0x2a) {
              if (isClientCommandComment(buf, i)) {
                state = S.ClientComment;
                this.stmtStart = this.base + i;
                this.stmtLine = line;
                i += 2;
                continue;
              }
              if (buf[i + 2] !== 0x21 && !(buf[i + 2] === 0x4d && buf[i + 3] === 0x21)) {
                state = S.StartBlockComment;
                this.openedAt = this.base + i;
                i += 2;
                continue;
              }
            }
          }
          if (b === 0x44 || b === 0x64) {
            // DELIMITER at the start of a statement is a client command
            if (i + DELIMITER_WORD.length + 1 > n && !final) break scan;
            const eol = isDelimiterWord(buf, i) ? buf.indexOf(0x0a, i) : -2;
            if (eol === -1 && !final) break scan;
            const lineEnd = eol < 0 ? n : eol;
            if (eol !== -2) {
              const word =
                buf
                  .subarray(i + DELIMITER_WORD.length, lineEnd)
                  .toString('latin1')
                  .trim()
                  .split(/\s+/)[0] ?? '';
              if (!word)
                throw new DumpSyntaxError(
                  `DELIMITER without a delimiter at line ${line} (offset ${this.base + i})`,
                  this.base + i,
                );
              this.delimiter = Buffer.from(word, 'latin1');
              this.state = S.Start;
              this.line = line;
              // Restart with the new delimiter (delim/d0 are cached in locals).
              const rest = buf.subarray(lineEnd);
              this.base += lineEnd;
              this.carry = Buffer.alloc(0);
              return out.concat(this.scan(rest, final));
            }
          }
          this.stmtStart = this.base + i;
          this.stmtLine = line;
          seg = i;
          state = S.Normal;
          continue;
        }
        // A comment between statements returns to Start, one inside a statement to Normal.
        case S.StartLineComment:
        case S.LineComment:
          if (b === 0x0a) {
            line++;
            state = state === S.LineComment ? S.Normal : S.Start;
          }
          i++;
          continue;
        case S.StartBlockComment:
        case S.BlockComment:
        case S.ClientComment:
          if (b === 0x2a) {
            if (i + 2 > n && !final) break scan;
            if (buf[i + 1] === 0x2f) {
              i += 2;
              if (state === S.ClientComment) {
                out.push({
                  sql: Buffer.from(buf.subarray(this.stmtStart - this.base, i)),
                  startOffset: this.stmtStart,
                  endOffset: this.base + i,
                  line: this.stmtLine,
                  clientCommand: true,
                });
                this.stmtStart = -1;
              }
              state = state === S.BlockComment ? S.Normal : S.Start;
              continue;
            }
          } else if (b === 0x0a) line++;
          i++;
          continue;
        case S.Normal:
          if (b === d0) {
            if (dlen > 1) {
              if (i + dlen > n && !final) break scan;
              let match = i + dlen <= n;
              for (let k = 1; match && k < dlen; k++) if (buf[i + k] !== delim[k]) match = false;
              if (!match) {
                i++;
                continue;
              }
            }
            this.emit(buf, seg, i, i + dlen, out);
            mb = this.mb; // the statement may have been a SET NAMES
            seg = i + dlen;
            i += dlen;
            state = S.Start;
            continue;
          }
          if (mb !== undefined && b >= 0x80 && mb[b] & 1) {
            // a two-byte character (an unquoted identifier): its trail byte may look like a backtick
            if (i + 2 > n && !final) break scan;
            if (i + 1 < n && mb[buf[i + 1]] & 2) {
              i += 2;
              continue;
            }
          }
          switch (b) {
            case 0x27:
              state = S.SQuote;
              this.openedAt = this.base + i;
              break;
            case 0x22:
              state = S.DQuote;
              this.openedAt = this.base + i;
              break;
            case 0x60:
              state = S.Backtick;
              this.openedAt = this.base + i;
              break;
            case 0x0a:
              line++;
              break;
            case 0x23:
              state = S.LineComment;
              break;
            case 0x2d:
              if (i + 3 > n && !final) break scan;
              if (buf[i + 1] === 0x2d && (i + 2 >= n || buf[i + 2] <= 0x20)) {
                state = S.LineComment;
                i++;
              }
              break;
            case 0x2f:
              if (i + 4 > n && !final) break scan;
              // Executable comments (/*! and /*M!) are SQL to the server: the splitter reads their content as such.
              if (buf[i + 1] === 0x2a && buf[i + 2] !== 0x21 && !(buf[i + 2] === 0x4d && buf[i + 3] === 0x21)) {
                state = S.BlockComment;
                this.openedAt = this.base + i;
                i++;
              }
              break;
          }
          i++;
          continue;
        case S.SQuote:
        case S.DQuote: {
          const quote = state === S.SQuote ? 0x27 : 0x22;
          // Extended INSERTs spend nearly all their bytes here.
          if (mb === undefined) {
            // Without a multibyte charset only a quote, a backslash or a newline matters. Short runs of other bytes
            // (most rows: short text, escapes every few dozen bytes in binary) are stepped over with a table;
            // a long run is jumped natively. Each next position found natively is cached and searched again only
            // once i has passed it, so every byte of buf is looked at once per kind: O(n) whatever the content.
            const stop = quote === 0x27 ? SQUOTE_STOP : DQUOTE_STOP;
            for (;;) {
              const runEnd = i + 16 < n ? i + 16 : n;
              i = skipPlain(buf, i, runEnd, stop);
              if (i === runEnd && i < n) {
                let q: number;
                if (quote === 0x27) {
                  if (nextSq !== -1 && nextSq < i) nextSq = buf.indexOf(0x27, i);
                  q = nextSq;
                } else {
                  if (nextDq !== -1 && nextDq < i) nextDq = buf.indexOf(0x22, i);
                  q = nextDq;
                }
                if (nextBs !== -1 && nextBs < i) nextBs = buf.indexOf(0x5c, i);
                if (nextNl !== -1 && nextNl < i) nextNl = buf.indexOf(0x0a, i);
                let next = q === -1 ? n : q;
                if (nextBs !== -1 && nextBs < next) next = nextBs;
                if (nextNl !== -1 && nextNl < next) next = nextNl;
                i = next;
              }
              if (i >= n) break; // the string goes on in the next chunk
              const c = buf[i];
              if (c === 0x5c) {
                // backslash escapes the next byte
                if (i + 1 >= n) {
                  if (!final) break scan;
                  i++;
                  break;
                }
                if (buf[i + 1] === 0x0a) line++;
                i += 2;
              } else if (c === quote) {
                state = S.Normal;
                i++;
                continue scan;
              } else {
                line++; // a raw newline
                i++;
              }
            }
            continue;
          }
          while (i < n) {
            const c = buf[i];
            if (mb !== undefined && c >= 0x80 && mb[c] & 1) {
              if (i + 1 >= n) {
                if (!final) break scan;
                i++;
                break;
              }
              if (mb[buf[i + 1]] & 2) {
                i += 2; // lead + trail: one character, whatever the trail byte looks like
                continue;
              }
            }
            if (c === 0x5c) {
              // backslash escapes the next byte
              if (i + 1 >= n) {
                if (!final) break scan;
                i++;
                break;
              }
              if (buf[i + 1] === 0x0a) line++;
              i += 2;
              continue;
            }
            if (c === quote) {
              state = S.Normal;
              i++;
              continue scan;
            }
            if (c === 0x0a) line++;
            i++;
          }
          continue;
        }
        case S.Backtick:
          if (mb !== undefined && b >= 0x80 && mb[b] & 1) {
            if (i + 2 > n && !final) break scan;
            if (i + 1 < n && mb[buf[i + 1]] & 2) {
              i += 2;
              continue;
            }
          }
          if (b === 0x60) state = S.Normal;
          else if (b === 0x0a) line++;
          i++;
          continue;
      }
    }

    // Keep what is undecided (or belongs to the current statement) for the next chunk.
    if (final) {
      if (state === S.SQuote || state === S.DQuote || state === S.Backtick) {
        throw new DumpSyntaxError(
          `the dump ends inside a quoted string opened at offset ${this.openedAt} (statement at offset ${this.stmtStart}, line ${this.stmtLine}): is the file truncated?`,
          this.openedAt,
        );
      }
      if (state === S.BlockComment || state === S.StartBlockComment) {
        throw new DumpSyntaxError(
          `the dump ends inside a /* comment */ opened at offset ${this.openedAt}: is the file truncated?`,
          this.openedAt,
        );
      }
      if (state === S.ClientComment) {
        throw new DumpSyntaxError(
          `the dump ends inside a client command comment at offset ${this.stmtStart}: is the file truncated?`,
          this.stmtStart,
        );
      }
      if (this.stmtStart >= 0) this.emit(buf, seg, n, n, out);
      this.carry = Buffer.alloc(0);
      this.base += n;
    } else {
      if (this.stmtStart >= 0 && state !== S.ClientComment) {
        // Statement bytes before i are final; bytes from i on are re-scanned with the next chunk.
        this.pieces.push(buf.subarray(seg, i));
      }
      // A client comment is short: re-scan it whole with the next chunk.
      if (state === S.ClientComment) {
        const from = this.stmtStart - this.base;
        this.carry = Buffer.from(buf.subarray(from));
        this.base += from;
        this.stmtStart = -1;
        this.state = S.Start;
        this.line = this.stmtLine;
        return out;
      }
      this.carry = i < n ? Buffer.from(buf.subarray(i)) : Buffer.alloc(0);
      this.base += i;
    }
    this.state = state;
    this.line = line;
    return out;
  }

  /** Completes the current statement with buf[seg, endExclusive); `after` is just past its delimiter. */
  private emit(buf: Buffer, seg: number, endExclusive: number, after: number, out: DumpStatement[]): void {
    this.pieces.push(buf.subarray(seg, endExclusive));
    const sql = trimEnd(this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces));
    if (sql.length) {
      const charset = asMultiByte(this.charsetName);
      out.push({
        // One copy: a statement of several pieces is already a new buffer; one of a single piece is a view of
        // the caller's chunk (kept, it would hold the whole chunk in memory).
        sql: this.pieces.length === 1 ? Buffer.from(sql) : sql,
        startOffset: this.stmtStart,
        endOffset: this.base + after,
        line: this.stmtLine,
        ...(charset ? { charset } : {}),
      });
      // Only SET statements change the charset; they are short, so this costs nothing on data.
      if (sql.length < 1024) this.trackCharset(sql);
    }
    this.pieces = [];
    this.stmtStart = -1;
  }

  /**
   * Follows `SET NAMES x`, `SET CHARACTER SET x`, `SET character_set_client = x | @saved` and
   * `SET @saved = @@character_set_client`.
   */
  private trackCharset(sql: Buffer): void {
    const text = sql
      .toString('latin1')
      .replace(/\/\*M?!\d*|\*\//g, ' ')
      .trim();
    if (!/^SET\s/i.test(text)) return;
    const body = text.slice(4);
    const names = /^\s*(?:NAMES|CHARACTER\s+SET|CHARSET)\s+['"`]?(\w+)/i.exec(body);
    if (names) {
      this.setCharset(names[1].toLowerCase() === 'default' ? undefined : names[1]);
      return;
    }
    for (const part of body.split(',')) {
      const save = /^\s*@(\w+)\s*:?=\s*@@(?:SESSION\.|LOCAL\.)?character_set_client\s*$/i.exec(part);
      if (save) {
        this.savedCharsets.set(save[1].toLowerCase(), this.charsetName);
        continue;
      }
      const assign =
        /^\s*(?:@@)?(?:SESSION\s+|LOCAL\s+|SESSION\.|LOCAL\.)?character_set_client\s*:?=\s*(@?)['"`]?(\w+)/i.exec(part);
      if (assign) {
        this.setCharset(
          assign[1]
            ? this.savedCharsets.get(assign[2].toLowerCase())
            : assign[2].toLowerCase() === 'default'
              ? undefined
              : assign[2],
        );
      }
    }
  }

  private setCharset(name: string | undefined): void {
    this.charsetName = name?.toLowerCase();
    this.mb = multiByteTable(asMultiByte(this.charsetName));
  }
}

function trimEnd(b: Buffer): Buffer {
  let e = b.length;
  while (e > 0 && SPACE(b[e - 1])) e--;
  return e === b.length ? b : b.subarray(0, e);
}

/** `/*M!999999\-` or `/*!999999\-`: a comment carrying a client command (backslash after the version). */
function isClientCommandComment(buf: Buffer, i: number): boolean {
  let j = i + 2;
  if (buf[j] === 0x4d) j++;
  if (buf[j] !== 0x21) return false;
  j++;
  while (j < buf.length && buf[j] >= 0x30 && buf[j] <= 0x39) j++;
  return buf[j] === 0x5c;
}

function isDelimiterWord(buf: Buffer, i: number): boolean {
  if (buf.length - i <= DELIMITER_WORD.length) return false;
  for (let k = 0; k < DELIMITER_WORD.length; k++) if ((buf[i + k] | 0x20) !== DELIMITER_WORD[k]) return false;
  return SPACE(buf[i + DELIMITER_WORD.length]);
}

/** Splits a whole in-memory dump (tests, small files). */
export function splitAll(dump: Buffer, chunkSize = 64 * 1024): DumpStatement[] {
  const s = new StatementSplitter();
  const out: DumpStatement[] = [];
  for (let i = 0; i < dump.length; i += chunkSize) out.push(...s.push(dump.subarray(i, i + chunkSize)));
  out.push(...s.end());
  return out;
}
