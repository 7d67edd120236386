import { createHash } from 'node:crypto';
import { createGzip, Gzip } from 'node:zlib';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { z } from 'zod';
import { OWN_TABLES } from '../../lib/contracts';
import { parsePersistedJson } from '../state/persisted';
import { quoteIdent } from '../util/sql-ident';

/**
 * A consistent, resumable export of one database as a mysqldump-compatible stream.
 *
 * The stream is written as numbered parts (`part-000000.sql.gz`, ...), each a complete gzip member
 * ending at a statement boundary, so the parts concatenated in order are one valid `.sql.gz` that
 * `mysql` (or the import library) loads. Each call of `exportSlice` reads inside one
 * `START TRANSACTION WITH CONSISTENT SNAPSHOT`, writes at most one part and records where it stopped
 * (table, last primary key) in a manifest next to the parts, so a Lambda with a 15-minute limit
 * continues where the previous invocation stopped.
 *
 * Slices run in different transactions, so the export as a whole is only consistent when nothing
 * writes during it: the first slice records `CHECKSUM TABLE` of every table and the last one checks
 * them again; a difference fails the export with a message that says to stop the writers and rerun.
 */

/** Where parts and the manifest go: S3 in the Lambda, a directory in tests. */
export interface ExportStore {
  put(key: string, body: Buffer): Promise<void>;
  /** The object's bytes, or undefined when it does not exist. */
  get(key: string): Promise<Buffer | undefined>;
}

export interface ExportColumn {
  readonly name: string;
  /** How a value is written: as-is (numbers), hex literal (binary), or quoted string. */
  readonly format: 'number' | 'hex' | 'bit' | 'string';
}

export interface ExportTable {
  readonly name: string;
  /** Columns written to INSERTs (generated columns excluded). */
  readonly columns: ExportColumn[];
  /** Primary key (or first NOT NULL unique key) columns; empty: the table is read in one slice. */
  readonly key: string[];
}

export interface ExportPart {
  readonly key: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly rows: number;
}

export interface ExportManifest {
  readonly version: 1;
  readonly exportId: string;
  readonly database: string;
  readonly startedAt: string;
  finishedAt?: string;
  readonly serverVersion: string;
  readonly tables: ExportTable[];
  /** `CHECKSUM TABLE` per table when the export started, and again when it finished. */
  readonly checksumsAtStart: Record<string, string | null>;
  checksumsAtEnd?: Record<string, string | null>;
  /** Rows written per table. */
  rowCounts: Record<string, number>;
  cursor: ExportCursor;
  parts: ExportPart[];
  done: boolean;
}

export interface ExportCursor {
  /** schema: CREATE TABLEs; data: rows of tables[tableIndex]; objects: routines, views, triggers, events. */
  phase: 'schema' | 'data' | 'objects' | 'done';
  tableIndex: number;
  /** SQL literals of the key of the last row written in tables[tableIndex], or null at the table's start. */
  lastKey: string[] | null;
}

export interface ExportSliceOptions {
  readonly connection: Connection;
  readonly store: ExportStore;
  readonly database: string;
  readonly exportId: string;
  /** Stop starting new batches after this many ms (the Lambda's remaining time minus a margin). @default 600000 */
  readonly timeBudgetMs?: number;
  /** Close a part after this many uncompressed bytes, so memory stays bounded. @default 64 MiB */
  readonly maxPartBytes?: number;
  /** Rows read per keyset query. @default 2000 */
  readonly batchRows?: number;
  /** Longest extended INSERT written (like mysqldump's net_buffer_length). @default 1 MiB */
  readonly maxInsertBytes?: number;
  /** Tables left out, e.g. the import's own progress table. @default OWN_TABLES (lib/contracts) */
  readonly excludeTables?: RegExp;
  /** Progress messages (no data, no secrets). */
  readonly log?: (message: string) => void;
}

export interface ExportSliceResult {
  readonly exportId: string;
  readonly done: boolean;
  readonly manifestKey: string;
  readonly partsWritten: number;
  readonly rowsWritten: number;
  readonly manifest: ExportManifest;
}

export const exportPrefix = (exportId: string) => `exports/${exportId}/`;
export const manifestKey = (exportId: string) => `${exportPrefix(exportId)}manifest.json`;

