import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { parseProperties } from '../../lambda/import-dump/handler';
import { ConfigError, parseConfig } from '../../lib/config';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';
import { DumpRefusedError } from '../../src/sql/dump-check';
import { buildFixtureSchema, describeDatabase, dumpDatabase } from '../sql/fixture';
import { cli, cliTarget, databaseExists, importer, MASTER_PASSWORD, tablesOf } from './support';

const EXAMPLE_CONFIG = path.join(__dirname, '../../examples/rushhour.config.json');

/**
 * Issue 16 item 1: a dump loads into its one database. Statements that touch accounts, privileges,
 * system schemas or another database are refused before any statement of the dump runs.
 */
describe('hostile dumps: privilege and cross-database statements', () => {
  let db: LocalMariaDb;
  let dump: Buffer;
  const run = importer(() => db);
  const accounts = () => db.sql("SELECT CONCAT(user, '@', host) FROM mysql.user ORDER BY 1").trim();

  /** The real dump with `sql` just before its trailer: the refusal must come before the dump's first statement runs. */
  const withAtEnd = (sql: string) => {
    const at = dump.lastIndexOf('\n-- Dump completed');
    expect(at).toBeGreaterThan(0);
    const text = Buffer.concat([dump.subarray(0, at + 1), Buffer.from(sql + '\n'), dump.subarray(at + 1)]);
    // The offset of its first statement (after a DELIMITER line, if any).
    return { data: text, offset: at + 1 + (sql.startsWith('DELIMITER') ? sql.indexOf('\n') + 1 : 0) };
  };

  beforeAll(async () => {
    db = await startMariaDb();
    db.createRdsLikeMaster('master', MASTER_PASSWORD);
    db.createUser('rushhour_app', 'app-pw', 'SELECT ON *.*');
    buildFixtureSchema(db, 'origin', 50);
    dump = dumpDatabase(db, 'origin');
    db.sql('CREATE DATABASE victim; CREATE TABLE victim.t (id INT PRIMARY KEY); INSERT INTO victim.t VALUES (1);');
  });
  afterAll(() => db?.stop());

  const cases: Array<[string, string, string]> = [
    [
      "CREATE USER 'intruder'@'%' IDENTIFIED BY 'intruder-pw';\nGRANT ALL PRIVILEGES ON *.* TO 'intruder'@'%' WITH GRANT OPTION;",
      'account',
      'CREATE USER',
    ],
    ["ALTER USER 'master'@'127.0.0.1' IDENTIFIED BY 'broken';", 'account', 'ALTER USER'],
    ["DROP USER 'rushhour_app'@'127.0.0.1';", 'account', 'DROP USER'],
    ['DROP DATABASE victim;', 'other-database', 'DROP DATABASE victim'],
    ['DROP DATABASE mysql;', 'system-schema', 'DROP DATABASE mysql'],
    [
      "INSERT INTO mysql.db (Host, Db, User, Select_priv) VALUES ('%', 'victim', 'intruder', 'Y');",
      'system-schema',
      'mysql.db',
    ],
    ['INSERT INTO `victim`.`t` VALUES (2);', 'other-database', '`victim`.`t`'],
    ['CREATE TABLE loot AS SELECT * FROM mysql.user;', 'system-schema', 'mysql.user'],
    ['/*!40101 SET GLOBAL max_connections = 5 */;', 'global-setting', 'SET GLOBAL max_connections'],
    [
      "DELIMITER ;;\nCREATE PROCEDURE later() BEGIN GRANT ALL ON *.* TO 'x'@'%'; END ;;\nDELIMITER ;",
      'privilege',
      'GRANT',
    ],
    ["INSTALL SONAME 'ha_connect';", 'plugin', 'INSTALL SONAME'],
    ["SELECT * FROM courses INTO OUTFILE '/tmp/loot.txt';", 'file-access', 'INTO OUTFILE'],
  ];

  test.each(cases)('refused before anything runs: %s', async (sql, kind, what) => {
    const database = `t_${kind.replace(/-/g, '_')}_${cases.findIndex((c) => c[0] === sql)}`;
    const before = accounts();
    const { data, offset } = withAtEnd(sql);
    const logs: string[] = [];
    const err = await run(database, data, { logs }).catch((e) => e);
    expect(err).toBeInstanceOf(DumpRefusedError);
    expect(err.name).toBe('DumpRefusedError');
    expect(err.message).toContain(`${kind}: ${what} at byte offset ${offset}`);
    expect(err.refusals[0]).toMatchObject({ kind, offset });
    expect(err.message).toMatch(/none of the dump's statements ran/);
    expect(logs.join('\n')).toContain(`refused (${kind}): ${what} at byte ${offset}`);
    // Nothing of the dump ran: not its tables (which come before the hostile statement), not the statement.
    expect(tablesOf(db, database)).toEqual([]);
    expect(accounts()).toBe(before);
    expect(db.sql('SELECT COUNT(*) FROM victim.t').trim()).toBe('1');
    expect(databaseExists(db, 'mysql')).toBe(true);
    expect(db.sql("SELECT COUNT(*) FROM mysql.db WHERE user='intruder'").trim()).toBe('0');
    expect(db.sql('SELECT @@GLOBAL.max_connections').trim()).toBe('500');
    // No progress record either, so a corrected dump imports without --allow-reimport.
    expect(db.sql(`SELECT COUNT(*) FROM \`${database}\`.rushhour_import_progress`).trim()).toBe('0');
    expect((await run(database, dump, { dumpHash: 'fixed' })).complete).toBe(true);
  });

  test('every refused statement is listed, with its kind and byte offset; a password in it is not', async () => {
    const { data } = withAtEnd(cases.map((c) => c[0]).join('\n'));
    const logs: string[] = [];
    const err = await run('all_at_once', data, { logs }).catch((e) => e);
    expect(err).toBeInstanceOf(DumpRefusedError);
    const kinds = new Set(err.refusals.map((r: { kind: string }) => r.kind));
    expect([...kinds].sort()).toEqual([...new Set(cases.map((c) => c[1]))].sort());
    expect(err.message).toMatch(/--allow-statements [a-z,-]+/);
    expect(err.message + logs.join('\n')).not.toMatch(/intruder-pw|broken/);
  });

  test('an operator can allow a named kind: it runs, and the log says so', async () => {
    const { data } = withAtEnd("CREATE USER IF NOT EXISTS 'reporter'@'localhost' IDENTIFIED BY 'reporter-pw';");
    const logs: string[] = [];
    // Allowing another kind is not enough.
    await expect(run('allowed', data, { allowStatements: ['privilege'] })).rejects.toThrow(DumpRefusedError);
    const result = await run('allowed', data, { allowStatements: ['account'], logs });
    expect(result.complete).toBe(true);
    expect(db.sql("SELECT COUNT(*) FROM mysql.user WHERE user='reporter'").trim()).toBe('1');
    expect(logs.join('\n')).toMatch(/allowed by the operator \(account\): CREATE USER at byte \d+/);
    expect(logs.join('\n')).not.toContain('reporter-pw');
  });

  test('the allowed kinds are validated: CLI flag, config field and custom resource property', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-hostile-'));
    try {
      const file = path.join(dir, 'd.sql');
      fs.writeFileSync(file, dump);
      const r = cli(['import-dump', '--dump', file, ...cliTarget(db, 'flag'), '--allow-statements', 'account,bogus']);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(
        /--allow-statements: unknown statement kind "bogus": allowed kinds are account, privilege/,
      );
      expect(databaseExists(db, 'flag')).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const config = JSON.parse(JSON.stringify(require(EXAMPLE_CONFIG)));
    config.import.allowStatements = ['grants'];
    expect(() => parseConfig(config, { baseDir: path.dirname(EXAMPLE_CONFIG), source: 'test.json' })).toThrow(
      ConfigError,
    );
    expect(() => parseConfig(config, { baseDir: path.dirname(EXAMPLE_CONFIG), source: 'test.json' })).toThrow(
      /import\.allowStatements.*unknown statement kind "grants"/s,
    );
    const props = {
      DumpBucket: 'b',
      DumpKey: 'k',
      DumpAssetHash: 'h',
      MasterSecretArn: 'm',
      AppSecretArn: 'a',
      DatabaseName: 'db',
      SsmPrefix: '/rushhour/site/db',
    };
    expect(parseProperties({ ...props, AllowStatements: 'account,privilege' }).AllowStatements).toEqual([
      'account',
      'privilege',
    ]);
    expect(parseProperties(props).AllowStatements).toEqual([]);
    expect(() => parseProperties({ ...props, AllowStatements: 'root' })).toThrow(/unknown statement kind "root"/);
  });

  describe("mysqldump's normal output still imports", () => {
    test('--databases --add-drop-database of the same database (CREATE DATABASE, USE, DROP DATABASE of it)', async () => {
      buildFixtureSchema(db, 'samedb', 30, 3);
      const own = dumpDatabase(db, 'samedb', ['--databases', '--add-drop-database']);
      expect(own.toString()).toMatch(/DROP DATABASE IF EXISTS `samedb`/);
      expect(own.toString()).toMatch(/CREATE DATABASE .*`samedb`/);
      expect(own.toString()).toMatch(/USE `samedb`/);
      const expected = describeDatabase(db, 'samedb');
      db.sql('DROP DATABASE samedb');
      const logs: string[] = [];
      expect((await run('samedb', own, { logs })).complete).toBe(true);
      expect(describeDatabase(db, 'samedb')).toEqual(expected);
      expect(logs.join('\n')).toMatch(/dropped: DROP DATABASE of the target database/);
    });

    test('a --databases dump of another database is refused up front, saying so', async () => {
      const other = dumpDatabase(db, 'origin', ['--databases']);
      const err = await run('elsewhere', other).catch((e) => e);
      expect(err).toBeInstanceOf(DumpRefusedError);
      expect(err.message).toMatch(/other-database: CREATE DATABASE `origin`/);
      expect(err.message).toMatch(/other-database: USE `origin`/);
      expect(err.message).toMatch(/without --databases/);
      expect(tablesOf(db, 'elsewhere')).toEqual([]);
    });

    test('the example dump (routines, triggers, DEFINERs, sandbox line) imports', async () => {
      const example = zlib.gunzipSync(fs.readFileSync(path.join(__dirname, '../../examples/course-selection.sql.gz')));
      const logs: string[] = [];
      expect((await run('example', example, { logs })).complete).toBe(true);
      expect(logs.join('\n')).toMatch(/nothing refused/);
      expect(Number(db.sql('SELECT COUNT(*) FROM example.courses').trim())).toBe(43);
    });
  });
});
