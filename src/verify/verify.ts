import { bucketWidth, canonical, Column, keyDisplay, UTF8 } from './canonical';
import { QueryRunner, Row } from './runner';
import { Range, sleep, sqlSide, Sum, TableShape, TableSide, VerifySide } from './side';

export { prepareSession, readShapes, startSnapshot } from './side';
export type { TableShape } from './side';

/**
 * Row-level verification of two databases, pt-table-checksum's way: each server hashes its own rows
 * (a canonical text per column type, see canonical.ts) and sums the hashes per chunk of the primary
 * key; only the chunk sums travel. Chunks whose sums differ are drilled into and the rows named.
 *
 * Hash width: 64 bits per row (half of MD5, a non-linear hash: with a linear one such as CRC32 two rows
 * swapping a value at the same offset cancel in the XOR), aggregated per chunk with BIT_XOR (an integer
 * aggregate: SUM's DECIMAL accumulator measured twice as slow) next to COUNT(*). Keyed rows are unique,
 * so nothing cancels by repetition; a differing chunk goes unnoticed only if the XOR of its changed
 * rows' hashes happens to be zero: about 2^-64 per differing chunk (a million differing chunks: ~1e-13).
 * A table without a key can hold duplicate rows, which XOR would cancel: there the aggregate is an
 * exact SUM (a DECIMAL, no overflow). Row hashes compare by key, with the same odds.
 */

/** Rows per chunk unless told otherwise. */
export const DEFAULT_CHUNK_SIZE = 1000;

export interface VerifyOptions {
  /** A session (its SQL built here) or a side (e.g. the export Lambda, ./remote.ts). */
  readonly left: QueryRunner | VerifySide;
  readonly right: QueryRunner | VerifySide;
  readonly leftDatabase: string;
  /** @default leftDatabase */
  readonly rightDatabase?: string;
  /** Only these tables. @default every base table on either side except `exclude` */
  readonly tables?: readonly string[];
  /** Tables left out when `tables` is not given. @default /^_?rushhour_/ (this tool's own bookkeeping) */
  readonly exclude?: RegExp;
  /** Rows per chunk (the unit of the checksum queries). @default 1000 */
  readonly chunkSize?: number;
  /** Pause between chunks, to bound the load on a production origin. @default 0 */
  readonly pauseMs?: number;
  /** See ChunkOptions. @default 8 */
  readonly bucketRows?: number;
  /** See ChunkOptions. @default false */
  readonly bucketsFirst?: boolean;
  /** See ChunkOptions. @default true */
  readonly nameColumns?: boolean;
  /** See ChunkOptions. @default 100 */
  readonly window?: number;
  /** Keep the snapshot transactions open after the verify (the delta repair reads rows in the same snapshot). */
  readonly keepSnapshot?: boolean;
  readonly log?: (message: string) => void;
}

export interface Key {
  /** The key values as they travel (digits, hex of utf8mb4 text, temporal text). */
  readonly raw: string[];
  /** The same, readable: `{ id: '17' }`. */
  readonly display: Record<string, string>;
}

export interface DifferingRow extends Key {
  readonly columns: string[];
}

/** For a table without a usable key: rows by content hash and how many times each side has them. */
export interface UnkeyedDifference {
  readonly rowHash: string;
  readonly left: number;
  readonly right: number;
}

export interface TableVerdict {
  readonly table: string;
  readonly identical: boolean;
  /** The columns rows are keyed by: the primary key, or a NOT NULL unique key; empty when there is none. */
  readonly key: string[];
  readonly leftRows: number;
  readonly rightRows: number;
  readonly chunks: number;
  readonly differingChunks: number;
  readonly onlyLeft: Key[];
  readonly onlyRight: Key[];
  readonly differing: DifferingRow[];
  readonly unkeyed: UnkeyedDifference[];
  /** Why a table differs beyond its rows: only on one side, columns that differ. */
  readonly notes: string[];
}

export interface VerifyResult {
  readonly identical: boolean;
  readonly tables: TableVerdict[];
  readonly elapsedMs: number;
}

export class VerifyError extends Error {
  override readonly name = 'VerifyError';
  constructor(
    message: string,
    readonly table?: string,
  ) {
    super(message);
  }
}

