import * as mysql from 'mysql2/promise';
import { linearBackoff, retry } from '../util/retry';
import { isTransient } from './transient';

/** Where to import: a MySQL/MariaDB server, a user that owns the database, and the database. */
export interface DbTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

export interface ConnectOptions {
  /** Keep retrying refused/timed-out connections this long: a fresh RDS instance may still be starting. @default 120000 */
  readonly retryForMs?: number;
  /** Allow several statements per round trip (the importer batches data statements). @default true */
  readonly multipleStatements?: boolean;
  readonly log?: (message: string) => void;
  /**
   * Talk `binary` on the client side so dump bytes pass unchanged (see below). Turn off for a session
   * that sends ordinary (utf8) text, e.g. passwords. @default true
   */
  readonly binary?: boolean;
}

/**
 * Connects (without selecting a database) and retries while the server is unreachable or starting.
 * The connection talks `binary` on the client side: statement bytes go out exactly as they are in the
 * dump (mysql2 encodes the text as latin1 = bytes), while the server interprets them per `SET NAMES`.
 * Statements must therefore be passed as `buffer.toString('latin1')`, and only ASCII SQL written by hand.
 */
export async function connectWithRetry(
  target: Omit<DbTarget, 'database'>,
  options: ConnectOptions = {},
): Promise<mysql.Connection> {
  const deadline = Date.now() + (options.retryForMs ?? 120000);
  const binary = options.binary ?? true;
  let attempts = 0;
  try {
    return await retry(
      async (attempt) => {
        attempts = attempt;
        const conn = await mysql.createConnection({
          host: target.host,
          port: target.port,
          user: target.user,
          password: target.password,
          charset: binary ? 'BINARY' : 'UTF8MB4_UNICODE_CI',
          multipleStatements: options.multipleStatements ?? true,
          connectTimeout: 10000,
          supportBigNumbers: true,
          bigNumberStrings: true,
          dateStrings: true,
          // Without this, mysql2 follows the server's session tracking and switches its own encoding to
          // utf8 when the dump runs SET NAMES: the latin1-decoded dump bytes would then be encoded twice.
          flags: binary ? ['-SESSION_TRACK'] : [],
          // The importer builds its SQL with escape(); skip mysql2's scan of every (MB-sized) statement for `?`
          // placeholders.
          ...(binary ? { queryFormat: (sql: string) => sql } : {}),
        });
        await conn.query('SET NAMES utf8mb4');
        return conn;
      },
      {
        shouldRetry: (err) => isTransient(err, { contention: false }) && Date.now() <= deadline,
        delayMs: linearBackoff(2000, 10000),
        onRetry: (err) =>
          options.log?.(
            `database at ${target.host}:${target.port} not reachable yet (${(err as { code?: string }).code}); retrying`,
          ),
      },
    );
  } catch (err) {
    // Never pass the driver error on as is: keep only code and message (no config, no SQL).
    const e = err as { code?: string; message?: string };
    throw new Error(
      `cannot connect to MySQL at ${target.host}:${target.port} as ${target.user} (attempt ${attempts}): ${e.code ?? ''} ${e.message ?? String(err)}`.trim(),
    );
  }
}
