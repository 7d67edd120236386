/**
 * Canonical row text, per column type, as SQL expressions each server evaluates itself. Each side builds
 * its expressions from ITS OWN column definitions, so the same values give the same bytes even where
 * the two servers store them differently (temporal formats, charsets, DECIMAL scale, CHAR padding).
 */

export const ident = (s: string) => '`' + s.replace(/`/g, '``') + '`';
export const sqlString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\0/g, '\\0')}'`;

/**
 * How a column is canonicalised:
 * - int: decimal text (YEAR too);            - decimal: text with trailing fractional zeros removed;
 * - float: the value as DOUBLE, shortest text; - bit: its number;
 * - temporal: text, TIMESTAMP in UTC, trailing fractional zeros removed (DATETIME(0) = DATETIME(6) of .000000);
 * - text: converted to utf8mb4 (CHAR without its padding), then its bytes;
 * - json: the server's text of the JSON value;  - binary / other: the stored bytes.
 */
export type Kind = 'int' | 'decimal' | 'float' | 'bit' | 'temporal' | 'text' | 'char' | 'json' | 'binary' | 'other';

export interface Column {
  readonly name: string;
  readonly dataType: string;
  readonly kind: Kind;
  readonly charset: string;
  readonly collation: string;
  /** DECIMAL scale or temporal fractional digits. */
  readonly scale: number;
  readonly generated: boolean;
  readonly nullable: boolean;
  /**
   * The other side defines this column the same way (type, scale, charset): then the server's own text
   * of the value is already the same on both, and the row hash skips the normalisation (it is most of
   * the hashing cost). Set per pair of tables by the verifier.
   */
  readonly sameOnBothSides?: boolean;
  /**
   * Both sides hold this text column in a UTF-8 charset (utf8mb3/utf8mb4): then its length marker is
   * LENGTH (bytes, the same in both, since the bytes are the canonical bytes), not CHAR_LENGTH, which
   * decodes every character (measured: a third of the row text's cost on a table of three VARCHARs).
   * Set per pair of tables by the verifier, so both sides use the same marker.
   */
  readonly utf8OnBothSides?: boolean;
}

