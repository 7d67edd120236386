import { Command } from 'commander';

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
