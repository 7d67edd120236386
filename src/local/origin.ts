import * as fs from 'node:fs';
import * as path from 'node:path';
import type { OriginOptions } from '../ssh/origin';
import { LocalMariaDb } from './mariadb';
import { LocalSshd } from './sshd';

/**
 * The operator CLI's origin options for a local "origin": the sshd login with its pinned known_hosts
 * and key, and an option file on the origin (in the database's directory) that lets its mysql and
 * mysqldump in as root over the socket, so no DB credential crosses the SSH connection.
 */
export function localOriginOptions(sshd: LocalSshd, db: LocalMariaDb): OriginOptions {
  const originMyCnf = path.join(db.dir, 'origin.cnf');
  fs.writeFileSync(originMyCnf, `[client]\nsocket=${db.socket}\nuser=root\n`, { mode: 0o600 });
  return {
    origin: `${sshd.username}@127.0.0.1:${sshd.port}`,
    knownHosts: sshd.knownHostsPath,
    identity: sshd.privateKeyPath,
    originMyCnf,
  };
}
