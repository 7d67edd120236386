/** The origin's dump loaded into a real MariaDB, streamed through the client; a broken dump fails naming the file. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { DumpLoadError, loadDumpInto } from '../../src/local/load-dump';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';

const LAMP_DUMP = path.join(__dirname, '..', '..', 'examples', 'lamp-site', 'course-selection-lamp.sql.gz');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-load-dump-'));
let db: LocalMariaDb;
beforeAll(async () => {
  db = await startMariaDb();
}, 60000);
afterAll(async () => {
  await db?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('a .sql.gz and a .sql load into the named database, created first', async () => {
  await loadDumpInto(db, 'origin_gz', LAMP_DUMP);
  expect(db.sql('SELECT COUNT(*) FROM students', 'origin_gz').trim()).toBe('300');
  const plain = path.join(tmp, 'dump.sql');
  fs.writeFileSync(plain, zlib.gunzipSync(fs.readFileSync(LAMP_DUMP)));
  await loadDumpInto(db, 'origin_plain', plain);
  expect(db.sql('SELECT COUNT(*) FROM courses', 'origin_plain').trim()).toBe('43');
});

test('a dump the client rejects fails with its exit code and message', async () => {
  const bad = path.join(tmp, 'bad.sql');
  fs.writeFileSync(bad, 'CREATE TABLE t (id INT);\nINSERT INTO nowhere VALUES (1);\n');
  const err = await loadDumpInto(db, 'origin_bad', bad).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DumpLoadError);
  expect((err as DumpLoadError).exitCode).toBe(1);
  expect((err as Error).message).toMatch(/bad\.sql.*nowhere/s);
});
