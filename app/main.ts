import cluster from 'node:cluster';
import * as os from 'node:os';
import { AppLimits, DbConfig, limitsFromEnv, parsePort, resolveDbConfig } from './config';
import { createPool, migrate } from './db';
import { buildApp } from './server';

export interface RunOptions {
  readonly port: number;
  /** @default '127.0.0.1' locally; the instance unit sets HOST=0.0.0.0 */
  readonly host?: string;
  readonly db: DbConfig;
  readonly limits: AppLimits;
  /** Apply schema migrations before listening. @default false (the imported dump already has the schema) */
  readonly migrate?: boolean;
  /** Milliseconds to wait for in-flight requests on SIGTERM before giving up. @default 25000 */
  readonly drainTimeoutMs?: number;
  readonly logLevel?: string;
  /** See AppOptions.coalesce. @default true */
  readonly coalesce?: boolean;
  /** See AppOptions.sessionKey. */
  readonly sessionKey?: string;
}

export interface RunningApp {
  readonly port: number;
  /** Stops accepting, drains in-flight requests, closes the pool. */
  close(): Promise<void>;
}

/** Starts one server process. */
export async function runServer(opts: RunOptions): Promise<RunningApp> {
  const pool = createPool(opts.db, {
    size: opts.limits.dbPoolSize,
    // A course-list view uses two connections at once, so the wait queue must hold 2 per admitted request:
    // shedding happens at the in-flight limit, never as a pool error.
    queueLimit: opts.limits.maxInFlight * 2,
    timeoutMs: opts.limits.dbTimeoutMs,
  });
  if (opts.migrate) await migrate(pool);
  const { app } = buildApp({
    pool,
    limits: opts.limits,
    logLevel: opts.logLevel,
    coalesce: opts.coalesce,
    sessionKey: opts.sessionKey,
  });
  await app.listen({ port: opts.port, host: opts.host ?? '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  let closing: Promise<void> | undefined;
  return {
    port,
    close: () =>
      (closing ??= (async () => {
        const timer = setTimeout(() => {
          app.log.error('drain timeout: closing remaining connections');
          app.server.closeAllConnections();
        }, opts.drainTimeoutMs ?? 25000);
        try {
          await app.close();
        } finally {
          clearTimeout(timer);
          await pool.end().catch(() => undefined);
        }
      })()),
  };
}

/**
 * Entry point for `node app.js` (the bundle) and `npx rushhour app`: settings from the environment,
 * one worker per core when RUSHHOUR_WORKERS=auto (the instance unit sets it), graceful SIGTERM.
 */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const workers = workerCount(env.RUSHHOUR_WORKERS);
  if (workers > 1 && cluster.isPrimary) return runPrimary(workers);
  const limits = limitsFromEnv(env);
  const db = await resolveDbConfig(env);
  const running = await runServer({
    port: parsePort(env.PORT ?? '8080', 'PORT'),
    host: env.HOST ?? '127.0.0.1',
    db,
    limits,
    migrate: env.RUSHHOUR_MIGRATE === 'true',
    logLevel: env.LOG_LEVEL ?? 'warn',
    coalesce: env.RUSHHOUR_COALESCE !== 'false',
    sessionKey: env.RUSHHOUR_SESSION_KEY || undefined,
  });
  console.log(
    `rushhour app listening on ${env.HOST ?? '127.0.0.1'}:${running.port} (pid ${process.pid}, db ${db.host}:${db.port}/${db.database}, ` +
      `max in flight ${limits.maxInFlight}, pool ${limits.dbPoolSize})`,
  );
  const shutdown = (signal: string) => {
    console.log(`rushhour app: ${signal}, draining`);
    running.close().then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

function workerCount(raw: string | undefined): number {
  if (!raw || raw === '1') return 1;
  if (raw === 'auto') return os.availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`RUSHHOUR_WORKERS must be a positive integer or "auto", got ${JSON.stringify(raw)}`);
  return n;
}

/** Cluster primary: forks workers (they share the port), restarts crashed ones, forwards SIGTERM and waits. */
function runPrimary(workers: number): void {
  let stopping = false;
  const fork = () => cluster.fork();
  for (let i = 0; i < workers; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    console.error(`rushhour app: worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
    setTimeout(fork, 1000);
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`rushhour app: ${signal}, draining ${workers} workers`);
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
