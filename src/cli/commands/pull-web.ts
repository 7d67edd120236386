import { Command } from 'commander';
import { pullWeb } from '../../origin/pull-web';
import type { CliEnv } from '../env';
import { cliSshEnvironment, originCommand, restartOption, stateFileOption } from '../origin-options';
import { integerAtLeast } from '../../util/options';

export function register(program: Command, env: CliEnv): void {
  originCommand(
    program,
    'pull-web',
    "Fetch the origin's web directory (its contents at the archive root, excludes applied, vetted) over SFTP as one tar.gz, verified by sha256 on both ends, resumable",
  )
    .requiredOption('--path <dir>', "the site's directory on the origin, e.g. /var/www/site")
    .option('--out <dir>', 'where to write <dir>.tar.gz', '.')
    .option(
      '--exclude <pattern>',
      "leave out matching paths (gitignore-like; repeatable; after the site's .rushhourignore; .git is left out by default)",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .addOption(stateFileOption())
    .option('--retries <n>', 'retries after a lost connection or a mismatch', integerAtLeast('--retries', 0), 5)
    .addOption(restartOption('pull'))
    .action(async (opts) => {
      await pullWeb({ ...opts, sshEnv: cliSshEnvironment(env) });
    });
}
