import {
  after,
  anyKey,
  canonical,
  Column,
  columnHash,
  ident,
  keyDisplay,
  keyBucket,
  keyFetch,
  kindOf,
  rowHash,
  rowHashNumber,
  sqlString,
  upTo,
  UTF8,
} from './canonical';
import { QueryRunner, Row } from './runner';

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
  readonly left: QueryRunner;
  readonly right: QueryRunner;
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

export interface TableShape {
  readonly columns: Column[];
  /** Primary key, else the first unique key whose columns are all NOT NULL, else []. */
  readonly key: Column[];
}

const SESSION =
  "SET SESSION time_zone = '+00:00'; SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'; " +
  'SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ';

/**
 * Fixes what changes the canonical text: UTC for TIMESTAMP; a known sql_mode
 * (no PAD_CHAR_TO_FULL_LENGTH or ANSI_QUOTES).
 */
export async function prepareSession(r: QueryRunner): Promise<void> {
  await r.execute(SESSION);
}

/** One consistent, read-only snapshot for every later query on this session. */
export async function startSnapshot(r: QueryRunner): Promise<void> {
  await prepareSession(r);
  await r.execute('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
}

/** Every base table's columns and key, read in the snapshot. */
export async function readShapes(r: QueryRunner, database: string): Promise<Map<string, TableShape>> {
  const cols = await r.query(
    `SELECT HEX(TABLE_NAME), HEX(COLUMN_NAME), DATA_TYPE, IFNULL(CHARACTER_SET_NAME, ''), IFNULL(COLLATION_NAME, ''), ` +
      `IFNULL(NUMERIC_SCALE, IFNULL(DATETIME_PRECISION, 0)), EXTRA, IS_NULLABLE FROM information_schema.COLUMNS ` +
      `WHERE TABLE_SCHEMA = ${sqlString(database)} AND TABLE_NAME IN (SELECT TABLE_NAME FROM information_schema.TABLES ` +
      `WHERE TABLE_SCHEMA = ${sqlString(database)} AND TABLE_TYPE = 'BASE TABLE') ORDER BY TABLE_NAME, ORDINAL_POSITION`,
  );
  const unhex = (h: string | null) => Buffer.from(h ?? '', 'hex').toString('utf8');
  const shapes = new Map<string, { columns: Column[]; key: Column[] }>();
  for (const [t, c, type, charset, collation, scale, extra, nullable] of cols) {
    const table = unhex(t);
    if (!shapes.has(table)) shapes.set(table, { columns: [], key: [] });
    shapes.get(table)!.columns.push({
      name: unhex(c),
      dataType: String(type),
      kind: kindOf(String(type)),
      charset: String(charset),
      collation: String(collation),
      scale: Number(scale ?? 0),
      generated: /GENERATED|VIRTUAL|PERSISTENT|STORED/i.test(String(extra ?? '')),
      nullable: nullable === 'YES',
    });
  }
  const idx = await r.query(
    `SELECT HEX(TABLE_NAME), INDEX_NAME, HEX(COLUMN_NAME) FROM information_schema.STATISTICS ` +
      `WHERE TABLE_SCHEMA = ${sqlString(database)} AND NON_UNIQUE = 0 ORDER BY TABLE_NAME, INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX`,
  );
  const uniques = new Map<string, Map<string, string[]>>();
  for (const [t, index, c] of idx) {
    const table = unhex(t);
    if (!uniques.has(table)) uniques.set(table, new Map());
    const m = uniques.get(table)!;
    if (!m.has(String(index))) m.set(String(index), []);
    m.get(String(index))!.push(unhex(c));
  }
  for (const [table, shape] of shapes) {
    const candidates = [...(uniques.get(table)?.entries() ?? [])];
    for (const [index, names] of candidates) {
      const key = names.map((n) => shape.columns.find((c) => c.name === n)!);
      // A key must identify a row on both sides and travel as a literal: NOT NULL, and not JSON/geometry.
      if (key.some((k) => !k || k.nullable || k.kind === 'json' || k.kind === 'other')) continue;
      if (index === 'PRIMARY' || shape.key.length === 0) {
        shape.key = key;
        break;
      }
    }
  }
  return shapes;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sum {
  readonly rows: number;
  readonly sum: string;
}

/** One table's comparison: the two sides' shapes, over the columns both have (in the left's order). */
export class TablePair {
  readonly columns: { left: Column[]; right: Column[] };
  readonly key: { left: Column[]; right: Column[] };
  readonly notes: string[] = [];

  constructor(
    readonly table: string,
    readonly left: { runner: QueryRunner; database: string; shape: TableShape },
    readonly right: { runner: QueryRunner; database: string; shape: TableShape },
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
  }

  private from(side: 'left' | 'right') {
    return `${ident(this[side].database)}.${ident(this.table)}`;
  }

  private range(side: 'left' | 'right', lower?: string[], upper?: string[]): string {
    const key = this.key[side];
    const c = [lower ? `(${after(key, lower)})` : '', upper ? `(${upTo(key, upper)})` : ''].filter(Boolean);
    return c.length ? `WHERE ${c.join(' AND ')}` : '';
  }

  /** The key of the `n`th row after `lower` (1-based) on one side, or undefined when there are fewer rows. */
  async boundary(side: 'left' | 'right', lower: string[] | undefined, n: number, upper?: string[]) {
    const key = this.key[side];
    const rows = await this[side].runner.query(
      `SELECT ${key.map(keyFetch).join(', ')} FROM ${this.from(side)} ${this.range(side, lower, upper)} ` +
        `ORDER BY ${key.map((k) => ident(k.name)).join(', ')} LIMIT 1 OFFSET ${n - 1}`,
    );
    return rows[0] ? (rows[0] as string[]) : undefined;
  }

  /** Count and aggregate of row hashes in (lower, upper], computed by the server. */
  async sum(side: 'left' | 'right', lower?: string[], upper?: string[]): Promise<Sum> {
    const agg = this.key[side].length ? 'BIT_XOR' : 'SUM';
    const [[rows, sum]] = await this[side].runner.query(
      `SELECT COUNT(*), IFNULL(${agg}(${rowHashNumber(this.columns[side])}), 0) FROM ${this.from(side)} ${this.range(side, lower, upper)}`,
    );
    return { rows: Number(rows), sum: String(sum) };
  }

  /**
   * Count and aggregate per key bucket (see keyBucket) of the rows in (lower, upper], in one scan: the
   * chunk's own sum is their combination, and a differing chunk's differing buckets come with it.
   */
  async bucketSums(side: 'left' | 'right', buckets: number, lower?: string[], upper?: string[]) {
    const out = await this[side].runner.query(
      `SELECT ${keyBucket(this.key[side], buckets)} AS b, COUNT(*), BIT_XOR(${rowHashNumber(this.columns[side])}) ` +
        `FROM ${this.from(side)} ${this.range(side, lower, upper)} GROUP BY b`,
    );
    return new Map(out.map(([b, n, x]) => [String(b), { rows: Number(n), sum: String(x) }]));
  }

  /** Key and row hash of every row in (lower, upper] (only those in `inBuckets` of `buckets`, when given). */
  async rows(
    side: 'left' | 'right',
    lower?: string[],
    upper?: string[],
    only?: { buckets: number; inBuckets: string[] },
  ): Promise<Map<string, Row>> {
    const key = this.key[side];
    let where = this.range(side, lower, upper);
    if (only) {
      const cond = `(${keyBucket(key, only.buckets)}) IN (${only.inBuckets.join(', ')})`;
      where = where ? `${where} AND ${cond}` : `WHERE ${cond}`;
    }
    const out = await this[side].runner.query(
      `SELECT ${key.map(keyFetch).join(', ')}, ${rowHash(this.columns[side])} FROM ${this.from(side)} ${where}`,
    );
    return new Map(out.map((r) => [JSON.stringify(r.slice(0, key.length)), r]));
  }

  /** Key and per-column hashes of the rows with these keys. */
  async columnHashes(side: 'left' | 'right', keys: string[][]): Promise<Map<string, Row>> {
    const key = this.key[side];
    const out: Row[] = [];
    for (let i = 0; i < keys.length; i += 500) {
      out.push(
        ...(await this[side].runner.query(
          `SELECT ${key.map(keyFetch).join(', ')}, ${this.columns[side].map(columnHash).join(', ')} ` +
            `FROM ${this.from(side)} WHERE ${anyKey(key, keys.slice(i, i + 500))}`,
        )),
      );
    }
    return new Map(out.map((r) => [JSON.stringify(r.slice(0, key.length)), r]));
  }

  /** For a table without a key: each distinct row hash with its count. */
  async hashCounts(side: 'left' | 'right'): Promise<Map<string, number>> {
    const out = await this[side].runner.query(
      `SELECT ${rowHash(this.columns[side])} AS h, COUNT(*) FROM ${this.from(side)} GROUP BY h`,
    );
    return new Map(out.map(([h, n]) => [String(h), Number(n)]));
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
  const both = <T>(f: (side: 'left' | 'right') => Promise<T>) => Promise.all([f('left'), f('right')]);

  if (pair.key.left.length === 0) {
    // The rule for a table without a usable key: one chunk, the whole table; rows compare as a multiset
    // of content hashes (SUM keeps duplicates), and differences are named by content hash and count.
    const [l, r] = await both((s) => pair.sum(s));
    Object.assign(verdict, { leftRows: l.rows, rightRows: r.rows, chunks: 1 });
    if (l.rows !== r.rows || l.sum !== r.sum) {
      verdict.differingChunks = 1;
      const [lc, rc] = await both((s) => pair.hashCounts(s));
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
  const compare = async (lower: string[] | undefined, upper: string[] | undefined, depth = 0): Promise<void> => {
    // Sums per bucket (first scan in bucketsFirst mode) or per chunk.
    let perBucket: [Map<string, Sum>, Map<string, Sum>] | undefined;
    let l: Sum;
    let r: Sum;
    if (opts.bucketsFirst && depth === 0) {
      perBucket = await both((s) => pair.bucketSums(s, buckets, lower, upper));
      [l, r] = [combine(perBucket[0].values()), combine(perBucket[1].values())];
    } else [l, r] = await both((s) => pair.sum(s, lower, upper));
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
      let lo = lower;
      for (;;) {
        const b = await pair.boundary(big, lo, opts.chunkSize, upper);
        await compare(lo, b ?? upper, depth + 1);
        if (!b) return;
        lo = b;
      }
    }
    // Which buckets differ: only their rows are listed (all rows when most buckets differ anyway).
    perBucket ??= await both((s) => pair.bucketSums(s, buckets, lower, upper));
    const [lb, rb] = perBucket;
    const differ = [...new Set([...lb.keys(), ...rb.keys()])].filter(
      (b) => lb.get(b)?.rows !== rb.get(b)?.rows || lb.get(b)?.sum !== rb.get(b)?.sum,
    );
    for (const b of differ) if (!/^\d+$/.test(b)) throw new VerifyError(`unexpected bucket ${b}`, pair.table);
    const only = differ.length * 2 < Math.max(lb.size, rb.size) ? { buckets, inBuckets: differ } : undefined;
    const [lr, rr] = await both((s) => pair.rows(s, lower, upper, only));
    const n = pair.key.left.length;
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
      const [lc, rc] = await both((s) => pair.columnHashes(s, changed));
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
  // right has beyond the left's last key land in it (split further if there are many).
  let lower: string[] | undefined;
  for (;;) {
    const upper = await pair.boundary('left', lower, opts.chunkSize);
    await compare(lower, upper);
    if (!upper) break;
    lower = upper;
    if (opts.pauseMs > 0) await sleep(opts.pauseMs);
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
  const [ls, rs] = await Promise.all([readShapes(o.left, o.leftDatabase), readShapes(o.right, rightDb)]);
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
        { runner: o.left, database: o.leftDatabase, shape: l },
        { runner: o.right, database: rightDb, shape: r },
      ),
    );
  }
  return { pairs, oneSided };
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
  await Promise.all([startSnapshot(o.left), startSnapshot(o.right)]);
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
      });
      log(
        `verify ${pair.table}: ${v.identical ? 'identical' : 'DIFFERENT'} (${v.leftRows}/${v.rightRows} rows, ${v.chunks} chunks)`,
      );
      tables.push(v);
    }
    tables.sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));
    return { identical: tables.every((t) => t.identical), tables, elapsedMs: Date.now() - started };
  } finally {
    if (!o.keepSnapshot) await Promise.all([o.left.execute('COMMIT'), o.right.execute('COMMIT')]);
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