const NUMERIC = new Set([
  'tinyint',
  'smallint',
  'mediumint',
  'int',
  'integer',
  'bigint',
  'decimal',
  'numeric',
  'float',
  'double',
  'real',
  'year',
]);
const BINARY = new Set([
  'binary',
  'varbinary',
  'tinyblob',
  'blob',
  'mediumblob',
  'longblob',
  'geometry',
  'point',
  'linestring',
  'polygon',
  'multipoint',
  'multilinestring',
  'multipolygon',
  'geometrycollection',
  'geomcollection',
]);

/** Escapes a string the way mysqldump does, for a connection in utf8mb4 without NO_BACKSLASH_ESCAPES. */
export function quoteString(value: string): string {
  return (
    "'" +
    value.replace(
      // eslint-disable-next-line no-control-regex -- NUL and Ctrl-Z are exactly what mysqldump escapes
      /[\0\n\r\\'"\x1a]/g,
      (c) =>
        ({ '\0': '\\0', '\n': '\\n', '\r': '\\r', '\\': '\\\\', "'": "\\'", '"': '\\"', '\x1a': '\\Z' })[c] as string,
    ) +
    "'"
  );
}

function literal(value: Buffer | null, format: ExportColumn['format']): string {
  if (value === null) return 'NULL';
  switch (format) {
    case 'number':
      return value.toString('latin1');
    case 'hex':
      return value.length === 0 ? "''" : '0x' + value.toString('hex').toUpperCase();
    case 'bit':
      return value.length === 0 ? "b''" : `b'${[...value].map((b) => b.toString(2).padStart(8, '0')).join('')}'`;
    default:
      return quoteString(value.toString('utf8'));
  }
}

/** Removes `DEFINER=user@host`: the account that defined an object in the cloud does not exist at the origin. */
export function stripDefiner(sql: string): string {
  return sql.replace(
    /\s+DEFINER\s*=\s*(`(?:[^`]|``)*`|'(?:[^']|'')*'|[\w.$-]+)\s*@\s*(`(?:[^`]|``)*`|'(?:[^']|'')*'|[\w.%$-]+)/i,
    '',
  );
}

const HEADER = [
  '-- rushhour export: mysqldump-compatible; load with `mysql DB < file` or the rushhour import library',
  '/*!40101 SET NAMES utf8mb4 */;',
  "/*!40103 SET TIME_ZONE='+00:00' */;",
  '/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;',
  '/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;',
  "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;",
  '',
].join('\n');

const FOOTER = [
  '/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;',
  '/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;',
  '/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;',
  '-- rushhour export complete',
  '',
].join('\n');

async function rows<T = RowDataPacket>(c: Connection, sql: string, params: unknown[] = []): Promise<T[]> {
  const [r] = await c.query<RowDataPacket[]>(sql, params);
  return r as unknown as T[];
}

/** `CHECKSUM TABLE` of each table, keyed by table name (null when the engine cannot checksum). */
export async function checksumTables(
  c: Connection,
  database: string,
  tables: string[],
): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  if (tables.length === 0) return out;
  const result = await rows<{ Table: string; Checksum: number | string | null }>(
    c,
    `CHECKSUM TABLE ${tables.map((t) => `${quoteIdent(database)}.${quoteIdent(t)}`).join(', ')}`,
  );
  for (const r of result) out[r.Table.slice(database.length + 1)] = r.Checksum === null ? null : String(r.Checksum);
  return out;
}

async function describeTables(c: Connection, database: string, exclude: RegExp): Promise<ExportTable[]> {
  const names = (
    await rows<{ name: string }>(
      c,
      "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
      [database],
    )
  )
    .map((r) => r.name)
    .filter((n) => !exclude.test(n));
  const tables: ExportTable[] = [];
  for (const name of names) {
    const cols = await rows<{ name: string; type: string; extra: string }>(
      c,
      'SELECT COLUMN_NAME AS name, DATA_TYPE AS type, EXTRA AS extra FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [database, name],
    );
    const columns: ExportColumn[] = cols
      .filter((col) => !/\b(VIRTUAL|STORED|PERSISTENT) GENERATED\b/i.test(col.extra))
      .map((col) => {
        const t = col.type.toLowerCase();
        return {
          name: col.name,
          format: NUMERIC.has(t) ? 'number' : t === 'bit' ? 'bit' : BINARY.has(t) ? 'hex' : 'string',
        };
      });
    // Primary key first; else the first unique key whose columns are all NOT NULL.
    const keys = await rows<{ name: string; col: string; nullable: string }>(
      c,
      `SELECT s.INDEX_NAME AS name, s.COLUMN_NAME AS col, s.NULLABLE AS nullable FROM information_schema.STATISTICS s
        WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? AND s.NON_UNIQUE = 0 ORDER BY s.INDEX_NAME = 'PRIMARY' DESC, s.INDEX_NAME, s.SEQ_IN_INDEX`,
      [database, name],
    );
    const byIndex = new Map<string, { cols: string[]; nullable: boolean }>();
    for (const k of keys) {
      const e = byIndex.get(k.name) ?? { cols: [], nullable: false };
      e.cols.push(k.col);
      e.nullable ||= k.nullable === 'YES';
      byIndex.set(k.name, e);
    }
    const key = [...byIndex.values()].find((e) => !e.nullable)?.cols ?? [];
    tables.push({ name, columns, key });
  }
  return tables;
}

