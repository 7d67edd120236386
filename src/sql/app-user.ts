import { quoteIdent } from '../util/sql-ident';
import { connectWithRetry, DbTarget } from './connect';

/** The privileges the application needs on its database, and nothing more. */
export const APP_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] as const;

/**
 * Creates (or updates the password of) the application's user with only SELECT/INSERT/UPDATE/DELETE
 * on the database, plus EXECUTE when the database has stored routines. Idempotent. The password never
 * appears in errors or logs (driver errors carry the SQL, so they are not passed on).
 */
export async function ensureAppUser(
  master: DbTarget,
  appUser: string,
  appPassword: string,
  options: { connectRetryMs?: number } = {},
): Promise<{ privileges: string[] }> {
  const conn = await connectWithRetry(master, {
    binary: false,
    multipleStatements: false,
    retryForMs: options.connectRetryMs,
  });
  try {
    const [rows] = await conn.query('SELECT COUNT(*) AS n FROM information_schema.routines WHERE routine_schema = ?', [
      master.database,
    ]);
    const privileges: string[] = [...APP_PRIVILEGES];
    if (Number((rows as Array<{ n: string }>)[0].n) > 0) privileges.push('EXECUTE');
    const account = `${conn.escape(appUser)}@'%'`;
    const steps: Array<[string, string]> = [
      ['create the application user', `CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY ${conn.escape(appPassword)}`],
      ["set the application user's password", `ALTER USER ${account} IDENTIFIED BY ${conn.escape(appPassword)}`],
      [
        'grant the application user its privileges',
        `GRANT ${privileges.join(', ')} ON ${quoteIdent(master.database)}.* TO ${account}`,
      ],
    ];
    for (const [what, sql] of steps) {
      try {
        await conn.query(sql);
      } catch (err) {
        const e = err as { code?: string; errno?: number; sqlMessage?: string };
        throw new Error(
          `could not ${what} "${appUser}" on ${master.host}:${master.port}: ${e.code ?? 'error'} (${e.errno ?? '?'}): ${e.sqlMessage ?? 'unknown error'}`,
        );
      }
    }
    return { privileges };
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}
