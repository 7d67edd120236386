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
export const CHECK_UNIT = 'check';

/** Whether the database holds nothing but the importer's own tables: no table, view, routine or event. */
export async function databaseIsEmpty(conn: Connection, database: string): Promise<boolean> {
  const db = conn.escape(database);
  const [rows] = await conn.query(
    `SELECT (SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ${db} AND table_name NOT IN (${conn.escape(PROGRESS_TABLE)}, ${conn.escape(UNITS_TABLE)}))` +
      ` + (SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = ${db})` +
      ` + (SELECT COUNT(*) FROM information_schema.events WHERE event_schema = ${db}) AS n`,
  );
  return Number((rows as Array<{ n: string }>)[0].n) === 0;
}

/** Whether the record of this dump's import holds a check that has not passed yet. */
export async function checkPending(conn: Connection, dumpHash: string): Promise<boolean> {
  const [rows] = await conn.query(
    `SELECT COUNT(*) AS n FROM ${quoteIdent(UNITS_TABLE)} WHERE dump_hash = ${conn.escape(dumpHash)} AND kind = '${CHECK_UNIT}' AND status = 'pending'`,
  );
  return Number((rows as Array<{ n: string }>)[0].n) > 0;
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
    const db = conn.escape(target.database);
    const [objects] = await conn.query(
      `SELECT IF(table_type = 'VIEW', 'VIEW', 'TABLE') AS kind, table_name AS name FROM information_schema.tables WHERE table_schema = ${db} AND table_name NOT IN (${conn.escape(PROGRESS_TABLE)}, ${conn.escape(UNITS_TABLE)})` +
        ` UNION ALL SELECT routine_type, routine_name FROM information_schema.routines WHERE routine_schema = ${db}` +
        ` UNION ALL SELECT 'EVENT', event_name FROM information_schema.events WHERE event_schema = ${db}`,
    );
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
