import { Command } from 'commander';
import { pullDb } from '../../origin/pull-db';
import { sshEnvironment } from '../../ssh/origin';
import { DEFAULT_STATE_FILE } from '../../state/state-file';
import type { CliEnv } from '../env';
import { addOriginOptions } from '../origin-options';

export function register(program: Command, env: CliEnv): void {
  addOriginOptions(program.command('pull-db'))
    .description(
      "Dump the origin's database over SSH (consistent snapshot, compressed on the origin), verified by sha256 on both ends",
    )
    .requiredOption('--database <name>', 'database to dump')
    .option('--out <dir>', 'where to write <database>.sql.gz and <database>.checksums.json', '.')
    .option('--state-file <file>', 'local state file', DEFAULT_STATE_FILE)
    .option('--restart', 'start over instead of resuming an interrupted pull')
    .action(async (opts) => {
      await pullDb({ ...opts, sshEnv: sshEnvironment(env, Boolean(process.stdin.isTTY)) });
    });
}
