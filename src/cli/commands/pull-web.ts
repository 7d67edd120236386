import { Command } from 'commander';
import { pullWeb } from '../../origin/pull-web';
import { sshEnvironment } from '../../ssh/origin';
import { DEFAULT_STATE_FILE } from '../../state/state-file';
import type { CliEnv } from '../env';
import { addOriginOptions } from '../origin-options';
import { integerAtLeast } from '../../util/options';

export function register(program: Command, env: CliEnv): void {
  addOriginOptions(program.command('pull-web'))
    .description(
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
    .option('--state-file <file>', 'local state file', DEFAULT_STATE_FILE)
    .option('--retries <n>', 'retries after a lost connection or a mismatch', integerAtLeast('--retries', 0), 5)
    .option('--restart', 'start over instead of resuming an interrupted pull')
    .action(async (opts) => {
      await pullWeb({ ...opts, sshEnv: sshEnvironment(env, Boolean(process.stdin.isTTY)) });
    });
}
