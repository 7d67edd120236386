import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ChildProcess } from 'node:child_process';
import { freePort } from './ports';
import { requireTool, spawnOwned, stopProcess, waitUntilListening } from './process';

const INSTALL = 'apt-get install -y --no-install-recommends mariadb-server mariadb-client';

/**
 * A private MariaDB server on a free loopback port with its own datadir; used by tests, benchmarks and the rehearsal.
 */
export interface LocalMariaDb {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly socket: string;
  readonly dir: string;
  /** The server's process id (tests stop and continue it to play a hung database). */
  readonly pid: number;
  /** Root over the socket: `mariadb --no-defaults --socket=... -uroot`. */
  readonly clientArgs: string[];
  /** Runs SQL as root through the `mariadb` client and returns its tab-separated output. */
  sql(statements: string, database?: string): string;
  /** Creates a TCP user with a password and the given privileges (default: ALL on *.*). */
  createUser(user: string, password: string, privileges?: string, options?: { withGrantOption?: boolean }): void;
  /** Creates a master user like RDS's: `RDS_LIKE_MASTER_PRIVILEGES` with grant option, no SUPER. */
  createRdsLikeMaster(user: string, password: string): void;
  /** Stops the server; removes its directory too when `startMariaDb` created it, unless `keepData`. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

export interface StartMariaDbOptions {
  /** Directory for datadir, socket and logs. @default a new temp directory */
  readonly dir?: string;
  /** Extra server options, e.g. ['--innodb-buffer-pool-size=256M']. */
  readonly serverArgs?: string[];
  /** Port to listen on. @default a free port */
  readonly port?: number;
  /** Remove `dir` on stop. @default true when `dir` is not given (a temp directory made here) */
  readonly removeDirOnStop?: boolean;
}

export async function startMariaDb(options: StartMariaDbOptions = {}): Promise<LocalMariaDb> {
  const installDb = requireTool('mariadb-install-db', INSTALL);
  const server = requireTool('mariadbd', INSTALL);
  const client = requireTool('mariadb', INSTALL);
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-mariadb-'));
  const datadir = path.join(dir, 'data');
  const socket = path.join(dir, 'mysqld.sock');
  const user = os.userInfo().username;
  // A private tmpdir: servers of parallel tests and sessions otherwise collide on /tmp/#sql-temptable-* files.
  const tmpdir = path.join(dir, 'tmp');
  fs.mkdirSync(tmpdir, { recursive: true });
  if (!fs.existsSync(path.join(datadir, 'mysql'))) {
    execFileSync(
      installDb,
      [
        '--no-defaults',
        `--user=${user}`,
        `--datadir=${datadir}`,
        `--tmpdir=${tmpdir}`,
        '--skip-test-db',
        '--auth-root-authentication-method=socket',
      ],
      { stdio: 'pipe' },
    );
  }
  const port = options.port ?? (await freePort());
  const child: ChildProcess = spawnOwned(server, [
    '--no-defaults',
    `--user=${user}`,
    `--datadir=${datadir}`,
    `--socket=${socket}`,
    `--pid-file=${path.join(dir, 'mysqld.pid')}`,
    `--tmpdir=${tmpdir}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--log-error=${path.join(dir, 'error.log')}`,
    '--skip-name-resolve',
    '--max-allowed-packet=1G',
    '--innodb-buffer-pool-size=256M',
    '--innodb-flush-log-at-trx-commit=2',
    '--character-set-server=utf8mb4',
    '--collation-server=utf8mb4_unicode_ci',
    '--event-scheduler=OFF',
    '--max-connections=500',
    ...(options.serverArgs ?? []),
  ]);
  await waitUntilListening(child, port, 'mariadbd', 60000).catch((err) => {
    const log = fs.existsSync(path.join(dir, 'error.log'))
      ? fs.readFileSync(path.join(dir, 'error.log'), 'utf8').slice(-2000)
      : '';
    throw new Error(`MariaDB did not start: ${err.message}\n${log}`);
  });
  const clientArgs = ['--no-defaults', `--socket=${socket}`, '-uroot', '--default-character-set=utf8mb4'];
  function createUser(
    name: string,
    password: string,
    privileges = 'ALL PRIVILEGES ON *.*',
    opts: { withGrantOption?: boolean } = {},
  ): void {
    const q = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
    const grantOption = opts.withGrantOption ? ' WITH GRANT OPTION' : '';
    for (const host of ['127.0.0.1', 'localhost']) {
      sql(`CREATE USER IF NOT EXISTS ${q(name)}@'${host}' IDENTIFIED BY ${q(password)};
           GRANT ${privileges} TO ${q(name)}@'${host}'${grantOption};`);
    }
  }
  const sql = (statements: string, database?: string) =>
    execFileSync(client, [...clientArgs, '--batch', '--skip-column-names', ...(database ? [database] : [])], {
      input: statements,
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
  return {
    host: '127.0.0.1',
    port,
    socket,
    dir,
    pid: child.pid!,
    clientArgs,
    sql,
    createUser,
    createRdsLikeMaster: (name, password) =>
      createUser(name, password, RDS_LIKE_MASTER_PRIVILEGES, { withGrantOption: true }),
    async stop(stopOptions = {}) {
      await stopProcess(child, 20000);
      if ((options.removeDirOnStop ?? options.dir === undefined) && !stopOptions.keepData)
        fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Privileges like RDS's master user: everything a schema owner needs, but no SUPER, FILE or SHUTDOWN,
 * so code that works against this also works against RDS.
 */
export const RDS_LIKE_MASTER_PRIVILEGES =
  'SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX, ALTER, SHOW DATABASES, ' +
  'CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION SLAVE, REPLICATION CLIENT, CREATE VIEW, SHOW VIEW, ' +
  'CREATE ROUTINE, ALTER ROUTINE, CREATE USER, EVENT, TRIGGER ON *.*';
