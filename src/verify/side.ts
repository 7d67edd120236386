import {
  after,
  anyKey,
  Column,
  columnHash,
  ident,
  inBuckets,
  keyBucket,
  keyFetch,
  kindOf,
  rowHash,
  rowHashNumber,
  sqlString,
  upTo,
  valueFetch,
} from './canonical';
import { QueryRunner, Row } from './runner';

/**
 * One side of a verification, behind the operations the verifier needs. Two implementations: `sqlSide`
 * builds the SQL here and runs it on a QueryRunner (a mysql2 connection, a mysql client locally or over
 * SSH); `remoteSide` (./remote.ts) sends the same operations as structured requests to the export
 * Lambda, which builds the SQL with these same builders on its own connection (no SQL crosses).
 */

/** Count and aggregate of row hashes of a range. */
export interface Sum {
  readonly rows: number;
  readonly sum: string;
}

/** Rows after `lower` up to and including `upper` in key order (open where absent). */
export interface Range {
  readonly lower?: string[];
  readonly upper?: string[];
  /** For the bucket operations: buckets are key ranges of this width (see bucketWidth), else CRC32 buckets. */
  readonly width?: number;
}

/** Only the rows in these key buckets (see keyBucket). */
export interface BucketFilter {
  readonly buckets: number;
  /** The bucket sums' width (see Range). */
  readonly width?: number;
  readonly inBuckets: number[];
}

/** CHECKSUM TABLE and COUNT(*): extra information next to the row-level verdict. */
export interface TableStats {
  readonly checksum: string | null;
  readonly rows: number;
}

/** The operations on one table of one side, with its columns (flags set for the pair) and key. */
export interface TableSide {
  /** The key of the `n`th row after `lower` (1-based), or undefined when there are fewer rows. */
  boundary(lower: string[] | undefined, n: number, upper?: string[]): Promise<string[] | undefined>;
  /** Count and aggregate of each range. */
  sums(ranges: readonly Range[]): Promise<Sum[]>;
  /** Count and aggregate per key bucket of each range (bucket number as text). */
  bucketSums(buckets: number, ranges: readonly Range[]): Promise<Map<string, Sum>[]>;
  /** Key and row hash of every row of the range (or of its rows in the given buckets). */
  rows(range: Range, only?: BucketFilter): Promise<Row[]>;
  /** Key and per-column hashes of the rows with these keys. */
  columnHashes(keys: string[][]): Promise<Row[]>;
  /** For a table without a key: each distinct row hash with its count. */
  hashCounts(): Promise<Row[]>;
  /** The insertable columns' values (valueFetch) of the rows with these keys, or of every row in pages. */
  values(keys: string[][] | undefined): AsyncIterable<Row[]>;
  /** Page `page` (VALUE_BATCH rows) of every row's values, for a table without a key. */
  valuesPage(page: number): Promise<Row[]>;
  stats(): Promise<TableStats>;
}

export interface VerifySide {
  /** For messages: which side this is. */
  readonly label: string;
  /** Starts the side's consistent read-only snapshot for what follows (see each implementation). */
  begin(): Promise<void>;
  /** Ends it. */
  end(): Promise<void>;
  /** Every base table's columns and key. */
  shapes(database: string): Promise<Map<string, TableShape>>;
  table(database: string, table: string, columns: Column[], key: Column[]): TableSide;
}

/** Rows per fetch (valueFetch) and per key list: small enough for any max_allowed_packet of text rows. */
export const VALUE_BATCH = 500;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface TableShape {
  readonly columns: Column[];
  /** Primary key, else the first unique key whose columns are all NOT NULL, else []. */
  readonly key: Column[];
}

// One statement per call: the export Lambda's connection does not allow several statements per query.
const SESSION = [
  "SET SESSION time_zone = '+00:00'",
  "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'",
  'SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ',
];

/**
 * Fixes what changes the canonical text: UTC for TIMESTAMP; a known sql_mode
 * (no PAD_CHAR_TO_FULL_LENGTH or ANSI_QUOTES).
 */
