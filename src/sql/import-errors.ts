import { statementPreview } from './vetting';

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
