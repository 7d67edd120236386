import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';
import { EmptyDumpError, IncompleteDumpError } from '../../src/sql/dump-check';
import { splitAll } from '../../src/sql/splitter';
import { buildFixtureSchema, describeDatabase, dumpDatabase } from '../sql/fixture';
import { cli, cliTarget, importer, MASTER_PASSWORD, tablesOf } from './support';

/** Issue 16 item 2: an empty dump is refused always; one without the completion trailer unless allowed. */
describe('hostile dumps: empty and cut', () => {
  let db: LocalMariaDb;
  let dump: Buffer;
  let expected: Record<string, string[]>;
  let dir: string;
  const run = importer(() => db);

  beforeAll(async () => {
    db = await startMariaDb();
    db.createRdsLikeMaster('master', MASTER_PASSWORD);
    buildFixtureSchema(db, 'origin', 400);
    dump = dumpDatabase(db, 'origin', ['--net-buffer-length=16384']);
    expected = describeDatabase(db, 'origin');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-hostile-cut-'));
  });
  afterAll(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await db?.stop();
  });

  const empties: Array<[string, Buffer]> = [
    ['a 0-byte .sql', Buffer.alloc(0)],
    ['a 0-byte .sql.gz', zlib.gzipSync(Buffer.alloc(0))],
    [
      'comments only',
      Buffer.from('-- MariaDB dump 10.19\n/* nothing */\n\n-- Dump completed on 2026-12-01 21:19:38\n'),
    ],
    ['the sandbox line only', Buffer.from('/*M!999999\\- enable the sandbox mode */ \n-- Dump completed\n')],
  ];

  test.each(empties)(
    '%s is refused, even with allowIncompleteDump, and does not block the real dump',
    async (_what, data) => {
      const database = `empty_${empties.findIndex((e) => e[1] === data)}`;
      for (const allowIncompleteDump of [false, true]) {
        const err = await run(database, data, { allowIncompleteDump }).catch((e) => e);
        expect(err).toBeInstanceOf(EmptyDumpError);
        expect(err.name).toBe('EmptyDumpError');
        expect(err.message).toMatch(/holds no SQL statements/);
      }
      expect(db.sql(`SELECT COUNT(*) FROM ${database}.rushhour_import_progress`).trim()).toBe('0');
      // Before the fix the empty dump was recorded "complete" and the real one then refused as a re-import.
      expect((await run(database, dump, { dumpHash: 'real' })).complete).toBe(true);
      expect(describeDatabase(db, database)).toEqual(expected);
    },
  );

  test('a 0-byte .sql.gz through the CLI: exit 1 with the reason; the real file then imports', () => {
    const empty = path.join(dir, 'empty.sql.gz');
    fs.writeFileSync(empty, zlib.gzipSync(Buffer.alloc(0)));
    const r = cli(['import-dump', '--dump', empty, ...cliTarget(db, 'cli_empty')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/empty\.sql\.gz holds no SQL statements \(the file is empty\)/);
    const real = path.join(dir, 'real.sql');
    fs.writeFileSync(real, dump);
    expect(cli(['import-dump', '--dump', real, ...cliTarget(db, 'cli_empty')]).status).toBe(0);
  });

  /** The dump cut just after the end of a statement in the middle of the students' data (a line end). */
  const cutMidData = () => {
    const inserts = splitAll(dump).filter((s) => s.sql.toString().startsWith('INSERT INTO `students`'));
    expect(inserts.length).toBeGreaterThan(4);
    const at = inserts[Math.floor(inserts.length / 2)].endOffset;
    expect(dump[at]).toBe(0x0a);
    return dump.subarray(0, at + 1);
  };

  test('a plain .sql cut at a line end is refused before anything runs; allowed, it imports what it has', async () => {
    const cut = cutMidData();
    const err = await run('cut', cut).catch((e) => e);
    expect(err).toBeInstanceOf(IncompleteDumpError);
    expect(err.message).toMatch(/does not end with the completion line .*-- Dump completed.*nothing was imported/);
    expect(err.message).toMatch(/allowIncompleteDump.*--allow-incomplete-dump/);
    expect(tablesOf(db, 'cut')).toEqual([]);

    const file = path.join(dir, 'cut.sql');
    fs.writeFileSync(file, cut);
    const refused = cli(['import-dump', '--dump', file, ...cliTarget(db, 'cut')]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/--allow-incomplete-dump/);
    const allowed = cli(['import-dump', '--dump', file, ...cliTarget(db, 'cut'), '--allow-incomplete-dump']);
    expect(allowed.status).toBe(0);
    const rows = Number(db.sql('SELECT COUNT(*) FROM cut.students').trim());
    expect(rows).toBeGreaterThan(0);
    expect(rows).toBeLessThan(400);
  });

  test('the trailers mariadb-dump, mysqldump 8 and --skip-dump-date write are accepted', async () => {
    expect(dump.toString('latin1')).toMatch(/\n-- Dump completed on \d{4}-\d\d-\d\d [ \d]\d:\d\d:\d\d\n$/);
    const undated = dumpDatabase(db, 'origin', ['--skip-dump-date']);
    expect(undated.toString('latin1')).toMatch(/\n-- Dump completed\n$/);
    expect((await run('undated', undated)).complete).toBe(true);
    expect(describeDatabase(db, 'undated')).toEqual(expected);
    // MySQL 8's mysqldump: the same line, CRLF line ends as a Windows copy has them.
    const mysql8 = Buffer.concat([
      cutMidData(),
      Buffer.from('\r\n-- Dump completed on 2026-11-30  9:05:01\r\n'), // the hour is %2d: space-padded before 10:00
    ]);
    expect((await run('mysql8', mysql8)).complete).toBe(true);
  });

  test("the example dump carries mariadb-dump's trailer", () => {
    const example = zlib.gunzipSync(fs.readFileSync(path.join(__dirname, '../../examples/course-selection.sql.gz')));
    expect(example.toString('latin1')).toMatch(/\n-- Dump completed\n$/);
  });
});
