/** The --db-* flags of `app` and `seed`. */
export interface DbFlags {
  readonly dbHost?: string;
  readonly dbPort?: string;
  readonly dbUser?: string;
  readonly dbName?: string;
}

/** The --db-* flags as DB_* variables (flags win over the environment). */
export function dbEnvFromOptions(opts: DbFlags): Record<string, string> {
  const env: Record<string, string> = {};
  if (opts.dbHost) env.DB_HOST = opts.dbHost;
  if (opts.dbPort) env.DB_PORT = opts.dbPort;
  if (opts.dbUser) env.DB_USER = opts.dbUser;
  if (opts.dbName) env.DB_NAME = opts.dbName;
  return env;
}
