/**
 * The site's environment file: the database settings under rushhour's names and Elastic Beanstalk's.
 *
 * Format: bash `NAME='value'` lines (a `'` inside a value written as `'\''`), sourced by the service's
 * ExecStart (`set -a; . site.env; exec ...`). Bash quoting takes any byte but NUL, so a generated
 * password with quotes, `$`, `%` or backslashes arrives unchanged; systemd's EnvironmentFile= parser
 * would expand or strip some of them.
 */

export interface DbSettings {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
}

/** Every variable the env file sets, in order; php-fpm passes exactly these (`env[NAME] = $NAME`). */
export const DB_ENV_NAMES = [
  'DB_HOST',
  'DB_PORT',
  'DB_NAME',
  'DB_USER',
  'DB_PASSWORD',
  'RDS_HOSTNAME',
  'RDS_PORT',
  'RDS_DB_NAME',
  'RDS_USERNAME',
  'RDS_PASSWORD',
] as const;
export type DbEnvName = (typeof DB_ENV_NAMES)[number];

export function dbEnv(s: DbSettings): Record<DbEnvName, string> {
  const port = String(s.port);
  return {
    DB_HOST: s.host,
    DB_PORT: port,
    DB_NAME: s.database,
    DB_USER: s.user,
    DB_PASSWORD: s.password,
    RDS_HOSTNAME: s.host,
    RDS_PORT: port,
    RDS_DB_NAME: s.database,
    RDS_USERNAME: s.user,
    RDS_PASSWORD: s.password,
  };
}

export function renderEnvFile(env: Readonly<Record<string, string>>): string {
  const lines = ['# Written by rushhour at every start of the site service. Root only (0600). Do not edit.'];
  for (const [k, v] of Object.entries(env)) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(k)) throw new Error(`env file: bad variable name ${JSON.stringify(k)}`);
    if (v.includes('\0')) throw new Error(`env file: ${k} holds a NUL byte`);
    lines.push(`${k}='${v.replace(/'/g, `'\\''`)}'`);
  }
  return lines.join('\n') + '\n';
}

/** The command line a service runs: its environment from the env file, then `exec` (same PID, for systemd). */
export function withEnvFile(bash: string, envFile: string, argv: readonly string[]): string[] {
  return [bash, '-c', `set -a && . ${shQuote(envFile)} && set +a && exec "$@"`, 'rushhour-site', ...argv];
}

export function shQuote(s: string): string {
  return /^[A-Za-z0-9_./=:@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
