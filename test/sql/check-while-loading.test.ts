import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';
import { bufferDumpSource } from '../../src/sql/dump-source';
import { DumpRefusedError, DumpUnreadableError, IncompleteDumpError, isDumpVerdict } from '../../src/sql/dump-check';
import { importDump, ImportOptions } from '../../src/sql/importer';
import { UncheckedImportRemovalError } from '../../src/sql/unchecked-import';
import { splitAll } from '../../src/sql/splitter';
import { buildFixtureSchema, describeDatabase, dumpDatabase, sliceToEnd } from './fixture';

const PASSWORD = `pw-check-${process.pid}-${Date.now()}`;
const CLI = path.join(__dirname, '../../bin/rushhour.js');

/**
 * Issue 18: a parallel import into an empty database checks the dump while it loads (no pre-pass). No
 * refused statement ever runs, and a dump refused, cut or unreadable only at its end leaves the database
 * empty again, also when the run that loaded part of it was killed and the next run finds the fault.
 */
describe('parallel import into an empty database: checked while loading', () => {
  let db: LocalMariaDb;
  let dump: Buffer;
  let expected: Record<string, string[]>;
  const target = (database: string) => ({ host: db.host, port: db.port, user: 'master', password: PASSWORD, database });
  const run = (database: string, data: Buffer, extra: Partial<ImportOptions> & { logs?: string[] } = {}) => {
    const { logs, ...rest } = extra;
    return importDump({
      source: bufferDumpSource(data),
      target: target(database),
      dumpHash: `hash-${database}`,
      connections: 4,
      log: (m) => logs?.push(m),
      ...rest,
    });
  };
  /** Every table, view, routine and event of the database but the import's record. */
  const objects = (database: string) =>
    db
      .sql(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = '${database}' AND table_name NOT LIKE 'rushhour_import_%'` +
          ` UNION ALL SELECT routine_name FROM information_schema.routines WHERE routine_schema = '${database}'` +
          ` UNION ALL SELECT event_name FROM information_schema.events WHERE event_schema = '${database}'`,
      )
      .split('\n')
      .filter(Boolean);
  const progressRows = (database: string) =>
    Number(db.sql(`SELECT COUNT(*) FROM ${database}.rushhour_import_progress`).trim());
  /** The dump with `sql` put in just before its completion trailer (after all data and objects). */
  const withBeforeTrailer = (sql: string) => {
    const at = dump.lastIndexOf('-- Dump completed');
    return Buffer.concat([dump.subarray(0, at), Buffer.from(sql), dump.subarray(at)]);
  };
  const userExists = (name: string) => db.sql(`SELECT COUNT(*) FROM mysql.user WHERE user = '${name}'`).trim() !== '0';

  beforeAll(async () => {
    db = await startMariaDb();
    db.createRdsLikeMaster('master', PASSWORD);
    buildFixtureSchema(db, 'origin', 400);
    dump = dumpDatabase(db, 'origin', ['--net-buffer-length=16384']);
    db.sql('CREATE DATABASE reference');
    await run('reference', dump, { connections: 1 });
    expected = describeDatabase(db, 'reference');
  });
  afterAll(() => db?.stop());

  test('a good dump: no pre-pass, checked while loading, the same database as the sequential import', async () => {
    const logs: string[] = [];
    expect((await run('good', dump, { logs })).complete).toBe(true);
    expect(describeDatabase(db, 'good')).toEqual(expected);
    const text = logs.join('\n');
    expect(text).toMatch(/"good" is empty: checking .* while it loads/);
    expect(text).toMatch(/checked .* while loading it: \d+ statements, \d+ bytes, trailer "-- Dump completed/);
    expect(text).not.toMatch(/before importing/);
  });

  test('a statement refused at the end: it never runs, everything loaded before it is removed, every refusal is listed', async () => {
    const logs: string[] = [];
    const hostile = withBeforeTrailer(
      "CREATE USER 'intruder_mid'@'%' IDENTIFIED BY 'x';\nINSERT INTO mysql.db (Host, Db, User) VALUES ('%', 'x', 'intruder_mid');\n",
    );
    const err = await run('refused', hostile, { logs }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DumpRefusedError);
    expect(isDumpVerdict(err)).toBe(true);
    const refused = err as DumpRefusedError;
    expect(refused.refusals.map((r) => r.kind)).toEqual(['account', 'system-schema']);
    expect(refused.message).toMatch(/none of them ran, and what had run before them is removed again/);
    expect(userExists('intruder_mid')).toBe(false);
    // The data loaded before the check got there (the whole fixture) is gone, and so is the record.
    expect(logs.join('\n')).toMatch(/removed what was loaded before the check found the dump unfit \(\d+ tables/);
    expect(objects('refused')).toEqual([]);
    expect(progressRows('refused')).toBe(0);
    // Nothing blocks the corrected dump (no "holds an import of another dump").
    expect((await run('refused', dump, { dumpHash: 'corrected' })).complete).toBe(true);
    expect(describeDatabase(db, 'refused')).toEqual(expected);
  });

  test('when removing fails (no DROP privilege), the error says both and the next run of the dump removes it', async () => {
    // A dump without DROP TABLE statements, loaded by a user who may create but not drop.
    const noDrops = dumpDatabase(db, 'origin', ['--net-buffer-length=16384', '--skip-add-drop-table']);
    const at = noDrops.lastIndexOf('-- Dump completed');
    const hostile = Buffer.concat([
      noDrops.subarray(0, at),
      Buffer.from("GRANT ALL ON *.* TO 'nodrop_x'@'%';\n"),
      noDrops.subarray(at),
    ]);
    const privileges =
      'SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, REFERENCES, CREATE VIEW, SHOW VIEW, TRIGGER, CREATE ROUTINE, ALTER ROUTINE, EVENT, EXECUTE, LOCK TABLES, CREATE TEMPORARY TABLES';
    db.createUser('nodrop', PASSWORD, `${privileges} ON *.*`);
    const err = await run('undroppable', hostile, { target: { ...target('undroppable'), user: 'nodrop' } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UncheckedImportRemovalError);
    expect((err as UncheckedImportRemovalError).verdict).toBeInstanceOf(DumpRefusedError);
    expect((err as Error).message).toMatch(
      /GRANT[\s\S]*Removing what was loaded before the check got there failed too \(.*DROP command denied/,
    );
    expect(objects('undroppable').length).toBeGreaterThan(0);
    expect(db.sql("SELECT status FROM undroppable.rushhour_import_units WHERE kind = 'check'").trim()).toBe('pending');
    // The next run of the same dump, by a user who may drop: the pre-pass first, then the removal.
    const again = await run('undroppable', hostile).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(DumpRefusedError);
    expect(objects('undroppable')).toEqual([]);
    expect(progressRows('undroppable')).toBe(0);
  });

  test('a dump cut at a line end (no trailer) and a truncated .sql.gz: removed again', async () => {
    const inserts = splitAll(dump).filter((s) => s.sql.toString().startsWith('INSERT INTO `students`'));
    const cut = dump.subarray(0, inserts[Math.floor(inserts.length / 2)].endOffset + 1);
    const err = await run('cut', cut).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IncompleteDumpError);
    expect((err as Error).message).toMatch(/does not end with the completion line.*is removed again/);
    expect(objects('cut')).toEqual([]);
    expect(progressRows('cut')).toBe(0);

    const gz = zlib.gzipSync(dump);
    const err2 = await run('cutgz', gz.subarray(0, Math.floor(gz.length * 0.8))).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(DumpUnreadableError);
    expect((err2 as Error).message).toMatch(
      /gzip stream ends early .*truncated.*found while importing|gzip stream ends early.*is removed again/,
    );
    expect(objects('cutgz')).toEqual([]);
  });

  test('a database that is not empty, or statements the operator allows: the pre-pass, as before', async () => {
    db.sql(
      'CREATE DATABASE notempty; CREATE TABLE notempty.keepme (id INT PRIMARY KEY); INSERT INTO notempty.keepme VALUES (1)',
    );
    const logs: string[] = [];
    const err = await run('notempty', withBeforeTrailer("DROP USER 'nobody_here'@'%';\n"), { logs }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DumpRefusedError);
    expect((err as Error).message).toMatch(/none of the dump's statements ran/);
    expect(logs.join('\n')).not.toMatch(/while it loads/);
    // Found before anything ran: the table that was there is untouched, no table of the dump came in.
    expect(objects('notempty')).toEqual(['keepme']);

    const allowedLogs: string[] = [];
    const allowed = withBeforeTrailer("CREATE USER IF NOT EXISTS 'allowed_user'@'%' IDENTIFIED BY 'x';\n");
    expect((await run('allowed', allowed, { logs: allowedLogs, allowStatements: ['account'] })).complete).toBe(true);
    expect(allowedLogs.join('\n')).toMatch(/checked .* before importing/);
    expect(userExists('allowed_user')).toBe(true);
  });

  test('sliced (time budget 0): the first slice runs before the check is done; the next slice checks first and removes it', async () => {
    const cut = withBeforeTrailer("GRANT ALL ON *.* TO 'slice_intruder'@'%';\n");
    // The first slice runs one unit (the dump's first DROP/CREATE) and leaves the check pending.
    expect((await run('sliced', cut, { timeBudgetMs: 0 })).complete).toBe(false);
    expect(db.sql("SELECT status FROM sliced.rushhour_import_units WHERE kind = 'check'").trim()).toBe('pending');
    const logs: string[] = [];
    const err = await run('sliced', cut, { timeBudgetMs: 0, logs }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DumpRefusedError);
    expect((err as Error).message).toMatch(/what had run before them is removed again/);
    expect(logs.join('\n')).toMatch(/removed what was loaded/);
    expect(objects('sliced')).toEqual([]);
    expect(progressRows('sliced')).toBe(0);

    // A good dump sliced the same way: the second slice's pre-pass passes, and the slices finish the import.
    const { result: res, runs: slices } = await sliceToEnd(() => run('slicedgood', dump, { timeBudgetMs: 0 }), 10_000);
    expect(res.complete).toBe(true);
    expect(slices).toBeGreaterThan(2);
    expect(describeDatabase(db, 'slicedgood')).toEqual(expected);
  }, 180_000);

  test("a resume whose read of the dump fails (a dropped connection, not a verdict) keeps the earlier run's work", async () => {
    expect((await run('dropped', dump, { timeBudgetMs: 0 })).complete).toBe(false);
    expect(db.sql("SELECT status FROM dropped.rushhour_import_units WHERE kind = 'check'").trim()).toBe('pending');
    const before = db.sql('SELECT COUNT(*) FROM dropped.rushhour_import_units').trim();
    // The source delivers half the dump, then the stream fails as a dropped S3 connection does.
    const dropping = {
      description: 's3://bucket/dump.sql',
      gzip: false,
      size: dump.length,
      open: async () =>
        new Readable({
          read() {
            this.push(dump.subarray(0, dump.length >> 1));
            this.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
          },
        }),
    };
    const err = await importDump({
      source: dropping,
      target: target('dropped'),
      dumpHash: 'hash-dropped',
      connections: 4,
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/ECONNRESET/);
    expect(isDumpVerdict(err)).toBe(false);
    // Nothing removed: the earlier slice's work and the pending check are still there.
    expect(db.sql("SELECT status FROM dropped.rushhour_import_units WHERE kind = 'check'").trim()).toBe('pending');
    expect(db.sql('SELECT COUNT(*) FROM dropped.rushhour_import_units').trim()).toBe(before);
    expect(progressRows('dropped')).toBe(1);
    // The source back: the check passes and the import finishes where it was.
    expect((await run('dropped', dump)).complete).toBe(true);
    expect(describeDatabase(db, 'dropped')).toEqual(expected);
  });

  test('killed (SIGKILL) while loading a cut dump: resume-import finds the cut and removes what the killed run loaded', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-check-while-'));
    try {
      buildFixtureSchema(db, 'bigorigin', 8000, 11);
      const big = dumpDatabase(db, 'bigorigin', ['--net-buffer-length=65536']);
      const file = path.join(dir, 'cut.sql.gz');
      // Cut after the last INSERT: the trailer and the objects after the data are missing.
      const lastInsert = splitAll(big)
        .filter((s) => s.sql.toString().startsWith('INSERT INTO'))
        .pop()!;
      fs.writeFileSync(file, zlib.gzipSync(big.subarray(0, lastInsert.endOffset + 1)));
      const args = (command: string) => [
        CLI,
        command,
        ...['--dump', file, '--host', db.host, '--port', String(db.port), '--user', 'master'],
        ...['--database', 'killed', '--connections', '4', '--no-progress'],
      ];
      const env = { ...process.env, MYSQL_PWD: PASSWORD };
      const child: ChildProcess = spawn(process.execPath, args('import-dump'), { env, stdio: 'ignore' });
      const students = () =>
        db
          .sql(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'killed' AND table_name = 'students'",
          )
          .trim() === '1'
          ? Number(db.sql('SELECT COUNT(*) FROM killed.students').trim())
          : 0;
      while (child.exitCode === null && students() === 0) await new Promise((r) => setTimeout(r, 3));
      const killedMidway = child.exitCode === null;
      child.kill('SIGKILL');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
      // The kill has to land while loading for this test to say anything (the load takes seconds).
      expect(killedMidway).toBe(true);
      expect(students()).toBeGreaterThan(0);
      expect(db.sql("SELECT status FROM killed.rushhour_import_units WHERE kind = 'check'").trim()).toBe('pending');

      const resumed = spawnSync(process.execPath, args('resume-import'), { env, encoding: 'utf8', timeout: 120_000 });
      expect(resumed.status).toBe(1);
      expect(resumed.stderr).toMatch(/does not end with the completion line/);
      expect(objects('killed')).toEqual([]);
      expect(progressRows('killed')).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
