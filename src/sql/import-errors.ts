import type { DumpReader } from './dump-reader';
import type { ImportOptions } from './importer';
import type { DumpStatement } from './splitter';
import { redactServerMessage, statementPreview } from './vetting';

/**
 * The importer's errors and the message parts the sequential and the parallel import share
 * (./importer, ./parallel-import).
 */

/** A statement the server refused; the progress record stays so the import can resume after a fix. */
export class StatementError extends Error {
  constructor(
    message: string,
    readonly offset: number,
    readonly code?: string,
    readonly errno?: number,
  ) {
    super(message);
    this.name = 'StatementError';
  }
}

/** The database already holds another dump's import and re-import was not allowed. */
export class ReimportRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReimportRefusedError';
  }
}

/** Another import holds the database's import lock. */
export class ImportBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImportBusyError';
  }
}

/** The dump file could not be read to its end (truncated gzip, read error). */
export class DumpReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DumpReadError';
  }
}

/**
 * Errors that mean "this DDL already ran": accepted only when re-running the one statement a crash may have applied.
 */
export const ALREADY_APPLIED_ERRNOS = new Set([
  1050, // table/view already exists
  1007, // database exists
  1060, // duplicate column
  1061, // duplicate key name
  1304, // routine already exists
  1359, // trigger already exists
  1537, // event already exists
  1826, // duplicate foreign key
  1022, // duplicate key on write (e.g. duplicate constraint)
]);

/** How to go on after a failure mid-import: the fixed file has another sha256, so say which record to continue. */
export function resumeAdvice(database: string, dumpHash: string, committed: number): string {
  return (
    `to continue from byte ${committed} with a corrected file whose first ${committed} bytes are unchanged, run ` +
    `\`rushhour resume-import --dump FIXED.sql.gz --database ${database} --dump-hash ${dumpHash} ...\`; ` +
    `to start over, drop database "${database}" and import again (or pass --allow-reimport / set import.allowReimport, which runs the whole dump over what is there)`
  );
}

/**
 * The first ~200 characters of a statement for an error message: string literals redacted (a failing
 * `CREATE USER ... IDENTIFIED BY '...'` must not print its password), and for data statements only up
 * to VALUES (no data in logs).
 */
export function preview(sql: Buffer): string {
  let text = statementPreview(sql, 200);
  const values = text.search(/\bVALUES\b/i);
  if (/^\s*(INSERT|REPLACE)\b/i.test(text) && values >= 0) text = text.slice(0, values + 6) + ' ...';
  return text;
}

/**
 * A deferred index or foreign key (added after the table's data) failed to build, typically duplicate values
 * in a UNIQUE key. The data stays and the progress record keeps the index as not done: fix the rows, then
 * resume (the import adds only what is missing).
 */
export class DeferredIndexError extends Error {
  constructor(
    message: string,
    readonly table: string,
    /** The index or constraint the server named, or all of the ALTER's when it named none. */
    readonly indexes: readonly string[],
    readonly code?: string,
    readonly errno?: number,
  ) {
    super(message);
    this.name = 'DeferredIndexError';
  }
}

/** Where an error happened in an import: its options and the byte a resume continues from. */
interface ImportPlace {
  readonly options: ImportOptions;
  readonly committed: number;
}

/** A statement the server refused, with a hint for RDS's usual refusals and how to resume. */
export function statementError(stmt: DumpStatement, err: unknown, at: ImportPlace): StatementError {
  const e = err as { code?: string; errno?: number; sqlMessage?: string; message?: string };
  let hint = '';
  if (e.errno === 1419)
    hint =
      ' (binary logging is on and the user has no SUPER: set log_bin_trust_function_creators=1 in the DB parameter group)';
  if (e.errno === 1227)
    hint = ' (the statement needs a privilege RDS does not grant: remove it from the dump or add a rewrite)';
  return new StatementError(
    `statement at byte offset ${stmt.startOffset} (line ${stmt.line}) of ${at.options.source.description} failed: ${e.code ?? 'error'} (${e.errno ?? '?'}): ${redactServerMessage(e.sqlMessage ?? e.message ?? '')}${hint}\n  statement: ${preview(stmt.sql)}\n  ${resumeAdvice(at.options.target.database, at.options.dumpHash, at.committed)}`,
    stmt.startOffset,
    e.code,
    e.errno,
  );
}

/** A failure reading the dump: a cut gzip says where a resume continues; our own errors pass through. */
export function describeReadError(err: unknown, reader: DumpReader, at: ImportPlace): Error {
  if (err instanceof StatementError || err instanceof DumpReadError) return err;
  const gzip = reader.gzipFailure(err);
  if (gzip?.truncated)
    return new DumpReadError(
      `${gzip.message}. Committed up to byte ${at.committed}; ${resumeAdvice(at.options.target.database, at.options.dumpHash, at.committed)}.`,
    );
  if (gzip) return new DumpReadError(gzip.message);
  return err instanceof Error ? err : new Error(String(err));
}
