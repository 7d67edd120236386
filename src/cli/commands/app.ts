import { Command } from 'commander';
import { main } from '../../../app/main';
import { dbEnvFromOptions, DbFlags } from '../db-flags';
import type { CliEnv } from '../env';

/** `rushhour app`: runs the reference course-selection app in this process (as the instance does from the bundle). */
export function register(program: Command, cliEnv: CliEnv): void {
  program
    .command('app')
    .description(
      'Run the reference course-selection app. DB from --ssm-prefix (SSM + Secrets Manager) or DB_HOST/DB_PORT/DB_USER/DB_PASSWORD/DB_NAME (or the --db-* flags).',
    )
    .requiredOption('--port <port>', 'TCP port to listen on')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--ssm-prefix <prefix>', 'read the DB settings from SSM under this prefix, e.g. /rushhour/mysite/db')
    .option('--db-host <host>', 'database host (overrides DB_HOST)')
    .option('--db-port <port>', 'database port (overrides DB_PORT)')
    .option('--db-user <user>', 'database user (overrides DB_USER); the password comes only from DB_PASSWORD')
    .option('--db-name <name>', 'database name (overrides DB_NAME)')
    .option('--workers <n>', 'processes sharing the port: a number or "auto" (one per core)', '1')
    .option('--migrate', 'apply schema migrations before listening')
    .action(
      async (
        opts: DbFlags & { port: string; host: string; ssmPrefix?: string; workers: string; migrate?: boolean },
      ) => {
        const env: NodeJS.ProcessEnv = {
          ...cliEnv,
          ...dbEnvFromOptions(opts),
          PORT: opts.port,
          HOST: opts.host,
          RUSHHOUR_WORKERS: opts.workers,
          ...(opts.ssmPrefix ? { RUSHHOUR_SSM_PREFIX: opts.ssmPrefix } : {}),
          ...(opts.migrate ? { RUSHHOUR_MIGRATE: 'true' } : {}),
        };
        // Cluster workers re-run this CLI with the same arguments and inherit its environment, so each
        // worker derives the same settings itself: nothing is handed over through process.env.
        await main(env);
      },
    );
}