export async function prepareSession(r: QueryRunner): Promise<void> {
  for (const statement of SESSION) await r.execute(statement);
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

/** The SQL of one table's operations, run on `runner` (the database and columns are this side's own). */
export function sqlTableSide(
  runner: QueryRunner,
  database: string,
  table: string,
  columns: Column[],
  key: Column[],
  pauseMs = 0,
): TableSide {
  const from = `${ident(database)}.${ident(table)}`;
  const range = (r: Range, extra?: string): string => {
    const c = [
      r.lower ? `(${after(key, r.lower)})` : '',
      r.upper ? `(${upTo(key, r.upper)})` : '',
      extra ? `(${extra})` : '',
    ].filter(Boolean);
    return c.length ? `WHERE ${c.join(' AND ')}` : '';
  };
  const keyList = key.map(keyFetch).join(', ');
  const valuesSelect = `SELECT ${columns
    .filter((c) => !c.generated)
    .map(valueFetch)
    .join(', ')} FROM ${from}`;
  // A table without a key can hold duplicate rows, which XOR would cancel: there the exact SUM.
  const agg = key.length ? 'BIT_XOR' : 'SUM';
  // The pause bounds the load on a production origin: between chunk queries, not after the last.
  const each = async <T>(ranges: readonly Range[], f: (r: Range) => Promise<T>): Promise<T[]> => {
    const out: T[] = [];
    for (const [i, r] of ranges.entries()) {
      if (i > 0 && pauseMs > 0) await sleep(pauseMs);
      out.push(await f(r));
    }
    return out;
  };
  // The whole table (no key): in pages by LIMIT, each page a fresh scan of the same snapshot.
  const valuesPage = (page: number) =>
    runner.query(`${valuesSelect} LIMIT ${VALUE_BATCH} OFFSET ${Math.trunc(page) * VALUE_BATCH}`);
  return {
    async boundary(lower, n, upper) {
      const rows = await runner.query(
        `SELECT ${keyList} FROM ${from} ${range({ lower, upper })} ` +
          `ORDER BY ${key.map((k) => ident(k.name)).join(', ')} LIMIT 1 OFFSET ${n - 1}`,
      );
      return rows[0] ? (rows[0] as string[]) : undefined;
    },
    sums: (ranges) =>
      each(ranges, async (r) => {
        const [[rows, sum]] = await runner.query(
          `SELECT COUNT(*), IFNULL(${agg}(${rowHashNumber(columns)}), 0) FROM ${from} ${range(r)}`,
        );
        return { rows: Number(rows), sum: String(sum) };
      }),
    bucketSums: (buckets, ranges) =>
      each(ranges, async (r) => {
        const out = await runner.query(
          `SELECT ${keyBucket(key, buckets, r.width)} AS b, COUNT(*), BIT_XOR(${rowHashNumber(columns)}) ` +
            `FROM ${from} ${range(r)} GROUP BY b`,
        );
        return new Map(out.map(([b, n, x]) => [String(b), { rows: Number(n), sum: String(x) }]));
      }),
    rows(r, only) {
      const cond = only ? inBuckets(key, only.buckets, only.inBuckets, only.width) : '';
      return runner.query(`SELECT ${keyList}, ${rowHash(columns)} FROM ${from} ${range(r, cond)}`);
    },
    async columnHashes(keys) {
      const out: Row[] = [];
      for (let i = 0; i < keys.length; i += VALUE_BATCH) {
        out.push(
          ...(await runner.query(
            `SELECT ${keyList}, ${columns.map(columnHash).join(', ')} ` +
              `FROM ${from} WHERE ${anyKey(key, keys.slice(i, i + VALUE_BATCH))}`,
          )),
        );
      }
      return out;
    },
    hashCounts: () => runner.query(`SELECT ${rowHash(columns)} AS h, COUNT(*) FROM ${from} GROUP BY h`),
    valuesPage,
    async *values(keys) {
      if (!keys) {
        for (let page = 0; ; page++) {
          const rows = await valuesPage(page);
          if (rows.length === 0) return;
          yield rows;
        }
      }
      for (let i = 0; i < keys.length; i += VALUE_BATCH)
        yield await runner.query(`${valuesSelect} WHERE ${anyKey(key, keys.slice(i, i + VALUE_BATCH))}`);
    },
    async stats() {
      const [[, checksum]] = await runner.query(`CHECKSUM TABLE ${from}`);
      const [[rows]] = await runner.query(`SELECT COUNT(*) FROM ${from}`);
      return { checksum, rows: Number(rows) };
    },
  };
}

/** A side whose SQL runs on `runner`: one session, so one snapshot from `begin` to `end`. */
export function sqlSide(runner: QueryRunner, opts: { pauseMs?: number } = {}): VerifySide {
  return {
    label: runner.label,
    begin: () => startSnapshot(runner),
    end: () => runner.execute('COMMIT'),
    shapes: (database) => readShapes(runner, database),
    table: (database, table, columns, key) => sqlTableSide(runner, database, table, columns, key, opts.pauseMs),
  };
}
