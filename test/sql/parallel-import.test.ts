import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';
import { connectWithRetry } from '../../src/sql/connect';
import { bufferDumpSource } from '../../src/sql/dump-source';
import { DeferredIndexError, StatementError } from '../../src/sql/import-errors';
import { importDump, ImportOptions } from '../../src/sql/importer';
import { splitAll } from '../../src/sql/splitter';
import { buildFixtureSchema, describeDatabase, dumpDatabase, sliceToEnd } from './fixture';

const PASSWORD = `pw-${process.pid}-${Date.now()}`;
const CLI = path.join(__dirname, '../../bin/rushhour.js');

describe('parallel importDump (4 connections) against MariaDB', () => {
  let db: LocalMariaDb;
  let dump: Buffer;
  let expected: Record<string, string[]>;
  const target = (database: string) => ({ host: db.host, port: db.port, user: 'master', password: PASSWORD, database });
  const run = (database: string, data: Buffer, extra: Partial<ImportOptions> = {}) =>
    importDump({
      source: bufferDumpSource(data),
      target: target(database),
      dumpHash: 'fixture',
      connections: 4,
      ...extra,
    });
  const clientImport = (database: string, data: Buffer) => {
    db.sql(`CREATE DATABASE ${database}`);
    execFileSync('mariadb', [...db.clientArgs, database], { input: data, maxBuffer: 1 << 30 });
    return describeDatabase(db, database);
  };
  const unitRows = (database: string, where: string) =>
    Number(db.sql(`SELECT COUNT(*) FROM ${database}.rushhour_import_units WHERE ${where}`).trim());

  beforeAll(async () => {
    db = await startMariaDb();
    db.createRdsLikeMaster('master', PASSWORD);
    buildFixtureSchema(db, 'origin', 400);
    dump = dumpDatabase(db, 'origin', ['--net-buffer-length=16384']);
    expected = clientImport('cli', dump);
  });
  afterAll(() => db?.stop());

  test('imports to the same rows, CREATE TABLEs (indexes, foreign keys) and objects as the mysql client', async () => {
    const logs: string[] = [];
    const result = await run('full', zlib.gzipSync(dump), { log: (m) => logs.push(m), batchStatements: 3 });
    expect(result.complete).toBe(true);
    expect(result.offset).toBe(dump.length);
    expect(describeDatabase(db, 'full')).toEqual(expected);
    expect(expected.schemas.join('\n')).toMatch(
      /UNIQUE KEY `code`[\s\S]*CONSTRAINT `registrations_ibfk_1` FOREIGN KEY/,
    );
    expect(logs.join('\n')).toMatch(/import complete on 4 connections/);
    // The record of units is gone with the import complete; the progress row says complete at the dump's end.
    expect(unitRows('full', '1')).toBe(0);
    expect(db.sql('SELECT status, committed_offset FROM full.rushhour_import_progress').trim()).toBe(
      `complete\t${dump.length}`,
    );
    // The same statement count as the sequential import.
    const sequential = await run('seq', dump, { connections: 1 });
    expect(result.statements).toBe(sequential.statements);
  });

  test('sliced by a zero time budget: every slice does one unit, the slices add up to one uninterrupted run', async () => {
    const { result, runs, executed } = await sliceToEnd(
      () => run('sliced', dump, { timeBudgetMs: 0, batchStatements: 10 }),
      400,
      () => expect(db.sql('SELECT status FROM sliced.rushhour_import_progress').trim()).toBe('running'),
    );
    expect(result.complete).toBe(true);
    expect(runs).toBeGreaterThan(10);
    expect(describeDatabase(db, 'sliced')).toEqual(expected);
    const single = await run('single', dump, { batchStatements: 10 });
    expect(executed).toBe(single.statementsThisRun);
  }, 180_000);

  test('slices of a third of an uninterrupted run on 4 connections: several units per slice, the ones running at the budget finished and recorded', async () => {
    // The budget from this machine's own speed: a fixed 100 ms became one slice once the import got faster.
    const t0 = Date.now();
    expect((await run('timedfull', dump, { batchStatements: 2 })).complete).toBe(true);
    const budget = Math.max(20, Math.floor((Date.now() - t0) / 3));
    const { result, runs, most } = await sliceToEnd(
      () => run('timed', dump, { timeBudgetMs: budget, batchStatements: 2 }),
      200,
    );
    expect(result.complete).toBe(true);
    expect(runs).toBeGreaterThan(1);
    expect(most).toBeGreaterThan(4);
    expect(describeDatabase(db, 'timed')).toEqual(expected);
    console.log(`uninterrupted ${budget * 3} ms; ${runs} slices of ${budget} ms, at most ${most} statements in one`);
  }, 120_000);

  test('a deferred ALTER a crash may have applied is not applied twice; one it did not apply is applied', async () => {
    // Slices until the first deferred index ALTER is recorded done, the import not complete yet.
    let result;
    do result = await run('deferred', dump, { timeBudgetMs: 0, batchStatements: 50 });
    while (!result.complete && unitRows('deferred', "kind = 'indexes' AND status = 'done'") === 0);
    expect(result.complete).toBe(false);
    // Crash after the ALTER committed, before its record said so:
    db.sql("UPDATE deferred.rushhour_import_units SET status = 'pending' WHERE kind = 'indexes'");
    const logs: string[] = [];
    await run('deferred', dump, { timeBudgetMs: 0, batchStatements: 50, log: (m) => logs.push(m) });
    expect(logs.join('\n')).toMatch(/deferred indexes exist already \(added before the last run stopped\)/);
    // Crash before the ALTER ran (pending, index missing): on the one table that has its indexes now.
    const table = db
      .sql(
        "SELECT table_name FROM information_schema.statistics WHERE table_schema = 'deferred' AND index_name = 'code'",
      )
      .trim();
    expect(table).toBe('courses');
    db.sql('ALTER TABLE deferred.courses DROP INDEX code');
    db.sql("UPDATE deferred.rushhour_import_units SET status = 'pending' WHERE kind = 'indexes'");
    do result = await run('deferred', dump, { timeBudgetMs: 0, batchStatements: 50 });
    while (!result.complete);
    expect(describeDatabase(db, 'deferred')).toEqual(expected);
  }, 120_000);

  test('a failing statement inside a chunk is named exactly; fixed in place, the import resumes to the same result', async () => {
    const inserts = splitAll(dump).filter((st) => st.sql.toString().startsWith('INSERT INTO `students`'));
    expect(inserts.length).toBeGreaterThan(5);
    const victim = inserts[4];
    const broken = Buffer.concat([
      dump.subarray(0, victim.startOffset),
      Buffer.from('INSERT INTO `studentz`'),
      dump.subarray(victim.startOffset + 'INSERT INTO `students`'.length),
    ]);
    const err = await run('chunkfail', broken, { dumpHash: 'c', batchStatements: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StatementError);
    expect((err as StatementError).offset).toBe(victim.startOffset);
    expect((err as Error).message).toMatch(/ER_NO_SUCH_TABLE \(1146\).*studentz/);
    expect((err as Error).message).not.toMatch(/student 1 /);
    expect(db.sql('SELECT status FROM chunkfail.rushhour_import_progress').trim()).toBe('failed');
    expect((await run('chunkfail', dump, { dumpHash: 'c', batchStatements: 3 })).complete).toBe(true);
    expect(describeDatabase(db, 'chunkfail')).toEqual(expected);
  });

  test("a killed run's chunk still running on the server when the next run sends it again is not applied twice", async () => {
    // Slices until the students table exists; then one of its INSERTs (one chunk each: batchStatements 1) is
    // sent as a killed run's connection would have: its units row and rows in a transaction not yet committed.
    let result;
    do result = await run('zombie', dump, { timeBudgetMs: 0, batchStatements: 1 });
    while (
      db
        .sql("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'zombie' AND table_name = 'students'")
        .trim() !== '1'
    );
    expect(result.complete).toBe(false);
    const inserts = splitAll(dump).filter((st) => st.sql.toString().startsWith('INSERT INTO `students`'));
    const victim = inserts[inserts.length - 1];
    const zombie = await connectWithRetry(target('zombie'));
    try {
      await zombie.query(
        "USE zombie; SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', unique_checks = 0, foreign_key_checks = 0",
      );
      await zombie.query(
        `START TRANSACTION; INSERT INTO rushhour_import_units (dump_hash, kind, start_offset, end_offset, statements, status) VALUES ('fixture', 'data', ${victim.startOffset}, ${victim.endOffset}, 1, 'done'); ${victim.sql.toString('latin1')}`,
      );
      const logs: string[] = [];
      const resumed = run('zombie', dump, { batchStatements: 1, log: (m) => logs.push(m) });
      await new Promise((r) => setTimeout(r, 1500)); // the resume reaches the chunk and waits on the row's lock
      await zombie.query('COMMIT');
      expect((await resumed).complete).toBe(true);
      expect(logs.join('\n')).toMatch(
        new RegExp(`chunk at byte ${victim.startOffset} was committed by an earlier run`),
      );
    } finally {
      await zombie.end();
    }
    expect(describeDatabase(db, 'zombie')).toEqual(expected);
  });

  test('a UNIQUE key with duplicate values fails with the table and index named; fixing the rows and resuming adds it', async () => {
    db.sql(`CREATE DATABASE duporigin; USE duporigin;
      CREATE TABLE people (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL, name VARCHAR(50), KEY email (email), KEY name (name)) ENGINE=InnoDB;
      INSERT INTO people VALUES (1, 'a@example.org', 'A'), (2, 'b@example.org', 'B'), (3, 'a@example.org', 'C'), (4, 'd@example.org', 'D');`);
    const text = dumpDatabase(db, 'duporigin').toString('latin1');
    expect(text).toContain('  KEY `email` (`email`),');
    const dupDump = Buffer.from(text.replace('  KEY `email` (`email`),', '  UNIQUE KEY `email` (`email`),'), 'latin1');
    const err = await run('dup', dupDump, { dumpHash: 'dup' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeferredIndexError);
    const e = err as DeferredIndexError;
    expect(e.name).toBe('DeferredIndexError');
    expect(e.table).toBe('people');
    expect(e.indexes).toEqual(['email']);
    expect(e.errno).toBe(1062);
    expect(e.message).toMatch(/deferred index "email" to table "people" failed: ER_DUP_ENTRY \(1062\)/);
    expect(e.message).not.toContain('a@example.org'); // no row data in the message
    expect(db.sql('SELECT status FROM dup.rushhour_import_progress').trim()).toBe('failed');
    expect(db.sql('SELECT COUNT(*) FROM dup.people').trim()).toBe('4'); // the data is in
    db.sql('DELETE FROM dup.people WHERE id = 3');
    expect((await run('dup', dupDump, { dumpHash: 'dup' })).complete).toBe(true);
    expect(db.sql('SHOW CREATE TABLE dup.people')).toMatch(
      /UNIQUE KEY `email` \(`email`\),\\n {2}KEY `name` \(`name`\)/,
    );
  });

  test('tables without a primary key, an AUTO_INCREMENT not first in the key, FULLTEXT; UPDATE and INSERT ... SELECT: as the client imports them', async () => {
    db.sql(`CREATE DATABASE odd; USE odd;
      CREATE TABLE nopk (a INT NOT NULL, b VARCHAR(20), c INT, UNIQUE KEY ua (a), KEY kb (b)) ENGINE=InnoDB;
      CREATE TABLE ai (x INT NOT NULL, id INT NOT NULL AUTO_INCREMENT, v VARCHAR(10), PRIMARY KEY (x, id), KEY id (id), KEY v (v)) ENGINE=InnoDB;
      CREATE TABLE ft (id INT PRIMARY KEY, body TEXT, tag VARCHAR(10), FULLTEXT KEY body (body), KEY tag (tag)) ENGINE=InnoDB;
      INSERT INTO nopk SELECT seq, CONCAT('b', seq % 7), seq FROM seq_1_to_3000;
      INSERT INTO ai (x, v) SELECT seq % 5, CONCAT('v', seq) FROM seq_1_to_2000;
      INSERT INTO ft SELECT seq, CONCAT('lorem ipsum ', seq), CONCAT('t', seq % 3) FROM seq_1_to_500;`);
    // Data statements that are not chunks (UPDATE, INSERT ... SELECT): barriers, each in a transaction with its record.
    const dml =
      "UPDATE ai SET v = CONCAT(v, '!') WHERE x = 1;\nINSERT INTO ft SELECT id + 1000, body, tag FROM ft WHERE id <= 10;\n";
    const text = dumpDatabase(db, 'odd', ['--net-buffer-length=16384']).toString('latin1');
    const oddDump = Buffer.from(text.replace(/\n-- Dump completed/, `\n${dml}-- Dump completed`), 'latin1');
    const oddExpected = clientImport('oddcli', oddDump);
    expect(oddExpected.checksums).not.toEqual(describeDatabase(db, 'odd').checksums);
    expect((await run('oddpar', oddDump, { dumpHash: 'odd', batchStatements: 2 })).complete).toBe(true);
    expect(describeDatabase(db, 'oddpar')).toEqual(oddExpected);
    let result;
    do result = await run('oddsliced', oddDump, { dumpHash: 'odd', batchStatements: 2, timeBudgetMs: 0 });
    while (!result.complete);
    expect(describeDatabase(db, 'oddsliced')).toEqual(oddExpected);
  });

  test('a sequential import continues in parallel, and a parallel one stays parallel with one connection', async () => {
    const stmts = splitAll(dump);
    let result;
    do result = await run('mixed', dump, { connections: 1, timeBudgetMs: 0, batchStatements: 3 });
    while (result.offset < dump.length / 3);
    expect(result.complete).toBe(false);
    do result = await run('mixed', dump, { timeBudgetMs: 0, batchStatements: 3 });
    while (result.offset < (dump.length * 2) / 3 && !result.complete);
    expect(unitRows('mixed', "kind = 'begin'")).toBe(1);
    result = await run('mixed', dump, { connections: 1 });
    expect(result.complete).toBe(true);
    expect(describeDatabase(db, 'mixed')).toEqual(expected);
    expect(result.statements).toBeGreaterThanOrEqual(stmts.length);
  }, 120_000);

  describe('killed (SIGKILL) at points across data, deferred indexes and objects, resumed', () => {
    let dir: string;
    let big: Buffer;
    let file: string;
    let bigExpected: Record<string, string[]>;
    const env = () => ({ ...process.env, MYSQL_PWD: PASSWORD });
    const cli = (database: string) => [
      '--dump',
      file,
      '--host',
      db.host,
      '--port',
      String(db.port),
      '--user',
      'master',
      '--database',
      database,
      '--connections',
      '4',
      '--no-progress',
    ];
    const start = (database: string) =>
      spawn(process.execPath, [CLI, 'import-dump', ...cli(database)], { env: env(), stdio: 'ignore' });
    const exited = (child: ChildProcess) =>
      child.exitCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve));
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    /** A number from the server; 0 while the import has not created the table the query reads. */
    const count = (sql: string, table?: string) =>
      table &&
      db
        .sql(
          `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'crashed' AND table_name = '${table}'`,
        )
        .trim() !== '1'
        ? 0
        : Number(db.sql(sql).trim() || '0');
    /** Runs an import and kills it when `when` holds (polled); false when it finished first. */
    async function killWhen(database: string, when: () => boolean): Promise<boolean> {
      const child = start(database);
      while (child.exitCode === null && !when()) await sleep(3);
      const killed = child.exitCode === null;
      child.kill('SIGKILL');
      await exited(child);
      return killed;
    }

    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-parallel-test-'));
      buildFixtureSchema(db, 'bigorigin', 8000, 11);
      // An index over the table with the photos: a deferred ALTER long enough (tens of ms) to be killed inside.
      db.sql('ALTER TABLE bigorigin.students ADD KEY name_note (name, note(200))');
      big = dumpDatabase(db, 'bigorigin', ['--net-buffer-length=65536']);
      file = path.join(dir, 'big.sql.gz');
      fs.writeFileSync(file, zlib.gzipSync(big));
      bigExpected = clientImport('bigcli', big);
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    test('at chosen points: mid-data, inside a deferred ALTER, among the objects', async () => {
      const hit: string[] = [];
      const students = () => count('SELECT COUNT(*) FROM crashed.students', 'students');
      if (await killWhen('crashed', () => students() > 0)) hit.push(`data (${students()} of 8000 students)`);
      expect(db.sql('SELECT status FROM crashed.rushhour_import_progress').trim()).toBe('running');
      const inAlter = () =>
        count(
          "SELECT COUNT(*) FROM information_schema.processlist WHERE user = 'master' AND info LIKE 'ALTER TABLE%ADD%'",
        ) > 0 ||
        count(
          "SELECT COUNT(*) FROM crashed.rushhour_import_units WHERE kind IN ('indexes', 'fks') AND status = 'pending'",
          'rushhour_import_units',
        ) > 0;
      if (await killWhen('crashed', inAlter)) hit.push('deferred ALTER');
      const objects = () =>
        count("SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = 'crashed'") > 0 ||
        count("SELECT COUNT(*) FROM information_schema.events WHERE event_schema = 'crashed'") > 0;
      if (await killWhen('crashed', objects)) hit.push('objects');
      execFileSync(process.execPath, [CLI, 'resume-import', ...cli('crashed')], { env: env(), stdio: 'pipe' });
      expect(describeDatabase(db, 'crashed')).toEqual(bigExpected);
      expect(db.sql('SELECT status, committed_offset FROM crashed.rushhour_import_progress').trim()).toBe(
        `complete\t${big.length}`,
      );
      // The data kill always lands (the table fills for seconds); the other two windows are short: reported.
      expect(hit[0]).toMatch(/^data/);
      console.log(`killed during: ${hit.join(', ')}`);
    }, 240_000);

    test('at random points (4 kills), then resumed', async () => {
      const t0 = Date.now();
      execFileSync(process.execPath, [CLI, 'import-dump', ...cli('uninterrupted')], { env: env(), stdio: 'pipe' });
      const full = Date.now() - t0;
      expect(describeDatabase(db, 'uninterrupted')).toEqual(bigExpected);
      const points: string[] = [];
      for (let k = 0; k < 4; k++) {
        const at = Math.round(full * (0.1 + 0.6 * Math.random()));
        const child = start('random');
        await Promise.race([sleep(at), exited(child)]);
        const killed = child.exitCode === null;
        child.kill('SIGKILL');
        await exited(child);
        if (!killed) {
          // It finished on its own: only a clean exit is acceptable.
          expect(child.exitCode).toBe(0);
          break;
        }
        points.push(`${at} ms`);
      }
      console.log(`uninterrupted ${full} ms; killed at ${points.join(', ') || 'none (each run finished first)'}`);
      expect(points.length).toBeGreaterThan(0);
      execFileSync(process.execPath, [CLI, 'resume-import', ...cli('random')], { env: env(), stdio: 'pipe' });
      expect(describeDatabase(db, 'random')).toEqual(bigExpected);
    }, 300_000);
  });
});