/** One table's comparison: the two sides' shapes, over the columns both have (in the left's order). */
export class TablePair {
  readonly columns: { left: Column[]; right: Column[] };
  readonly key: { left: Column[]; right: Column[] };
  readonly notes: string[] = [];
  /** Each side's operations on this table, with the pair's columns and key. */
  readonly side: { left: TableSide; right: TableSide };

  constructor(
    readonly table: string,
    readonly left: { side: VerifySide; database: string; shape: TableShape },
    readonly right: { side: VerifySide; database: string; shape: TableShape },
  ) {
    const rightByName = new Map(right.shape.columns.map((c) => [c.name, c]));
    const common = left.shape.columns.filter((c) => rightByName.has(c.name));
    const onlyL = left.shape.columns.filter((c) => !rightByName.has(c.name)).map((c) => c.name);
    const onlyR = right.shape.columns.filter((c) => !left.shape.columns.some((l) => l.name === c.name));
    if (onlyL.length) this.notes.push(`columns only on the left: ${onlyL.join(', ')}`);
    if (onlyR.length) this.notes.push(`columns only on the right: ${onlyR.map((c) => c.name).join(', ')}`);
    const same = (a: Column, b: Column) =>
      a.dataType === b.dataType && a.scale === b.scale && a.charset === b.charset && a.kind === b.kind;
    const flags = (c: Column) => {
      const r = rightByName.get(c.name)!;
      return { sameOnBothSides: same(c, r), utf8OnBothSides: UTF8.test(c.charset) && UTF8.test(r.charset) };
    };
    this.columns = {
      left: common.map((c) => ({ ...c, ...flags(c) })),
      right: common.map((c) => ({ ...rightByName.get(c.name)!, ...flags(c) })),
    };
    const lk = left.shape.key.map((c) => c.name);
    const rk = right.shape.key.map((c) => c.name);
    if (lk.join('\0') === rk.join('\0') && lk.every((n) => rightByName.has(n))) {
      this.key = { left: left.shape.key, right: right.shape.key };
    } else {
      if (lk.length || rk.length) this.notes.push(`keys differ: (${lk.join(', ')}) against (${rk.join(', ')})`);
      this.key = { left: [], right: [] };
    }
    const tableSide = (s: 'left' | 'right') =>
      this[s].side.table(this[s].database, table, this.columns[s], this.key[s]);
    this.side = { left: tableSide('left'), right: tableSide('right') };
  }

  display(raw: string[]): Record<string, string> {
    return Object.fromEntries(this.key.left.map((k, i) => [k.name, keyDisplay(k, raw[i])]));
  }
}

/** How verifyTable goes through a table. */
export interface ChunkOptions {
  readonly chunkSize: number;
  readonly pauseMs: number;
  /**
   * Rows per key bucket when a differing chunk is drilled into: its rows are summed per bucket and only
   * the differing buckets' rows are listed. @default 8
   */
  readonly bucketRows?: number;
  /**
   * Sum every chunk per bucket in its first scan (one scan finds the differing rows: the delta repair's
   * search, where most chunks are expected to differ) instead of one sum per chunk and a second scan of
   * the differing ones (the proof, where chunks are expected to be identical). @default false
   */
  readonly bucketsFirst?: boolean;
  /** Name the differing columns of differing rows (one more query per differing chunk). @default true */
  readonly nameColumns?: boolean;
  /**
   * Chunks whose sums are asked for in one request per side (one Lambda invocation on a remote side):
   * the boundaries of a window come first, then each side sums all of them. @default 100
   */
  readonly window?: number;
}

const combine = (sums: Iterable<Sum>): Sum => {
  let rows = 0;
  let x = 0n;
  for (const s of sums) {
    rows += s.rows;
    x ^= BigInt(s.sum);
  }
  return { rows, sum: x.toString() };
};

