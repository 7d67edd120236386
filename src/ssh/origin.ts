import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { OWN_TABLES } from '../../lib/contracts';
import { quoteIdent } from '../util/sql-ident';
import { SshError } from './errors';
import { HostKeyPolicy } from './host-keys';
import { parseOrigin, remoteCommandError, shq, SshSession, SshTarget } from './session';

/** The origin options shared by pull-db, pull-web and sync-back (the CLI's flags: src/cli/origin-options.ts). */
export interface OriginOptions {
  readonly origin: string;
  readonly knownHosts?: string;
  readonly hostKeyFingerprint?: string;
  readonly identity?: string;
  /** File holding the identity's passphrase. */
  readonly identityPassphraseFile?: string;
  /** Option file on the origin for its mysql/mysqldump (credentials stay on the origin). */
  readonly originMyCnf?: string;
  readonly mysqlBin?: string;
  readonly mysqldumpBin?: string;
  /** What the login takes from the operator's environment; the CLI passes sshEnvironment(env). @default none */
  readonly sshEnv?: SshEnvironment;
}

/** The parts of the operator's environment an SSH login uses, as plain values. */
export interface SshEnvironment {
  /** $HOME, for the default ~/.ssh/known_hosts. */
  readonly home?: string;
  /** RUSHHOUR_SSH_PASSPHRASE: the identity's passphrase when no passphrase file is given. */
  readonly passphrase?: string;
  /** SSH_AUTH_SOCK: the agent used when no identity is given. */
  readonly agentSocket?: string;
  /** Whether a passphrase may be asked for on the terminal. */
  readonly interactive?: boolean;
}

/** The SshEnvironment from an environment (the CLI entry's). */
export function sshEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  interactive: boolean,
): SshEnvironment {
  return {
    home: env.HOME,
    passphrase: env.RUSHHOUR_SSH_PASSPHRASE,
    agentSocket: env.SSH_AUTH_SOCK,
    interactive,
  };
}

export function sshTarget(o: OriginOptions): SshTarget {
  const { username, host, port } = parseOrigin(o.origin);
  const env = o.sshEnv ?? {};
  if (o.knownHosts && o.hostKeyFingerprint)
    throw new SshError('local-setup', 'give either --known-hosts or --host-key-fingerprint, not both');
  let hostKey: HostKeyPolicy;
  if (o.hostKeyFingerprint) hostKey = { fingerprint: o.hostKeyFingerprint };
  else if (o.knownHosts) hostKey = { knownHostsFile: o.knownHosts };
  else {
    const dflt = `${env.home}/.ssh/known_hosts`;
    if (!env.home || !fs.existsSync(dflt))
      throw new SshError(
        'local-setup',
        "the origin's host key must be verified: pass --known-hosts FILE or --host-key-fingerprint SHA256:...",
      );
    hostKey = { knownHostsFile: dflt };
  }
  const passphrase = o.identityPassphraseFile
    ? fs.readFileSync(o.identityPassphraseFile, 'utf8').replace(/\r?\n$/, '')
    : env.passphrase;
  return {
    username,
    host,
    port,
    hostKey,
    identityFile: o.identity,
    passphrase,
    askPassphrase: env.interactive ? () => promptHidden(`passphrase for ${o.identity}: `) : undefined,
    agentSocket: env.agentSocket,
  };
}

/** Reads a line from the terminal without echoing it. */
export function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    let answer = '';
    stdin.setRawMode?.(true);
    stdin.resume();
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          resolve(answer);
          return;
        }
        if (ch === '\u0003') {
          done();
          reject(new Error('cancelled'));
          return;
        }
        if (ch === '\u007f') answer = answer.slice(0, -1);
        else answer += ch;
      }
    };
    const done = () => {
      stdin.removeListener('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

/** `mysql`/`mysqldump` on the origin with the origin's own option file; the option file must come first. */
export function originClient(o: OriginOptions, which: 'mysql' | 'mysqldump'): string {
  const bin = which === 'mysql' ? (o.mysqlBin ?? 'mysql') : (o.mysqldumpBin ?? 'mysqldump');
  return [shq(bin), ...(o.originMyCnf ? [`--defaults-extra-file=${shq(o.originMyCnf)}`] : [])].join(' ');
}

export interface TableStat {
  readonly checksum: string | null;
  readonly rows: number;
}

const sqlString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** `CHECKSUM TABLE` and `COUNT(*)` of every base table of `database` on the origin, through its mysql client. */
export async function originTableStats(
  session: SshSession,
  o: OriginOptions,
  database: string,
): Promise<Record<string, TableStat>> {
  const mysql = `${originClient(o, 'mysql')} --batch --skip-column-names --raw`;
  const list = await session.run(
    `${mysql} -e ${shq(`SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ${sqlString(database)} AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME`)}`,
    "listing the origin's tables",
  );
  const tables = list.split('\n').filter((t) => t && !OWN_TABLES.test(t));
  const stats: Record<string, TableStat> = {};
  if (tables.length === 0) return stats;
  const sql =
    `CHECKSUM TABLE ${tables.map((t) => `${quoteIdent(database)}.${quoteIdent(t)}`).join(', ')};\n` +
    tables
      .map(
        (t) => `SELECT ${sqlString('#rows')}, ${sqlString(t)}, COUNT(*) FROM ${quoteIdent(database)}.${quoteIdent(t)};`,
      )
      .join('\n');
  const r = await session.exec(mysql, { stdin: Readable.from([sql]) });
  if (r.code !== 0)
    throw remoteCommandError(
      'CHECKSUM TABLE',
      r,
      session.where,
      `CHECKSUM TABLE on the origin failed (exit ${r.code ?? r.signal}): ${r.stderr.trim()}`,
    );
  const out = r.stdoutText;
  const checksums: Record<string, string | null> = {};
  const rows: Record<string, number> = {};
  for (const line of out.split('\n').filter(Boolean)) {
    const f = line.split('\t');
    if (f[0] === '#rows') rows[f[1]] = Number(f[2]);
    else checksums[f[0].slice(database.length + 1)] = f[1] === 'NULL' ? null : f[1];
  }
  for (const t of tables) stats[t] = { checksum: checksums[t] ?? null, rows: rows[t] ?? 0 };
  return stats;
}

/** Tables whose checksum or row count differ between two snapshots (and tables only on one side). */
export function diffStats(a: Record<string, TableStat>, b: Record<string, TableStat>): string[] {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...names].sort().filter((t) => !a[t] || !b[t] || a[t].checksum !== b[t].checksum || a[t].rows !== b[t].rows);
}