const ExportColumnSchema = z.object({ name: z.string(), format: z.enum(['number', 'hex', 'bit', 'string']) });
const checksums = z.record(z.string(), z.string().nullable());
/** The manifest as stored: parsed, not cast, so a damaged or foreign manifest fails with the fields that are wrong. */
export const ExportManifestSchema = z.object({
  version: z.literal(1),
  exportId: z.string(),
  database: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  serverVersion: z.string(),
  tables: z.array(z.object({ name: z.string(), columns: z.array(ExportColumnSchema), key: z.array(z.string()) })),
  checksumsAtStart: checksums,
  checksumsAtEnd: checksums.optional(),
  rowCounts: z.record(z.string(), z.number().int().nonnegative()),
  cursor: z.object({
    phase: z.enum(['schema', 'data', 'objects', 'done']),
    tableIndex: z.number().int().nonnegative(),
    lastKey: z.array(z.string()).nullable(),
  }),
  parts: z.array(
    z.object({ key: z.string(), bytes: z.number().int(), sha256: z.string(), rows: z.number().int().nonnegative() }),
  ),
  done: z.boolean(),
});

async function loadManifest(store: ExportStore, exportId: string): Promise<ExportManifest | undefined> {
  const raw = await store.get(manifestKey(exportId));
  return raw
    ? parsePersistedJson(raw.toString('utf8'), ExportManifestSchema, manifestKey(exportId), 'export manifest')
    : undefined;
}

/** A new export's manifest: the tables to export and their checksums at the start. */
async function startManifest(
  c: Connection,
  database: string,
  exportId: string,
  exclude: RegExp,
): Promise<ExportManifest> {
  const tables = await describeTables(c, database, exclude);
  const [[ver]] = await c.query<RowDataPacket[]>('SELECT VERSION() AS v');
  return {
    version: 1,
    exportId,
    database,
    startedAt: new Date().toISOString(),
    serverVersion: String(ver.v),
    tables,
    checksumsAtStart: await checksumTables(
      c,
      database,
      tables.map((t) => t.name),
    ),
    rowCounts: {},
    cursor: { phase: 'schema', tableIndex: 0, lastKey: null },
    parts: [],
    done: false,
  };
}

/**
 * One part being written: compressed as it is produced (in libuv's threads, while we wait for the next
 * batch), so only the compressed part is held in memory.
 */
class PartWriter {
  private readonly gz: Gzip = createGzip();
  private readonly compressed: Buffer[] = [];
  private readonly ended: Promise<void>;
  wrote = false;
  bytes = 0;
  rows = 0;

  constructor() {
    this.gz.on('data', (b: Buffer) => this.compressed.push(b));
    this.ended = new Promise<void>((resolve, reject) => {
      this.gz.once('end', () => resolve());
      this.gz.once('error', reject);
    });
  }

  emit(sql: string): void {
    this.gz.write(sql);
    this.wrote = true;
    this.bytes += Buffer.byteLength(sql);
  }

  /** The compressed part, or undefined when nothing was written. */
  async finish(): Promise<Buffer | undefined> {
    this.gz.end();
    await this.ended;
    return this.wrote ? Buffer.concat(this.compressed) : undefined;
  }

  destroy(): void {
    this.gz.destroy();
  }
}

/** Phase schema: the header and every CREATE TABLE. */
async function writeSchema(c: Connection, database: string, manifest: ExportManifest, part: PartWriter): Promise<void> {
  part.emit(HEADER);
  for (const t of manifest.tables) {
    const [[row]] = await c.query<RowDataPacket[]>(`SHOW CREATE TABLE ${quoteIdent(database)}.${quoteIdent(t.name)}`);
    part.emit(`DROP TABLE IF EXISTS ${quoteIdent(t.name)};\n${row['Create Table']};\n\n`);
  }
  Object.assign(manifest.cursor, { phase: 'data', tableIndex: 0, lastKey: null });
}