/** Compares one table, chunk by chunk; drills into differing chunks and names the rows. */
export async function verifyTable(pair: TablePair, opts: ChunkOptions): Promise<TableVerdict> {
  const verdict = {
    table: pair.table,
    key: pair.key.left.map((k) => k.name),
    leftRows: 0,
    rightRows: 0,
    chunks: 0,
    differingChunks: 0,
    onlyLeft: [] as Key[],
    onlyRight: [] as Key[],
    differing: [] as DifferingRow[],
    unkeyed: [] as UnkeyedDifference[],
    notes: pair.notes,
  };
  const both = <T>(f: (side: TableSide) => Promise<T>) => Promise.all([f(pair.side.left), f(pair.side.right)]);
  const n = pair.key.left.length;
  const byKey = (rows: Row[]) => new Map(rows.map((r) => [JSON.stringify(r.slice(0, n)), r]));

  if (n === 0) {
    // The rule for a table without a usable key: one chunk, the whole table; rows compare as a multiset
    // of content hashes (SUM keeps duplicates), and differences are named by content hash and count.
    const [[l], [r]] = await both((s) => s.sums([{}]));
    Object.assign(verdict, { leftRows: l.rows, rightRows: r.rows, chunks: 1 });
    if (l.rows !== r.rows || l.sum !== r.sum) {
      verdict.differingChunks = 1;
      const [lc, rc] = (await both((s) => s.hashCounts())).map(
        (rows) => new Map(rows.map(([h, c]) => [String(h), Number(c)])),
      );
      for (const h of new Set([...lc.keys(), ...rc.keys()])) {
        const a = lc.get(h) ?? 0;
        const b = rc.get(h) ?? 0;
        if (a !== b) verdict.unkeyed.push({ rowHash: h, left: a, right: b });
      }
    }
    return finish(verdict);
  }

  const drillLimit = opts.chunkSize * 4;
  const buckets = Math.max(1, Math.ceil(opts.chunkSize / (opts.bucketRows ?? 8)));
  /** Compares (lower, upper]; `first` holds the sums (per bucket in bucketsFirst mode) of a window's scan. */
  const compare = async (
    range: Range,
    depth: number,
    first?: { sums: [Sum, Sum]; perBucket?: [Map<string, Sum>, Map<string, Sum>] },
  ): Promise<void> => {
    let perBucket = first?.perBucket;
    const [l, r] = first?.sums ?? (await both(async (s) => (await s.sums([range]))[0]));
    if (depth === 0) {
      verdict.chunks++;
      verdict.leftRows += l.rows;
      verdict.rightRows += r.rows;
    }
    if (l.rows === r.rows && l.sum === r.sum) return;
    if (depth === 0) verdict.differingChunks++;
    const big: 'left' | 'right' = l.rows >= r.rows ? 'left' : 'right';
    if (Math.max(l.rows, r.rows) > drillLimit && depth < 8) {
      // Too many rows to list (one side has a large insert here): split this range on the bigger side.
      let lo = range.lower;
      for (;;) {
        const b = await pair.side[big].boundary(lo, opts.chunkSize, range.upper);
        await compare({ lower: lo, upper: b ?? range.upper }, depth + 1);
        if (!b) return;
        lo = b;
      }
    }
    // Which buckets differ: only their rows are listed (all rows when most buckets differ anyway).
    const width = bucketWidth(pair.key.left, buckets, range.lower, range.upper);
    perBucket ??= (await both(async (s) => (await s.bucketSums(buckets, [{ ...range, width }]))[0])) as [
      Map<string, Sum>,
      Map<string, Sum>,
    ];
    const [lb, rb] = perBucket;
    const differ = [...new Set([...lb.keys(), ...rb.keys()])].filter(
      (b) => lb.get(b)?.rows !== rb.get(b)?.rows || lb.get(b)?.sum !== rb.get(b)?.sum,
    );
    for (const b of differ) if (!/^\d+$/.test(b)) throw new VerifyError(`unexpected bucket ${b}`, pair.table);
    const only =
      differ.length * 2 < Math.max(lb.size, rb.size) ? { buckets, width, inBuckets: differ.map(Number) } : undefined;
    const [lr, rr] = (await both((s) => s.rows(range, only))).map(byKey);
    const changed: string[][] = [];
    for (const [k, row] of lr) {
      const other = rr.get(k);
      const raw = row.slice(0, n) as string[];
      if (!other) verdict.onlyLeft.push({ raw, display: pair.display(raw) });
      else if (row[n] !== other[n]) changed.push(raw);
    }
    if (changed.length && opts.nameColumns === false) {
      for (const raw of changed) verdict.differing.push({ raw, display: pair.display(raw), columns: [] });
    } else if (changed.length) {
      // Only the rows that differ are hashed column by column, to name the columns.
      const [lc, rc] = (await both((s) => s.columnHashes(changed))).map(byKey);
      for (const raw of changed) {
        const a = lc.get(JSON.stringify(raw))!;
        const b = rc.get(JSON.stringify(raw))!;
        const cols = pair.columns.left.filter((_c, i) => a[n + i] !== b[n + i]).map((c) => c.name);
        verdict.differing.push({ raw, display: pair.display(raw), columns: cols });
      }
    }
    for (const [k, row] of rr) {
      if (!lr.has(k)) {
        const raw = row.slice(0, n) as string[];
        verdict.onlyRight.push({ raw, display: pair.display(raw) });
      }
    }
  };

  // Chunk boundaries come from the left, in key order; the last chunk is open-ended, and rows the
  // right has beyond the left's last key land in it (split further if there are many). A window of
  // chunks is summed in one request per side.
  const window = Math.max(1, opts.window ?? 100);
  let lower: string[] | undefined;
  for (let last = false; !last;) {
    const ranges: Range[] = [];
    while (ranges.length < window && !last) {
      const upper = await pair.side.left.boundary(lower, opts.chunkSize);
      ranges.push({ lower, upper });
      lower = upper;
      last = !upper;
    }
    if (opts.bucketsFirst) {
      const withWidth = ranges.map((x) => ({ ...x, width: bucketWidth(pair.key.left, buckets, x.lower, x.upper) }));
      const [lb, rb] = await both((s) => s.bucketSums(buckets, withWidth));
      for (const [i, range] of ranges.entries())
        await compare(range, 0, {
          sums: [combine(lb[i].values()), combine(rb[i].values())],
          perBucket: [lb[i], rb[i]],
        });
    } else {
      const [ls, rs] = await both((s) => s.sums(ranges));
      for (const [i, range] of ranges.entries()) await compare(range, 0, { sums: [ls[i], rs[i]] });
    }
    if (!last && opts.pauseMs > 0) await sleep(opts.pauseMs);
  }
  return finish(verdict);
}

