import { Command, Option } from 'commander';
import { SshEnvironment, sshEnvironment } from '../ssh/origin';
import { DEFAULT_STATE_FILE } from '../state/state-file';
import type { CliEnv } from './env';

/** The origin options shared by pull-db, pull-web and sync-back (they fill OriginOptions in src/ssh/origin.ts). */
export function addOriginOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--origin <user@host[:port]>', 'SSH login of the origin server')
    .option('--known-hosts <file>', "known_hosts file holding the origin's host key")
    .option('--host-key-fingerprint <SHA256:...>', 'pinned host key fingerprint, as `ssh-keygen -lf` prints it')
    .option('--identity <keyfile>', 'private key for the SSH login; the SSH agent when absent')
    .option(
      '--identity-passphrase-file <file>',
      "file holding the key's passphrase (or set RUSHHOUR_SSH_PASSPHRASE, or be asked on a terminal)",
    )
    .option(
      '--origin-my-cnf <remote-file>',
      "option file ON THE ORIGIN with the DB login for mysql/mysqldump (e.g. ~/.my.cnf); the origin's defaults when absent",
    )
    .option('--mysql-bin <name>', 'mysql client on the origin', 'mysql')
    .option('--mysqldump-bin <name>', 'mysqldump on the origin', 'mysqldump');
}

/** A command that works on the origin over SSH: `program`'s subcommand `name`, with the origin options. */
export function originCommand(program: Command, name: string, description: string): Command {
  return addOriginOptions(program.command(name)).description(description);
}

/** `--state-file`: where the origin operations record what they did (status reads it, a resume starts from it). */
export function stateFileOption(): Option {
  return new Option('--state-file <file>', 'local state file').default(DEFAULT_STATE_FILE);
}

/** `--restart`: forget the interrupted run (`what`: "pull", "sync-back") recorded in the state file. */
export function restartOption(what: string): Option {
  return new Option('--restart', `start over instead of resuming an interrupted ${what}`);
}

/** What an SSH login from the CLI takes from the operator: the environment, and a terminal to ask on if any. */
export function cliSshEnvironment(env: CliEnv): SshEnvironment {
  return sshEnvironment(env, Boolean(process.stdin.isTTY));
}