/** One keyset batch of the cursor's table as extended INSERTs; moves the cursor past it. */
async function writeBatch(
  c: Connection,
  database: string,
  manifest: ExportManifest,
  part: PartWriter,
  limits: { batchRows: number; maxInsertBytes: number },
): Promise<void> {
  const cursor = manifest.cursor;
  const t = manifest.tables[cursor.tableIndex];
  const cols = t.columns.map((col) => quoteIdent(col.name)).join(', ');
  const keyCols = t.key.map(quoteIdent);
  const keyIdx = t.key.map((k) => t.columns.findIndex((col) => col.name === k));
  let sql = `SELECT ${cols} FROM ${quoteIdent(database)}.${quoteIdent(t.name)}`;
  if (keyCols.length > 0) {
    if (cursor.lastKey) sql += ` WHERE ${keysetAfter(keyCols, cursor.lastKey)}`;
    sql += ` ORDER BY ${keyCols.join(', ')} LIMIT ${limits.batchRows}`;
  }
  // typeCast false: every value as the server's bytes (NULL as null), formatted by column type below.
  const [result] = await c.query<RowDataPacket[]>({ sql, rowsAsArray: true, typeCast: false });
  const batch = result as unknown as Array<Array<Buffer | null>>;
  let insert = '';
  const head = `INSERT INTO ${quoteIdent(t.name)} (${cols}) VALUES `;
  for (const r of batch) {
    const tuple = '(' + r.map((v, i) => literal(v, t.columns[i].format)).join(',') + ')';
    if (insert && insert.length + tuple.length > limits.maxInsertBytes) {
      part.emit(insert + ';\n');
      insert = '';
    }
    insert = insert ? `${insert},${tuple}` : head + tuple;
  }
  if (insert) part.emit(insert + ';\n');
  part.rows += batch.length;
  manifest.rowCounts[t.name] = (manifest.rowCounts[t.name] ?? 0) + batch.length;
  if (keyCols.length === 0 || batch.length < limits.batchRows) {
    Object.assign(cursor, { tableIndex: cursor.tableIndex + 1, lastKey: null });
  } else {
    const last = batch[batch.length - 1];
    cursor.lastKey = keyIdx.map((i) => literal(last[i], t.columns[i].format));
  }
}

/** Phase objects: routines, views, triggers, events and the footer; then the end checksums must match the start's. */
async function writeObjects(
  c: Connection,
  database: string,
  manifest: ExportManifest,
  part: PartWriter,
): Promise<void> {
  part.emit(await objectsSql(c, database));
  part.emit(FOOTER);
  const atEnd = await checksumTables(
    c,
    database,
    manifest.tables.map((t) => t.name),
  );
  manifest.checksumsAtEnd = atEnd;
  const changed = Object.keys(manifest.checksumsAtStart).filter((k) => manifest.checksumsAtStart[k] !== atEnd[k]);
  if (changed.length > 0) throw new ExportChangedError(database, changed);
  Object.assign(manifest.cursor, { phase: 'done', tableIndex: 0, lastKey: null });
  manifest.done = true;
  manifest.finishedAt = new Date().toISOString();
}

/** Tables changed between the export's first and last slice: something wrote during the export. */
export class ExportChangedError extends Error {
  override readonly name = 'ExportChangedError';
  constructor(
    readonly database: string,
    readonly tables: string[],
  ) {
    super(
      `the database changed while it was exported (tables ${tables.join(', ')}): stop the writers ` +
        '(scale the web groups to 0) and rerun the export with a new export id',
    );
  }
}