function finish(v: Omit<TableVerdict, 'identical'>): TableVerdict {
  const identical =
    v.onlyLeft.length === 0 &&
    v.onlyRight.length === 0 &&
    v.differing.length === 0 &&
    v.unkeyed.length === 0 &&
    v.differingChunks === 0 &&
    v.notes.length === 0;
  return { ...v, identical };
}

/** The pairs of tables to compare (and verdicts for tables that exist on one side only). */
export async function pairTables(o: VerifyOptions): Promise<{ pairs: TablePair[]; oneSided: TableVerdict[] }> {
  const rightDb = o.rightDatabase ?? o.leftDatabase;
  const [left, right] = [asSide(o.left, o.pauseMs), asSide(o.right, o.pauseMs)];
  const [ls, rs] = await Promise.all([left.shapes(o.leftDatabase), right.shapes(rightDb)]);
  const exclude = o.exclude ?? /^_?rushhour_/;
  const names = o.tables
    ? [...o.tables]
    : [...new Set([...ls.keys(), ...rs.keys()])].filter((t) => !exclude.test(t)).sort();
  const pairs: TablePair[] = [];
  const oneSided: TableVerdict[] = [];
  for (const t of names) {
    const l = ls.get(t);
    const r = rs.get(t);
    if (!l && !r) throw new VerifyError(`table ${t} exists on neither side`, t);
    if (!l || !r) {
      oneSided.push(
        finish({
          table: t,
          key: [],
          leftRows: 0,
          rightRows: 0,
          chunks: 0,
          differingChunks: 0,
          onlyLeft: [],
          onlyRight: [],
          differing: [],
          unkeyed: [],
          notes: [`table only on the ${l ? 'left' : 'right'}`],
        }),
      );
      continue;
    }
    pairs.push(
      new TablePair(
        t,
        { side: left, database: o.leftDatabase, shape: l },
        { side: right, database: rightDb, shape: r },
      ),
    );
  }
  return { pairs, oneSided };
}

