import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';
import { bufferDumpSource } from '../../src/sql/dump-source';
import { DumpUnreadableError } from '../../src/sql/dump-check';
import { importDump, ImportOptions, ReimportRefusedError, StatementError } from '../../src/sql/importer';
import { splitAll } from '../../src/sql/splitter';
import { buildFixtureSchema, describeDatabase, dumpDatabase, sliceToEnd } from './fixture';

const PASSWORD = `pw-${process.pid}-${Date.now()}`;

describe('importDump against MariaDB (RDS-like master user, no SUPER)', () => {
  let db: LocalMariaDb;
  let dump: Buffer;
  let expected: Record<string, string[]>;
  const target = (database: string) => ({ host: db.host, port: db.port, user: 'master', password: PASSWORD, database });
  const run = (database: string, data: Buffer, extra: Partial<ImportOptions> = {}) =>
    importDump({ source: bufferDumpSource(data), target: target(database), dumpHash: 'fixture', ...extra });

  beforeAll(async () => {
    db = await startMariaDb();
    db.createRdsLikeMaster('master', PASSWORD);
    buildFixtureSchema(db, 'origin', 400);
    // A small net buffer makes mysqldump write many extended INSERTs: more statements to stop between.
    dump = dumpDatabase(db, 'origin', ['--net-buffer-length=16384']);
    db.sql('CREATE DATABASE cli');
    execFileSync('mariadb', [...db.clientArgs, 'cli'], { input: dump });
    expected = describeDatabase(db, 'cli');
  });
  afterAll(() => db?.stop());

  test('the dump (gzip) imports to the same tables, views, triggers, routines and events as the mysql client', async () => {
    expect(describeDatabase(db, 'origin')).toEqual(expected); // the CLI's import is itself faithful
    const logs: string[] = [];
    const result = await run('full', zlib.gzipSync(dump), { log: (m) => logs.push(m) });
    expect(result.complete).toBe(true);
    expect(result.offset).toBe(dump.length);
    expect(describeDatabase(db, 'full')).toEqual(expected);
    expect(expected.checksums.length).toBe(5);
    expect(expected.triggers.length).toBe(2);
    expect(expected.routines.length).toBe(2);
    expect(logs.join('\n')).toMatch(/rds rewrite: rewritten: DEFINER clause removed x6/);
    // utf8mb4 and binary survived byte for byte.
    expect(db.sql("SELECT HEX(title) FROM full.courses WHERE code='C7'")).toBe(
      db.sql("SELECT HEX(title) FROM origin.courses WHERE code='C7'"),
    );
    expect(db.sql('SELECT MD5(GROUP_CONCAT(MD5(photo) ORDER BY id)) FROM full.students')).toBe(
      db.sql('SELECT MD5(GROUP_CONCAT(MD5(photo) ORDER BY id)) FROM origin.students'),
    );
  });

  test('--hex-blob dumps import the same', async () => {
    const hexDump = dumpDatabase(db, 'origin', ['--hex-blob']);
    expect((await run('hexblob', hexDump)).complete).toBe(true);
    expect(describeDatabase(db, 'hexblob')).toEqual(expected);
  });

  test('sliced by a zero time budget: stops many times, resumes, same result, every statement applied once', async () => {
    const { result, runs, executed } = await sliceToEnd(
      () => run('sliced', dump, { timeBudgetMs: 0, batchStatements: 3 }),
      500,
      () => expect(db.sql('SELECT status FROM sliced.rushhour_import_progress').trim()).toBe('running'),
    );
    expect(result.complete).toBe(true);
    expect(runs).toBeGreaterThan(10);
    expect(describeDatabase(db, 'sliced')).toEqual(expected);
    // Each run executed what it reported; together exactly the statements of one uninterrupted run.
    const single = await run('single', dump);
    expect(executed).toBe(single.statementsThisRun);
    expect(result.statements).toBe(splitAll(dump).length);
  });

  test('a run killed mid-import (SIGKILL) resumes to the same result', async () => {
    const bigDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-import-test-'));
    try {
      buildFixtureSchema(db, 'bigorigin', 8000, 11);
      const big = dumpDatabase(db, 'bigorigin', ['--net-buffer-length=65536']);
      const file = path.join(bigDir, 'big.sql.gz');
      fs.writeFileSync(file, zlib.gzipSync(big));
      const cli = [
        '--dump',
        file,
        '--host',
        db.host,
        '--port',
        String(db.port),
        '--user',
        'master',
        '--database',
        'crashed',
        '--no-progress',
      ];
      const env = { ...process.env, MYSQL_PWD: PASSWORD };
      const child = spawn(process.execPath, [path.join(__dirname, '../../bin/rushhour.js'), 'import-dump', ...cli], {
        env,
        stdio: 'ignore',
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // Kill it while it is loading the last (largest) table: some of its rows committed, not all.
      const deadline = Date.now() + 60000;
      let rows = 0;
      while (Date.now() < deadline && child.exitCode === null) {
        const exists =
          db
            .sql(
              "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='crashed' AND table_name='students'",
            )
            .trim() === '1';
        rows = exists ? Number(db.sql('SELECT COUNT(*) FROM crashed.students').trim()) : 0;
        if (rows > 0) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      child.kill('SIGKILL');
      await exited;
      expect(rows).toBeGreaterThan(0);
      expect(rows).toBeLessThan(8000);
      const status = db.sql('SELECT status, committed_offset FROM crashed.rushhour_import_progress').trim().split('\t');
      expect(status[0]).toBe('running');
      expect(Number(status[1])).toBeLessThan(big.length);
      // Resume through the CLI, like an operator would.
      execFileSync(process.execPath, [path.join(__dirname, '../../bin/rushhour.js'), 'resume-import', ...cli], {
        env,
        stdio: 'pipe',
      });
      const bigExpected = describeDatabase(db, 'bigorigin');
      expect(describeDatabase(db, 'crashed')).toEqual(bigExpected);
      expect(db.sql('SELECT status, committed_offset FROM crashed.rushhour_import_progress').trim()).toBe(
        `complete\t${big.length}`,
      );
    } finally {
      fs.rmSync(bigDir, { recursive: true, force: true });
    }
  }, 180_000);

  test('a DDL statement a crash may have applied is not applied twice (pending mark)', async () => {
    const stmts = splitAll(dump);
    const create = stmts.find((s) => s.sql.toString().startsWith('CREATE TABLE `courses`'))!;
    // Import up to and including CREATE TABLE `courses`, then pretend the process died after the server ran it
    // but before the progress record moved past it.
    const upTo = dump.subarray(0, create.endOffset);
    await run('pending', upTo, { dumpHash: 'pending-test', allowIncompleteDump: true });
    db.sql(
      `UPDATE pending.rushhour_import_progress SET status='running', committed_offset=${create.startOffset - 1}, pending_offset=${create.startOffset}`,
    );
    // The committed offset must be a statement end: use the previous statement's end.
    const prev = stmts[stmts.indexOf(create) - 1];
    db.sql(
      `UPDATE pending.rushhour_import_progress SET committed_offset=${prev.endOffset}, statements_done=${stmts.indexOf(create)}`,
    );
    const logs: string[] = [];
    const result = await run('pending', dump, { dumpHash: 'pending-test', log: (m) => logs.push(m) });
    expect(result.complete).toBe(true);
    expect(logs.join('\n')).toMatch(
      new RegExp(`statement at byte ${create.startOffset} was applied before the last run stopped`),
    );
    expect(describeDatabase(db, 'pending')).toEqual(expected);

    // Without the pending mark the same situation is an error: the mark is what makes the re-run safe.
    db.sql(
      `UPDATE pending.rushhour_import_progress SET status='running', committed_offset=${prev.endOffset}, pending_offset=NULL`,
    );
    db.sql('DELETE FROM pending.audit');
    await expect(run('pending', dump, { dumpHash: 'pending-test' })).rejects.toThrow(/already exists/);
  });

  test('same dump again is a no-op; a different dump is refused unless re-import is allowed', async () => {
    await run('reimport', dump, { dumpHash: 'first' });
    db.sql("UPDATE reimport.courses SET taken = 7 WHERE code = 'C1'"); // a registration made since the import
    const again = await run('reimport', dump, { dumpHash: 'first' });
    expect(again.alreadyComplete).toBe(true);
    expect(db.sql("SELECT taken FROM reimport.courses WHERE code='C1'").trim()).toBe('7');
    await expect(run('reimport', dump, { dumpHash: 'second' })).rejects.toThrow(ReimportRefusedError);
    await expect(run('reimport', dump, { dumpHash: 'second' })).rejects.toThrow(/allowReimport/);
    expect(db.sql("SELECT taken FROM reimport.courses WHERE code='C1'").trim()).toBe('7');
    expect((await run('reimport', dump, { dumpHash: 'second', allowReimport: true })).complete).toBe(true);
    expect(describeDatabase(db, 'reimport')).toEqual(expected);
  });

  test('a syntax error names the byte offset and the server message, keeps the progress, and resumes after the fix', async () => {
    const stmts = splitAll(dump);
    const victim = stmts.find((s) => s.sql.toString().startsWith('CREATE TABLE `registrations`'))!;
    const broken = Buffer.concat([
      dump.subarray(0, victim.startOffset),
      Buffer.from('CREATE TABEL'),
      dump.subarray(victim.startOffset + 'CREATE TABLE'.length),
    ]);
    const err = await run('broken', broken, { dumpHash: 'broken' }).catch((e) => e);
    expect(err).toBeInstanceOf(StatementError);
    expect(err.offset).toBe(victim.startOffset);
    expect(err.message).toMatch(
      new RegExp(`byte offset ${victim.startOffset} \\(line \\d+\\).*ER_PARSE_ERROR \\(1064\\).*SQL syntax`),
    );
    expect(err.message).toContain('statement: CREATE TABEL `registrations`');
    const row = db
      .sql('SELECT status, committed_offset, error FROM broken.rushhour_import_progress')
      .trim()
      .split('\t');
    expect(row[0]).toBe('failed');
    expect(Number(row[1])).toBeLessThanOrEqual(victim.startOffset);
    expect(row[2]).toMatch(/ER_PARSE_ERROR/);
    // Fix the statement (same length, same offsets) and run again: it resumes and completes.
    expect((await run('broken', dump, { dumpHash: 'broken' })).complete).toBe(true);
    expect(describeDatabase(db, 'broken')).toEqual(expected);
  });

  test('a failing data statement inside a batch is named exactly; the ones before it are committed', async () => {
    const stmts = splitAll(dump);
    const inserts = stmts.filter((s) => s.sql.toString().startsWith('INSERT INTO `students`'));
    expect(inserts.length).toBeGreaterThan(3);
    const victim = inserts[2];
    const broken = Buffer.concat([
      dump.subarray(0, victim.startOffset),
      Buffer.from('INSERT INTO `studentz`'),
      dump.subarray(victim.startOffset + 'INSERT INTO `students`'.length),
    ]);
    const err = await run('batchfail', broken, { dumpHash: 'b' }).catch((e) => e);
    expect(err).toBeInstanceOf(StatementError);
    expect(err.offset).toBe(victim.startOffset);
    expect(err.message).toMatch(/ER_NO_SUCH_TABLE \(1146\).*studentz/);
    expect(err.message).not.toMatch(/student 1 /); // no row data in the message
    expect(db.sql('SELECT committed_offset FROM batchfail.rushhour_import_progress').trim()).toBe(
      String(inserts[1].endOffset),
    );
  });

  test('resuming with a different (shorter) file under the same record is refused, not silently completed', async () => {
    let result;
    do result = await run('other', dump, { dumpHash: 'o', timeBudgetMs: 0 });
    while (!result.complete && result.offset < dump.length / 2);
    expect(result.complete).toBe(false);
    await expect(run('other', dump.subarray(0, Math.floor(result.offset / 2)), { dumpHash: 'o' })).rejects.toThrow(
      /is this the same dump|not the one the progress record was made with|truncated/,
    );
  });

  test('a truncated gzip is refused before anything runs; the complete file (another hash) then imports', async () => {
    const gz = zlib.gzipSync(dump);
    const err = await run('truncated', gz.subarray(0, Math.floor(gz.length * 0.6)), { dumpHash: 't' }).catch((e) => e);
    expect(err).toBeInstanceOf(DumpUnreadableError);
    expect(err.message).toMatch(/gzip stream ends early.*truncated.*nothing was imported/);
    // The pre-pass found it: no table of the dump, no progress record that would block the good file.
    expect(db.sql("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='truncated'").trim()).toBe('1');
    expect(db.sql('SELECT COUNT(*) FROM truncated.rushhour_import_progress').trim()).toBe('0');
    expect((await run('truncated', gz, { dumpHash: 't-complete' })).complete).toBe(true);
    expect(describeDatabase(db, 'truncated')).toEqual(expected);
  });
});
