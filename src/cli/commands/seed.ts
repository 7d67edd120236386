import { Command } from 'commander';
import { resolveDbConfig } from '../../../app/config';
import { createPool, seed } from '../../../app/db';
import { dbEnvFromOptions, DbFlags } from '../db-flags';
import { integerAtLeast } from '../../util/options';
import type { CliEnv } from '../env';

/** `rushhour seed`: migrate the reference schema and load deterministic courses and students. */
export function register(program: Command, env: CliEnv): void {
  program
    .command('seed')
    .description(
      'Create the reference schema and load courses and students. DB from DB_HOST/DB_PORT/DB_USER/DB_PASSWORD/DB_NAME, the --db-* flags, or --ssm-prefix.',
    )
    .option('--courses <n>', 'number of courses', integerAtLeast('--courses', 1), 43)
    .option('--students <n>', 'number of students', integerAtLeast('--students', 0), 500)
    .option('--seats <n>', 'seats in every course (default: 20 to 120, varying)', integerAtLeast('--seats', 1))
    .option('--reset', 'replace existing courses, students and registrations')
    .option('--ssm-prefix <prefix>', 'read the DB settings from SSM under this prefix')
    .option('--db-host <host>', 'database host (overrides DB_HOST)')
    .option('--db-port <port>', 'database port (overrides DB_PORT)')
    .option('--db-user <user>', 'database user (overrides DB_USER); the password comes only from DB_PASSWORD')
    .option('--db-name <name>', 'database name (overrides DB_NAME)')
    .action(
      async (
        opts: DbFlags & { courses: number; students: number; seats?: number; reset?: boolean; ssmPrefix?: string },
      ) => {
        const db = await resolveDbConfig({
          ...env,
          ...dbEnvFromOptions(opts),
          ...(opts.ssmPrefix ? { RUSHHOUR_SSM_PREFIX: opts.ssmPrefix } : {}),
        });
        const pool = createPool(db, { size: 1, queueLimit: 10, timeoutMs: 10000 });
        try {
          const out = await seed(pool, {
            courses: opts.courses,
            students: opts.students,
            seats: opts.seats,
            reset: opts.reset,
          });
          console.log(
            `seeded ${db.database} on ${db.host}:${db.port}: ${out.courses} courses, ${out.students} students`,
          );
        } finally {
          await pool.end();
        }
      },
    );
}