/** A runner's side (its SQL built here), or the side as given. */
export function asSide(s: QueryRunner | VerifySide, pauseMs?: number): VerifySide {
  return 'shapes' in s ? s : sqlSide(s, { pauseMs });
}

/** Verifies every table of two databases, each side in one consistent read-only snapshot. */
export async function verifyData(o: VerifyOptions): Promise<VerifyResult> {
  const started = Date.now();
  for (const [name, v, min] of [
    ['chunkSize', o.chunkSize ?? DEFAULT_CHUNK_SIZE, 1],
    ['pauseMs', o.pauseMs ?? 0, 0],
    ['bucketRows', o.bucketRows ?? 8, 1],
  ] as const)
    if (!Number.isInteger(v) || v < min) throw new VerifyError(`${name} must be an integer >= ${min}, got ${v}`);
  const log = o.log ?? (() => undefined);
  const [left, right] = [asSide(o.left, o.pauseMs), asSide(o.right, o.pauseMs)];
  await Promise.all([left.begin(), right.begin()]);
  try {
    const { pairs, oneSided } = await pairTables(o);
    const tables: TableVerdict[] = [...oneSided];
    for (const pair of pairs) {
      const v = await verifyTable(pair, {
        chunkSize: o.chunkSize ?? DEFAULT_CHUNK_SIZE,
        pauseMs: o.pauseMs ?? 0,
        bucketRows: o.bucketRows,
        bucketsFirst: o.bucketsFirst,
        nameColumns: o.nameColumns,
        window: o.window,
      });
      log(
        `verify ${pair.table}: ${v.identical ? 'identical' : 'DIFFERENT'} (${v.leftRows}/${v.rightRows} rows, ${v.chunks} chunks)`,
      );
      tables.push(v);
    }
    tables.sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));
    return { identical: tables.every((t) => t.identical), tables, elapsedMs: Date.now() - started };
  } finally {
    if (!o.keepSnapshot) await Promise.all([left.end(), right.end()]);
  }
}

/** The canonical expression of each column, for the documentation and for debugging a difference. */
export function describeCanonical(columns: Column[]): Record<string, string> {
  return Object.fromEntries(columns.map((c) => [c.name, canonical(c)]));
}

const keyText = (k: Key) =>
  Object.entries(k.display)
    .map(([c, v]) => `${c}=${v}`)
    .join(',');

/** A report for people: one line per table, then the differing keys (at most `limit` per kind and table). */
export function formatVerify(result: VerifyResult, limit = 20, names = { left: 'left', right: 'right' }): string {
  const lines: string[] = [];
  for (const t of result.tables) {
    lines.push(
      `${t.table}: ${t.identical ? 'identical' : 'DIFFERENT'} (${t.leftRows} rows ${names.left}, ${t.rightRows} rows ${names.right}, ` +
        `${t.chunks} chunks${t.differingChunks ? `, ${t.differingChunks} differ` : ''})`,
    );
    for (const n of t.notes) lines.push(`  ${n}`);
    const list = (what: string, keys: Array<Key | DifferingRow>) => {
      if (keys.length === 0) return;
      const shown = keys.slice(0, limit).map((k) => keyText(k) + ('columns' in k ? ` [${k.columns.join(', ')}]` : ''));
      lines.push(
        `  ${what} (${keys.length}): ${shown.join('; ')}${keys.length > limit ? `; ... ${keys.length - limit} more` : ''}`,
      );
    };
    list(`only ${names.left}`, t.onlyLeft);
    list(`only ${names.right}`, t.onlyRight);
    list('differing', t.differing);
    for (const u of t.unkeyed.slice(0, limit))
      lines.push(`  no key: a row with content hash ${u.rowHash} ${u.left}x ${names.left}, ${u.right}x ${names.right}`);
  }
  const differ = result.tables.filter((t) => !t.identical).length;
  lines.push(
    differ === 0
      ? `verify-data: all ${result.tables.length} tables identical, row by row`
      : `verify-data: ${differ} of ${result.tables.length} tables differ`,
  );
  return lines.join('\n');
}
