/**
 * Which mysql2 errors are worth retrying. One list for the importer (reconnect and resume), the connection
 * retry and the app (answer 503, not 500): the codes were kept in two overlapping lists before.
 */

/** The connection or the server failed, not the SQL: reconnecting later can help. */
const CONNECTION_CODES: ReadonlySet<string> = new Set([
  // Network and name resolution.
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  // mysql2's own: the socket closed, a packet never came, a query queued on a connection that had failed.
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  // The server: full, shutting down (a restart, an RDS failover), or it killed our connection.
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_SERVER_SHUTDOWN',
  'ER_NORMAL_SHUTDOWN',
  'ER_CONNECTION_KILLED',
]);

/** The statement lost a race with other sessions: running it again can succeed. */
const CONTENTION_CODES: ReadonlySet<string> = new Set([
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_LOCK_DEADLOCK',
  'ER_QUERY_INTERRUPTED',
]);

export interface TransientOptions {
  /**
   * Count lock-wait timeouts, deadlocks and interrupted queries too. Off for callers whose recovery is
   * "reconnect and resume" (the importer: its own statements do not contend, and a refused batch is re-run
   * one by one to name the statement).
   * @default true
   */
  readonly contention?: boolean;
}

/** The driver error code of `err`, if it has one. */
export function mysqlErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True for mysql2 errors where trying again later can help: the connection (or a lock race), not the SQL, failed. */
export function isTransient(err: unknown, options: TransientOptions = {}): boolean {
  const code = mysqlErrorCode(err);
  if (code === undefined) return false;
  return CONNECTION_CODES.has(code) || ((options.contention ?? true) && CONTENTION_CODES.has(code));
}
