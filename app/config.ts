import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSM_KEYS, ssmParameterName } from '../lib/contracts';

/** Where the app finds its database. */
export interface DbConfig {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

export { SSM_KEYS };

/**
 * Database settings from the environment: `RUSHHOUR_SSM_PREFIX` (SSM + Secrets Manager, as on the
 * instances) or else `DB_HOST`, `DB_PORT`, `DB_USER`, `DB_PASSWORD`, `DB_NAME`.
 */
export async function resolveDbConfig(env: NodeJS.ProcessEnv = process.env): Promise<DbConfig> {
  const prefix = env.RUSHHOUR_SSM_PREFIX?.trim();
  if (prefix) return dbConfigFromSsm(prefix, env.AWS_REGION);
  return dbConfigFromEnv(env);
}

export function dbConfigFromEnv(env: NodeJS.ProcessEnv): DbConfig {
  const missing = ['DB_HOST', 'DB_USER', 'DB_PASSWORD', 'DB_NAME'].filter((k) => env[k] === undefined || env[k] === '');
  if (missing.length) {
    throw new Error(
      `database settings missing: set ${missing.join(', ')} (and optionally DB_PORT), or RUSHHOUR_SSM_PREFIX to read them from SSM`,
    );
  }
  return {
    host: env.DB_HOST!,
    port: parsePort(env.DB_PORT ?? '3306', 'DB_PORT'),
    user: env.DB_USER!,
    password: env.DB_PASSWORD!,
    database: env.DB_NAME!,
  };
}

/** Reads `<prefix>/{host,port,name,user,password-secret-arn}` from SSM and the password from Secrets Manager. */
export async function dbConfigFromSsm(prefix: string, region?: string): Promise<DbConfig> {
  const clean = prefix.replace(/\/+$/, '');
  const ssm = new SSMClient({ region });
  const secrets = new SecretsManagerClient({ region });
  try {
    const names = SSM_KEYS.map((k) => ssmParameterName(clean, k));
    const out = await ssm.send(new GetParametersCommand({ Names: names }));
    if (out.InvalidParameters?.length) {
      throw new Error(
        `SSM parameters not found: ${out.InvalidParameters.join(', ')} (the import writes them; check RUSHHOUR_SSM_PREFIX=${clean})`,
      );
    }
    const value = (k: (typeof SSM_KEYS)[number]) => {
      const v = out.Parameters?.find((p) => p.Name === ssmParameterName(clean, k))?.Value;
      if (!v) throw new Error(`SSM parameter ${clean}/${k} is empty`);
      return v;
    };
    const secretArn = value('password-secret-arn');
    const secret = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
    let parsed: { username?: string; password?: string };
    try {
      parsed = JSON.parse(secret.SecretString ?? '');
    } catch {
      throw new Error(`secret ${secretArn} is not JSON with a "password" field`);
    }
    if (!parsed.password) throw new Error(`secret ${secretArn} has no "password" field`);
    return {
      host: value('host'),
      port: parsePort(value('port'), `${clean}/port`),
      database: value('name'),
      user: value('user'),
      password: parsed.password,
    };
  } finally {
    ssm.destroy();
    secrets.destroy();
  }
}

/** Tuning knobs, all from the environment so the systemd unit and the CLI can set them. */
export interface AppLimits {
  /** Requests processed at once; beyond it the app answers 503 at once. */
  readonly maxInFlight: number;
  /** DB connections per process. */
  readonly dbPoolSize: number;
  /** Upper bound for one request's database work before it is answered 503. */
  readonly dbTimeoutMs: number;
  /** Seconds in `Retry-After` on 503. */
  readonly retryAfterSeconds: number;
  /**
   * Event-loop lag (smoothed, milliseconds) above which a share of new requests is shed before any work is done
   * for them (app/shed.ts); 0 turns it off. Off by default: on the shared 2-core bench machine it showed no
   * gain (BENCHMARKS.md, bench/overload.ts), and a burst the process would have served in time gets shed.
   */
  readonly maxLagMs: number;
  /** A client has this long to send a request's headers, milliseconds (slowloris). */
  readonly headersTimeoutMs: number;
  /** ... and this long for the whole request, body included; then 408 and the connection is closed. */
  readonly requestTimeoutMs: number;
}

// Pool 8 per process: with one process per core, 2-vCPU instances and 18 instances at most that is 288
// connections, inside a small RDS instance's max_connections. More connections than DB cores add no throughput.
// A request body is 16 KiB at most: 10 s for it is generous even on a bad mobile link.
export const DEFAULT_LIMITS: AppLimits = {
  maxInFlight: 128,
  dbPoolSize: 8,
  dbTimeoutMs: 3000,
  retryAfterSeconds: 1,
  maxLagMs: 0,
  headersTimeoutMs: 5000,
  requestTimeoutMs: 10000,
};

export function limitsFromEnv(env: NodeJS.ProcessEnv = process.env): AppLimits {
  const int = (name: string, def: number, min = 1) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min)
      throw new Error(
        `${name} must be ${min === 0 ? 'an integer >= 0' : 'a positive integer'}, got ${JSON.stringify(raw)}`,
      );
    return n;
  };
  return {
    maxInFlight: int('RUSHHOUR_MAX_IN_FLIGHT', DEFAULT_LIMITS.maxInFlight),
    dbPoolSize: int('RUSHHOUR_DB_POOL', DEFAULT_LIMITS.dbPoolSize),
    dbTimeoutMs: int('RUSHHOUR_DB_TIMEOUT_MS', DEFAULT_LIMITS.dbTimeoutMs),
    retryAfterSeconds: int('RUSHHOUR_RETRY_AFTER', DEFAULT_LIMITS.retryAfterSeconds),
    maxLagMs: int('RUSHHOUR_MAX_LAG_MS', DEFAULT_LIMITS.maxLagMs, 0),
    headersTimeoutMs: int('RUSHHOUR_HEADERS_TIMEOUT_MS', DEFAULT_LIMITS.headersTimeoutMs),
    requestTimeoutMs: int('RUSHHOUR_REQUEST_TIMEOUT_MS', DEFAULT_LIMITS.requestTimeoutMs),
  };
}

export function parsePort(raw: string, what: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new Error(`${what} must be a TCP port (1-65535), got ${JSON.stringify(raw)}`);
  return n;
}
