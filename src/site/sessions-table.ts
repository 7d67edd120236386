import { connectWithRetry, DbTarget } from '../sql/connect';
import { quoteIdent as quoteId } from '../util/sql-ident';
import { SESSIONS_TABLE, SESSIONS_TABLE_SQL } from './php-files';

/**
 * Creates the PHP sessions table with the master user; the import calls it for php sites with
 * `sessions: "database"`. Idempotent (CREATE TABLE IF NOT EXISTS); never touches the site's own tables.
 */
export async function ensureSessionsTable(
  master: DbTarget,
  options: { connectRetryMs?: number } = {},
): Promise<string> {
  const conn = await connectWithRetry(master, {
    binary: false,
    multipleStatements: false,
    retryForMs: options.connectRetryMs,
  });
  try {
    // connectWithRetry opens no schema (the import also creates the database); name it here.
    await conn.query(`USE ${quoteId(master.database)}`);
    await conn.query(SESSIONS_TABLE_SQL);
    return SESSIONS_TABLE;
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}
