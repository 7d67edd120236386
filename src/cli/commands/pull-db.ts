import { Command } from 'commander';
import { pullDb } from '../../origin/pull-db';
import type { CliEnv } from '../env';
import { cliSshEnvironment, originCommand, restartOption, stateFileOption } from '../origin-options';

export function register(program: Command, env: CliEnv): void {
  originCommand(
    program,
    'pull-db',
    "Dump the origin's database over SSH (consistent snapshot, compressed on the origin), verified by sha256 on both ends",
  )
    .requiredOption('--database <name>', 'database to dump')
    .option('--out <dir>', 'where to write <database>.sql.gz and <database>.checksums.json', '.')
    .addOption(stateFileOption())
    .addOption(restartOption('pull'))
    .action(async (opts) => {
      await pullDb({ ...opts, sshEnv: cliSshEnvironment(env) });
    });
}
