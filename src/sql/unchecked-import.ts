import type { Connection } from 'mysql2/promise';
import { quoteIdent } from '../util/sql-ident';
import { connectWithRetry, DbTarget } from './connect';
import { PROGRESS_TABLE, UNITS_TABLE } from './rewrites';

/**
 * An import into an empty database may check the dump while it loads instead of reading it once more
 * before (the pre-pass costs 1.1-1.3 s per 254 MiB on two cores, with the server idle meanwhile:
 * BENCHMARKS.md, "Dump import"). No statement runs before it is vetted; what only the end of the dump can
 * tell (a cut dump, a truncated gzip, a refused statement further on) makes the import remove everything
 * it loaded, which is everything in the database, since the database was empty. The record of such an
 * import says so (a units row of this kind, `pending` until the check has passed), so a run that resumes
 * a killed one checks the whole dump before anything else, and removes what the killed run loaded if the
 * dump fails the check.
 */
const CHECK_UNIT = 'check';

/**
 * Every table, view, routine and event of the database but the importer's own two tables (triggers go with
 * their tables): what an import into the empty database put there, as rows of `kind` (the DROP keyword) and `name`.
 */
function objectsSql(conn: Connection, database: string): string {
  const db = conn.escape(database);
  return (
    `SELECT IF(table_type = 'VIEW', 'VIEW', 'TABLE') AS kind, table_name AS name FROM information_schema.tables WHERE table_schema = ${db} AND table_name NOT IN (${conn.escape(PROGRESS_TABLE)}, ${conn.escape(UNITS_TABLE)})` +
    ` UNION ALL SELECT routine_type, routine_name FROM information_schema.routines WHERE routine_schema = ${db}` +
    ` UNION ALL SELECT 'EVENT', event_name FROM information_schema.events WHERE event_schema = ${db}`
  );
}

/** Whether the database holds nothing but the importer's own tables: no table, view, routine or event. */
export async function databaseIsEmpty(conn: Connection, database: string): Promise<boolean> {
  const [rows] = await conn.query(`SELECT COUNT(*) AS n FROM (${objectsSql(conn, database)}) o`);
  return Number((rows as Array<{ n: string }>)[0].n) === 0;
}

/** The units row of a new import checked while loading: its check has not passed (for the units INSERT's VALUES). */
export function pendingCheckRow(conn: Connection, dumpHash: string): string {
  return `(${conn.escape(dumpHash)}, '${CHECK_UNIT}', 0, 0, 0, 'pending')`;
}

/** Whether the record of this dump's import holds a check that has not passed yet. */
export async function checkPending(conn: Connection, dumpHash: string): Promise<boolean> {
  const [rows] = await conn.query(
    `SELECT COUNT(*) AS n FROM ${quoteIdent(UNITS_TABLE)} WHERE dump_hash = ${conn.escape(dumpHash)} AND kind = '${CHECK_UNIT}' AND status = 'pending'`,
  );
  return Number((rows as Array<{ n: string }>)[0].n) > 0;
}

/** The whole dump has passed the check (a resume's pre-pass): the import goes on as any other. */
export async function markChecked(conn: Connection, dumpHash: string): Promise<void> {
  await conn.query(
    `UPDATE ${quoteIdent(UNITS_TABLE)} SET status = 'done' WHERE dump_hash = ${conn.escape(dumpHash)} AND kind = '${CHECK_UNIT}'`,
  );
}

/** Why removing what an unchecked import loaded failed: the next run of the same dump removes it. */
export class UncheckedImportRemovalError extends Error {
  constructor(
    message: string,
    /** The dump's verdict (a refusal, a cut or unreadable dump). */
    readonly verdict: Error,
  ) {
    super(message);
    this.name = 'UncheckedImportRemovalError';
  }
}

/**
 * Removes every table, view, routine and event of the database (triggers go with their tables) and the
 * import's record, so the database is as the import found it: empty, and free for a corrected dump.
 * Its own connection in utf8 (names come back as text, not the dump's bytes). Returns `verdict`, or, if the
 * removal fails, an error that names both.
 */
export async function removeUncheckedImport(
  target: DbTarget,
  dumpHash: string,
  verdict: Error,
  log: (message: string) => void,
): Promise<Error> {
  let conn: Connection | undefined;
  try {
    conn = await connectWithRetry(target, { binary: false, retryForMs: 10000, log });
    await conn.query(`USE ${quoteIdent(target.database)}`);
    await conn.query('SET SESSION foreign_key_checks = 0');
    const [objects] = await conn.query(objectsSql(conn, target.database));
    const list = objects as Array<{ kind: string; name: string }>;
    // Views first: a view over a dropped table still drops, but this keeps the log in the order of dependence.
    list.sort((a, b) => Number(b.kind === 'VIEW') - Number(a.kind === 'VIEW'));
    for (const o of list) await conn.query(`DROP ${o.kind} IF EXISTS ${quoteIdent(o.name)}`);
    await conn.query(
      `START TRANSACTION; DELETE FROM ${quoteIdent(UNITS_TABLE)} WHERE dump_hash = ${conn.escape(dumpHash)}; DELETE FROM ${quoteIdent(PROGRESS_TABLE)} WHERE dump_hash = ${conn.escape(dumpHash)}; COMMIT`,
    );
    log(
      `removed what was loaded before the check found the dump unfit (${list.length} tables, views, routines and events); the database is empty again`,
    );
    return verdict;
  } catch (err) {
    return new UncheckedImportRemovalError(
      `${verdict.message}\nRemoving what was loaded before the check got there failed too (${(err as Error).message}): the database holds part of the refused dump until the next run of this dump (it checks the dump first and removes it).`,
      verdict,
    );
  } finally {
    await conn?.end().catch(() => conn?.destroy());
  }
}