/** Stores the part (when anything was written) and the manifest that lists it. */
async function storePart(
  store: ExportStore,
  manifest: ExportManifest,
  body: Buffer | undefined,
  rows: number,
): Promise<number> {
  let partsWritten = 0;
  if (body) {
    const key = `${exportPrefix(manifest.exportId)}part-${String(manifest.parts.length).padStart(6, '0')}.sql.gz`;
    await store.put(key, body);
    manifest.parts.push({ key, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex'), rows });
    partsWritten = 1;
  }
  await store.put(manifestKey(manifest.exportId), Buffer.from(JSON.stringify(manifest, null, 2)));
  return partsWritten;
}

/**
 * Writes the next part of an export and updates its manifest; call until `done`.
 * A call that crashes before writing the manifest is simply repeated: the part of the same number is
 * overwritten, so no row is written twice or skipped.
 */
export async function exportSlice(options: ExportSliceOptions): Promise<ExportSliceResult> {
  const { connection: c, store, database, exportId } = options;
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(exportId))
    throw new Error(`exportId "${exportId}" must be 1-128 letters, digits, dots, hyphens or underscores`);
  const started = Date.now();
  const budget = options.timeBudgetMs ?? 600000;
  const maxPartBytes = options.maxPartBytes ?? 64 * 1024 * 1024;
  const limits = { batchRows: options.batchRows ?? 2000, maxInsertBytes: options.maxInsertBytes ?? 1024 * 1024 };
  const log = options.log ?? (() => undefined);

  // With the database as the default one, SHOW CREATE VIEW leaves out the schema qualifiers, so the
  // export loads into a database of any name (as mysqldump's output does).
  await c.query(`USE ${quoteIdent(database)}`);
  await c.query("SET NAMES utf8mb4, SESSION TIME_ZONE = '+00:00'");
  await c.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
  await c.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
  let part: PartWriter | undefined;
  try {
    let manifest = await loadManifest(store, exportId);
    if (!manifest) {
      manifest = await startManifest(c, database, exportId, options.excludeTables ?? OWN_TABLES);
      log(`export ${exportId}: ${manifest.tables.length} tables in ${database}`);
    }
    if (manifest.done)
      return { exportId, done: true, manifestKey: manifestKey(exportId), partsWritten: 0, rowsWritten: 0, manifest };
    if (manifest.database !== database)
      throw new Error(`export ${exportId} is of database ${manifest.database}, not ${database}: use a new export id`);

    part = new PartWriter();
    const cursor = manifest.cursor;
    if (cursor.phase === 'schema') await writeSchema(c, database, manifest, part);
    // At least one batch per call, so even a tiny budget makes progress.
    for (
      let first = true;
      cursor.phase === 'data' && (first || (part.bytes < maxPartBytes && Date.now() - started < budget));
      first = false
    ) {
      if (!manifest.tables[cursor.tableIndex]) {
        Object.assign(cursor, { phase: 'objects', tableIndex: 0, lastKey: null });
        break;
      }
      await writeBatch(c, database, manifest, part, limits);
    }
    if (cursor.phase === 'objects' && part.bytes < maxPartBytes) await writeObjects(c, database, manifest, part);
    await c.query('COMMIT');

    const partsWritten = await storePart(store, manifest, await part.finish(), part.rows);
    log(`export ${exportId}: part ${manifest.parts.length - 1} with ${part.rows} rows, phase ${cursor.phase}`);
    return {
      exportId,
      done: manifest.done,
      manifestKey: manifestKey(exportId),
      partsWritten,
      rowsWritten: part.rows,
      manifest,
    };
  } catch (err) {
    part?.destroy();
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * `(a, b) > (x, y)` spelled so that MariaDB and MySQL use the key as a range: MariaDB does not
 * optimise row-constructor comparisons, which made every batch a full scan (quadratic time).
 */
export function keysetAfter(cols: string[], values: string[]): string {
  if (cols.length === 1) return `${cols[0]} > ${values[0]}`;
  const ors = cols.map((_, i) =>
    [...cols.slice(0, i).map((c, j) => `${c} = ${values[j]}`), `${cols[i]} > ${values[i]}`].join(' AND '),
  );
  return `${cols[0]} >= ${values[0]} AND ((${ors.join(') OR (')}))`;
}

async function objectsSql(c: Connection, database: string): Promise<string> {
  const db = quoteIdent(database);
  const out: string[] = [];
  // Routines before views (a view may call a function); triggers after all data, so loading fires none.
  const routines = await rows<{ name: string; type: string }>(
    c,
    'SELECT ROUTINE_NAME AS name, ROUTINE_TYPE AS type FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_TYPE, ROUTINE_NAME',
    [database],
  );
  for (const r of routines) {
    const [[row]] = await c.query<RowDataPacket[]>(`SHOW CREATE ${r.type} ${db}.${quoteIdent(r.name)}`);
    const body = row[r.type === 'FUNCTION' ? 'Create Function' : 'Create Procedure'] as string | null;
    if (!body)
      throw new Error(
        `cannot read the definition of ${r.type} ${r.name}: the export user needs SELECT on mysql.proc / SHOW_ROUTINE`,
      );
    out.push(
      `DROP ${r.type} IF EXISTS ${quoteIdent(r.name)};\n/*!50003 SET @saved_sql_mode = @@sql_mode */;\n` +
        `/*!50003 SET sql_mode = ${quoteString(String(row.sql_mode))} */;\nDELIMITER ;;\n${stripDefiner(body)} ;;\nDELIMITER ;\n` +
        '/*!50003 SET sql_mode = @saved_sql_mode */;\n\n',
    );
  }
  const views = await rows<{ name: string; def: string }>(
    c,
    'SELECT TABLE_NAME AS name, VIEW_DEFINITION AS def FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME',
    [database],
  );
  for (const v of orderViews(views)) {
    const [[row]] = await c.query<RowDataPacket[]>(`SHOW CREATE VIEW ${db}.${quoteIdent(v.name)}`);
    out.push(
      `DROP TABLE IF EXISTS ${quoteIdent(v.name)};\nDROP VIEW IF EXISTS ${quoteIdent(v.name)};\n${stripDefiner(row['Create View'])};\n\n`,
    );
  }
  const triggers = await rows<{ name: string }>(
    c,
    'SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY EVENT_OBJECT_TABLE, ACTION_ORDER',
    [database],
  );
  for (const t of triggers) {
    const [[row]] = await c.query<RowDataPacket[]>(`SHOW CREATE TRIGGER ${db}.${quoteIdent(t.name)}`);
    out.push(
      `/*!50003 SET @saved_sql_mode = @@sql_mode */;\n/*!50003 SET sql_mode = ${quoteString(String(row.sql_mode))} */;\n` +
        `DELIMITER ;;\n${stripDefiner(row['SQL Original Statement'])} ;;\nDELIMITER ;\n/*!50003 SET sql_mode = @saved_sql_mode */;\n\n`,
    );
  }
  const events = await rows<{ name: string }>(
    c,
    'SELECT EVENT_NAME AS name FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME',
    [database],
  );
  for (const e of events) {
    const [[row]] = await c.query<RowDataPacket[]>(`SHOW CREATE EVENT ${db}.${quoteIdent(e.name)}`);
    out.push(
      `DROP EVENT IF EXISTS ${quoteIdent(e.name)};\n/*!50003 SET @saved_sql_mode = @@sql_mode */;\n` +
        `/*!50003 SET sql_mode = ${quoteString(String(row.sql_mode))} */;\n/*!50106 SET @saved_time_zone = @@time_zone */;\n` +
        `/*!50106 SET time_zone = ${quoteString(String(row.time_zone))} */;\nDELIMITER ;;\n${stripDefiner(row['Create Event'])} ;;\nDELIMITER ;\n` +
        '/*!50106 SET time_zone = @saved_time_zone */;\n/*!50003 SET sql_mode = @saved_sql_mode */;\n\n',
    );
  }
  return out.join('');
}

/** Views that use other views come after them. */
function orderViews(views: Array<{ name: string; def: string }>): Array<{ name: string; def: string }> {
  const done = new Set<string>();
  const ordered: Array<{ name: string; def: string }> = [];
  const visit = (v: { name: string; def: string }, depth: number) => {
    if (done.has(v.name) || depth > views.length) return;
    for (const other of views) if (other !== v && v.def.includes('`' + other.name + '`')) visit(other, depth + 1);
    if (!done.has(v.name)) {
      done.add(v.name);
      ordered.push(v);
    }
  };
  for (const v of views) visit(v, 0);
  return ordered;
}

/** Reads a finished export's parts in order, checking each part's sha256; yields gzip members. */
export async function* readExportParts(store: ExportStore, exportId: string): AsyncGenerator<Buffer> {
  const manifest = await loadManifest(store, exportId);
  if (!manifest) throw new Error(`export ${exportId} not found (no ${manifestKey(exportId)})`);
  if (!manifest.done)
    throw new Error(`export ${exportId} is not finished (phase ${manifest.cursor.phase}): invoke the export again`);
  for (const part of manifest.parts) {
    const body = await store.get(part.key);
    if (!body) throw new Error(`export ${exportId}: part ${part.key} is missing`);
    const sha = createHash('sha256').update(body).digest('hex');
    if (sha !== part.sha256)
      throw new Error(`export ${exportId}: part ${part.key} has sha256 ${sha}, manifest says ${part.sha256}`);
    yield body;
  }
}

export async function readExportManifest(store: ExportStore, exportId: string): Promise<ExportManifest | undefined> {
  return loadManifest(store, exportId);
}
