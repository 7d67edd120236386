import { Command } from 'commander';
import { formatVerify, parseEndpoint, verifyDatabases } from '../../verify/endpoint';
import { integerAtLeast } from '../../util/options';
import type { CliEnv } from '../env';

/** Exit codes: 0 identical, 2 differs (index.ts turns a thrown error into 1). */
export const VERIFY_EXIT = { identical: 0, differs: 2 } as const;

export function register(program: Command, env: CliEnv): void {
  program
    .command('verify-data')
    .description(
      'Compare two databases row by row (read-only, one snapshot per side): exit 0 identical, 2 differs (the keys are printed), 1 on error',
    )
    .requiredOption('--left <host:port/db>', 'first database (sync-back: the origin); password from LEFT_MYSQL_PWD')
    .requiredOption('--right <host:port/db>', 'second database (sync-back: the cloud); password from RIGHT_MYSQL_PWD')
    .requiredOption('--user <user>', 'login on both sides (or only the left with --right-user)')
    .option('--right-user <user>', 'login on the right side')
    .option('--tables <t,...>', 'only these tables (default: every base table except rushhour_* bookkeeping)')
    .option('--chunk-size <rows>', 'rows per checksum chunk', integerAtLeast('--chunk-size', 1), 1000)
    .option(
      '--pause-ms <ms>',
      'pause between chunks, to bound the load on a busy server',
      integerAtLeast('--pause-ms', 0),
      0,
    )
    .option(
      '--limit <n>',
      'differing keys printed per table and kind (all of them with --json)',
      integerAtLeast('--limit', 1),
      20,
    )
    .option('--json', 'print the full result as JSON')
    .action(async (opts) => {
      const result = await verifyDatabases({
        left: { ...parseEndpoint(opts.left), user: opts.user, password: env.LEFT_MYSQL_PWD ?? '' },
        right: {
          ...parseEndpoint(opts.right),
          user: opts.rightUser ?? opts.user,
          password: env.RIGHT_MYSQL_PWD ?? '',
        },
        tables: opts.tables ? String(opts.tables).split(',').filter(Boolean) : undefined,
        chunkSize: Number(opts.chunkSize),
        pauseMs: Number(opts.pauseMs),
      });
      console.log(opts.json ? JSON.stringify(result, null, 2) : formatVerify(result, Number(opts.limit)));
      process.exitCode = result.identical ? VERIFY_EXIT.identical : VERIFY_EXIT.differs;
    });
}