export function kindOf(dataType: string): Kind {
  const t = dataType.toLowerCase();
  if (['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'year'].includes(t)) return 'int';
  if (['decimal', 'numeric'].includes(t)) return 'decimal';
  if (['float', 'double', 'real', 'double precision'].includes(t)) return 'float';
  if (t === 'bit') return 'bit';
  if (['date', 'datetime', 'timestamp', 'time'].includes(t)) return 'temporal';
  if (t === 'char') return 'char';
  if (['varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set'].includes(t)) return 'text';
  if (t === 'json') return 'json';
  if (['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob'].includes(t)) return 'binary';
  return 'other';
}

const stripZeros = (e: string) => `TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM ${e}))`;
/** Charsets whose bytes already are the utf8mb4 bytes of their text (utf8mb3 is utf8mb4 without 4-byte characters). */
export const UTF8 = /^utf8(mb3|mb4)?$/i;

/**
 * The column's canonical value as a string expression (NULL stays NULL). The session's sql_mode is
 * fixed without PAD_CHAR_TO_FULL_LENGTH (see verify.ts), so CHAR values are read without their padding
 * on every server (MySQL 8 has no such mode).
 */
export function canonical(c: Column): string {
  const col = ident(c.name);
  // Inside CONCAT_WS every value becomes its text; with the same definition on both sides that text is
  // the same (TIMESTAMP in the session's UTC). FLOAT keeps its widening: its text is version-dependent.
  if (c.sameOnBothSides && ['int', 'decimal', 'temporal', 'text', 'char', 'binary'].includes(c.kind)) return col;
  switch (c.kind) {
    case 'int':
      return `CAST(${col} AS CHAR)`;
    case 'decimal':
      return c.scale > 0 ? stripZeros(`CAST(${col} AS CHAR)`) : `CAST(${col} AS CHAR)`;
    case 'float':
      // `+ 0e0` widens FLOAT to DOUBLE on every version (CAST AS DOUBLE is new in MySQL 8.0.17).
      return `CAST(${col} + 0e0 AS CHAR)`;
    case 'bit':
      return `CAST(${col} + 0 AS CHAR)`;
    case 'temporal':
      return c.scale > 0 ? stripZeros(`CAST(${col} AS CHAR)`) : `CAST(${col} AS CHAR)`;
    case 'char':
    case 'text':
      return UTF8.test(c.charset) ? col : `CONVERT(${col} USING utf8mb4)`;
    case 'json':
      return `CONVERT(CAST(${col} AS CHAR) USING utf8mb4)`;
    default:
      return col;
  }
}

/** The bytes of the canonical value: one encoding, no collation (so CONCAT never mixes collations). */
export const canonicalBytes = (c: Column) => `CAST(${canonical(c)} AS BINARY)`;

/**
 * A marker per column that makes the row text unambiguous: the length of a text (in characters, the
 * same in every charset) or of a byte string, `N` for NULL; for other types NULL or not (their text
 * has no `#`). With these at the end no separator inside a value can shift a column boundary, and
 * NULL is never the same as ''.
 */
function marker(c: Column): string {
  const col = ident(c.name);
  if ((c.kind === 'text' || c.kind === 'char') && c.utf8OnBothSides) return `IFNULL(LENGTH(${col}), 'N')`;
  if (c.kind === 'text' || c.kind === 'char' || c.kind === 'json') return `IFNULL(CHAR_LENGTH(${col}), 'N')`;
  if (c.kind === 'binary' || c.kind === 'other') return `IFNULL(LENGTH(${col}), 'N')`;
  return `ISNULL(${col})`;
}

/** The row text: values in one encoding separated by `#` (CONCAT_WS skips NULLs), then the markers. */
export const rowText = (cols: Column[]) =>
  `CONCAT_WS(_binary'#', ${[...cols.map((c) => canonical(c)), ...cols.map(marker)].join(', ')})`;

/** 64-bit row hash as 16 hex digits: the first half of MD5 of the row text. */
export const rowHash = (cols: Column[]) => `LEFT(MD5(${rowText(cols)}), 16)`;

/** One column's hash (drill-down: which columns of a differing row differ). */
export const columnHash = (c: Column) => `LEFT(MD5(CONCAT_WS(_binary'#', ${canonical(c)}, ${marker(c)})), 16)`;

/** The row hash as an unsigned 64-bit integer, for the chunk aggregate. */
export const rowHashNumber = (cols: Column[]) => `CAST(CONV(${rowHash(cols)}, 16, 10) AS UNSIGNED)`;

/**
 * The bucket of a row inside a chunk, from its key alone (so a row falls in the same bucket on both
 * sides, present or not on the other): CRC32 of the key's canonical text, modulo `buckets`. Used to
 * find the differing rows of a differing chunk without listing all of its rows: sums per bucket first,
 * then the rows of the differing buckets only. CRC32 only spreads keys here; it proves nothing.
 */
export const keyBucket = (key: Column[], buckets: number, width?: number) =>
  width
    ? `${ident(key[0].name)} DIV ${intLiteral(width)}`
    : `CRC32(CONCAT_WS(_binary'#', ${key.map(keyFetch).join(', ')})) % ${buckets}`;

/**
 * With `width` (a single integer key, keys >= 0: see bucketWidth) a bucket is a key range, so its rows
 * are read by the index: `key BETWEEN b*width AND b*width+width-1` for each bucket b.
 */
export function inBuckets(key: Column[], buckets: number, list: number[], width?: number): string {
  if (!width) return `(${keyBucket(key, buckets)}) IN (${list.map(intLiteral).join(', ')})`;
  const w = BigInt(intLiteral(width));
  const k = ident(key[0].name);
  return list
    .map((b) => BigInt(intLiteral(b)) * w)
    .map((lo) => `(${k} BETWEEN ${lo} AND ${lo + w - 1n})`)
    .join(' OR ');
}

/**
 * The key range width that makes about `buckets` buckets of the chunk (lower, upper]: for a single
 * integer key with both bounds known and not negative (DIV truncates toward zero), else undefined
 * (CRC32 buckets). Both sides get the same width with the chunk, so a key lands in the same bucket.
 */
export function bucketWidth(key: Column[], buckets: number, lower?: string[], upper?: string[]): number | undefined {
  if (key.length !== 1 || key[0].kind !== 'int' || !lower || !upper) return undefined;
  if (!/^\d+$/.test(lower[0]) || !/^\d+$/.test(upper[0])) return undefined;
  const span = BigInt(upper[0]) - BigInt(lower[0]);
  if (span <= 0n || span > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return Math.max(1, Math.ceil(Number(span) / buckets));
}

const intLiteral = (n: number) => {
  if (!Number.isSafeInteger(n) || n < 0) throw new UnsafeValueError(`not a bucket number: ${n}`, '');
  return String(n);
};

/** How a key column's value travels between the sides: only digits, hex and temporal text (safe in batch output). */
export function keyFetch(column: Column): string {
  // Keys always travel in the canonical form: the other side's literal is built from it.
  const c = { ...column, sameOnBothSides: false };
  switch (c.kind) {
    case 'text':
    case 'char':
      return `HEX(${canonical(c)})`;
    case 'binary':
    case 'other':
      return `HEX(${ident(c.name)})`;
    default:
      return canonical(c);
  }
}

export class UnsafeValueError extends Error {
  override readonly name = 'UnsafeValueError';
  constructor(
    message: string,
    readonly column: string,
  ) {
    super(message);
  }
}

const NUMBER = /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i;
const HEX = /^[0-9A-F]*$/i;
const TEMPORAL = /^-?[0-9: .-]+$/;

function check(re: RegExp, v: string, c: Column): string {
  if (!re.test(v))
    throw new UnsafeValueError(`unexpected value for ${c.name} (${c.dataType}): ${v.slice(0, 40)}`, c.name);
  return v;
}

/** A key value (as `keyFetch` returned it, from either side) as a literal this side's column compares with. */
export function keyLiteral(c: Column, v: string): string {
  switch (c.kind) {
    case 'text':
    case 'char':
      // Converted to the column's own charset and collation, so the comparison can use the index.
      return `CONVERT(_utf8mb4 X'${check(HEX, v, c)}' USING ${c.charset}) COLLATE ${c.collation}`;
    case 'binary':
    case 'other':
      return `X'${check(HEX, v, c)}'`;
    case 'temporal':
      return `'${check(TEMPORAL, v, c)}'`;
    default:
      return check(NUMBER, v, c);
  }
}

/** How a value is fetched from the source for the delta repair: exact, and safe in batch output. */
export function valueFetch(c: Column): string {
  switch (c.kind) {
    case 'text':
    case 'char':
    case 'json':
      return `HEX(CONVERT(${ident(c.name)} USING utf8mb4))`;
    case 'binary':
    case 'other':
      return `HEX(${ident(c.name)})`;
    case 'temporal':
      return `CAST(${ident(c.name)} AS CHAR)`;
    default:
      return canonical(c);
  }
}

/** A fetched value as a literal for INSERT on the target. */
export function valueLiteral(c: Column, v: string | null): string {
  if (v === null) return 'NULL';
  switch (c.kind) {
    case 'text':
    case 'char':
    case 'json':
      return `_utf8mb4 X'${check(HEX, v, c)}'`;
    case 'binary':
    case 'other':
      return `X'${check(HEX, v, c)}'`;
    case 'temporal':
      return `'${check(TEMPORAL, v, c)}'`;
    default:
      return check(NUMBER, v, c);
  }
}

/** A key value for people: text decoded, bytes as 0x..., the rest as it is. */
export function keyDisplay(c: Column, v: string): string {
  if (c.kind === 'text' || c.kind === 'char') return Buffer.from(v, 'hex').toString('utf8');
  if (c.kind === 'binary' || c.kind === 'other') return `0x${v}`;
  return v;
}

/** `(k1 > v1) OR (k1 = v1 AND k2 > v2) ...`: rows after `values` in key order (`inclusive`: or equal). */
export function after(key: Column[], values: string[], inclusive = false): string {
  const terms: string[] = [];
  for (let i = 0; i < key.length; i++) {
    const eq = key.slice(0, i).map((k, j) => `${ident(k.name)} = ${keyLiteral(k, values[j])}`);
    const op = i === key.length - 1 && inclusive ? '>=' : '>';
    terms.push([...eq, `${ident(key[i].name)} ${op} ${keyLiteral(key[i], values[i])}`].join(' AND '));
  }
  return terms.map((t) => `(${t})`).join(' OR ');
}

/** Rows up to and including `values` in key order. */
export function upTo(key: Column[], values: string[]): string {
  const terms: string[] = [];
  for (let i = 0; i < key.length; i++) {
    const eq = key.slice(0, i).map((k, j) => `${ident(k.name)} = ${keyLiteral(k, values[j])}`);
    const op = i === key.length - 1 ? '<=' : '<';
    terms.push([...eq, `${ident(key[i].name)} ${op} ${keyLiteral(key[i], values[i])}`].join(' AND '));
  }
  return terms.map((t) => `(${t})`).join(' OR ');
}

/** `k1 = v1 AND k2 = v2` for one key. */
export function keyEquals(key: Column[], values: string[]): string {
  return key.map((k, i) => `${ident(k.name)} = ${keyLiteral(k, values[i])}`).join(' AND ');
}

/** A WHERE condition matching any of the keys. */
export function anyKey(key: Column[], keys: string[][]): string {
  if (key.length === 1) return `${ident(key[0].name)} IN (${keys.map((k) => keyLiteral(key[0], k[0])).join(', ')})`;
  return keys.map((k) => `(${keyEquals(key, k)})`).join(' OR ');
}
