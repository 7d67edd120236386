import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { localInvoker } from '../../src/aws/export-invoker';
import { LocalMariaDb, RDS_LIKE_MASTER_PRIVILEGES, startMariaDb } from '../../src/local/mariadb';
import { LocalMoto, startMoto } from '../../src/local/moto';
import { localOriginOptions } from '../../src/local/origin';
import { LocalSshd, startSshd } from '../../src/local/sshd';
import { pullDb } from '../../src/origin/pull-db';
import { syncBack } from '../../src/origin/sync-back';
import { fileDumpSource, sha256File } from '../../src/sql/dump-source';
import { importDump } from '../../src/sql/importer';
import { StateFile } from '../../src/state/state-file';
import { connectRunner, spawnClientRunner } from '../../src/verify/runner';
import { verifyData } from '../../src/verify/verify';
import { buildExportFixture } from '../sql/export-fixture';

/**
 * sync-back against an origin whose server keeps the pre-5.6 temporal format (what an upgraded old
 * server has; CHECKSUM TABLE then differs from the cloud's for identical rows), on real parts: the
 * origin MariaDB behind a real sshd, the cloud MariaDB, the export handler on moto. The full reload's
 * verdict is the row-level one; --delta sends only the differing rows through the origin's own mysql
 * client over SSH, survives being cut off mid-transaction, and converges when run again.
 */
let sshd: LocalSshd;
let origin: LocalMariaDb;
let cloud: LocalMariaDb;
let moto: LocalMoto;
let work: string;
const password = `pw-${Math.random().toString(36).slice(2)}`; // generated per run
let masterSecretArn: string;

beforeAll(async () => {
  [sshd, origin, cloud, moto] = await Promise.all([
    startSshd(),
    startMariaDb({ serverArgs: ['--mysql56-temporal-format=OFF'] }),
    startMariaDb(),
    startMoto(),
  ]);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-sync-delta-test-'));
  buildExportFixture(origin, 'courses', 300);
  cloud.createUser('master', password, RDS_LIKE_MASTER_PRIVILEGES);
  const s3 = new S3Client(moto.clientConfig);
  await s3.send(new CreateBucketCommand({ Bucket: 'rushhour-exports' }));
  const secret = await new SecretsManagerClient(moto.clientConfig).send(
    new CreateSecretCommand({
      Name: 'rushhour/master',
      SecretString: JSON.stringify({
        host: '127.0.0.1',
        port: cloud.port,
        username: 'master',
        password,
        dbname: 'courses',
      }),
    }),
  );
  masterSecretArn = secret.ARN!;
}, 120000);

afterAll(async () => {
  await Promise.all([sshd?.stop(), origin?.stop(), cloud?.stop(), moto?.stop()]);
});

const originOpts = () => ({ ...localOriginOptions(sshd, origin), log: () => undefined });
const cloudDb = () => connectRunner({ host: '127.0.0.1', port: cloud.port, user: 'master', password });

/** The export handler in-process on moto; its 1 ms budget makes every verify-query answer one operation. */
const exportFunction = () =>
  localInvoker(
    { bucket: 'rushhour-exports', masterSecretArn, database: 'courses', timeBudgetMs: 1 },
    moto.clientConfig,
    () => undefined,
  );

/** An independent row-level comparison of the two servers (the origin by its socket, the cloud over TCP). */
async function rowLevel() {
  const [left, right] = [spawnClientRunner('mariadb', origin.clientArgs, 'origin'), await cloudDb()];
  try {
    return await verifyData({ left, right, leftDatabase: 'courses' });
  } finally {
    await Promise.all([left.close(), right.close()]);
  }
}

/** Pulls the origin and makes the cloud database from the pulled dump (what the week starts with). */
async function pullAndImport(stateFile: string, out: string) {
  const pulled = await pullDb({ ...originOpts(), database: 'courses', out, stateFile });
  cloud.sql('DROP DATABASE IF EXISTS courses');
  const imported = await importDump({
    source: fileDumpSource(pulled.dumpFile),
    dumpHash: await sha256File(pulled.dumpFile),
    target: { host: '127.0.0.1', port: cloud.port, user: 'master', password, database: 'courses' },
  });
  expect(imported.complete).toBe(true);
}

test('the full sync-back to an origin on the old temporal format, proven through the export function (no cloud DB session): CHECKSUM TABLE differs, the row-level verdict is identical', async () => {
  const stateFile = path.join(work, 'state-full.json');
  await pullAndImport(stateFile, path.join(work, 'pull-full'));
  cloud.sql(`SET NAMES utf8mb4; USE courses; CALL register(301, 3); CALL register(302, 4);
    UPDATE students SET born = '1999-12-31 23:59:59.999' WHERE id = 5;`);
  const logs: string[] = [];
  const result = await syncBack({
    ...originOpts(),
    database: 'courses',
    // The deployed case (RDS in a private subnet): the proof's cloud side is the export function.
    invoker: exportFunction(),
    s3: new S3Client(moto.clientConfig),
    out: path.join(work, 'sync-full'),
    backupDir: path.join(work, 'backups-full'),
    replaceOriginData: true,
    stateFile,
    log: (m) => logs.push(m),
  });
  // The guard: the tables with DATETIME(3) columns still reproduce the false alarm CHECKSUM TABLE gives.
  const byChecksum = Object.fromEntries(result.tables.map((t) => [t.table, t.same]));
  expect(byChecksum).toMatchObject({ students: false, registrations: false });
  expect(result.tables.every((t) => t.cloud?.rows === t.origin?.rows)).toBe(true);
  expect(result.rowLevel?.identical).toBe(true);
  expect(result.identical).toBe(true);
  expect(logs.join('\n')).toContain('identical on the origin and in the cloud (row by row)');
  expect(origin.sql('SELECT born FROM courses.students WHERE id = 5').trim()).toBe('1999-12-31 23:59:59.999');
}, 180000);

test('sync-back --delta sends only the differing rows; cut off mid-transaction it leaves that table untouched, and run again it converges', async () => {
  const stateFile = path.join(work, 'state-delta.json');
  await pullAndImport(stateFile, path.join(work, 'pull-delta'));
  // The week: registrations through the procedure (its trigger writes courses and audit), edits spread
  // over the students, a deleted and new students, a renamed course, a row in the table without a key.
  cloud.sql(`SET NAMES utf8mb4; USE courses; CALL register(304, 3); CALL register(305, 4); CALL register(306, 4);
    UPDATE students SET note = CONCAT('edited ', id, ' ☕') WHERE id % 25 = 0;
    DELETE FROM registrations WHERE student_id = 17; DELETE FROM students WHERE id = 17;
    INSERT INTO students (name, note, photo, born) VALUES ('new 🎓 student', 'it''s \\\\ new', 0x00FF00, '2026-09-02 10:00:00.5');
    UPDATE courses SET title = 'Renamed ☕' WHERE id = 2;
    INSERT INTO nokey VALUES ('week', 0x01);`);
  const before = await rowLevel();
  expect(before.identical).toBe(false);
  const coursesBefore = origin.sql('SELECT COUNT(*), GROUP_CONCAT(title ORDER BY id) FROM courses.courses');

  // The origin's mysql is cut off (stdin ends, like a dropped connection) inside the second table's
  // transaction, after its DELETE and before its INSERT.
  const wrapper = path.join(work, 'mysql-cut-off');
  fs.writeFileSync(
    wrapper,
    `#!/bin/bash
case " $* " in
  *" --skip-reconnect "*)
    n=0
    while IFS= read -r line; do
      case "$line" in *"foreign_key_checks = 0; START TRANSACTION"*) n=$((n+1)) ;; esac
      if [ $n -ge 2 ]; then case "$line" in "INSERT INTO"*) exit 0 ;; esac; fi
      printf '%s\\n' "$line"
    done | mariadb "$@"
    exit $? ;;
esac
exec mariadb "$@"
`,
    { mode: 0o755 },
  );
  const opts = {
    ...originOpts(),
    database: 'courses',
    out: path.join(work, 'sync-delta'),
    backupDir: path.join(work, 'backups-delta'),
    replaceOriginData: true,
    stateFile,
    cloudDb,
    delta: true,
    chunkSize: 50,
  };
  await expect(syncBack({ ...opts, mysqlBin: wrapper })).rejects.toThrow(/the mysql client ended/);
  // The first table (audit) was repaired and committed; courses, cut off mid-transaction, is as it was.
  expect(origin.sql('SELECT COUNT(*), GROUP_CONCAT(title ORDER BY id) FROM courses.courses')).toBe(coursesBefore);
  const cut = await rowLevel();
  expect(cut.tables.find((t) => t.table === 'audit')?.identical).toBe(true);
  expect(cut.tables.find((t) => t.table === 'courses')?.identical).toBe(false);
  expect(fs.readdirSync(path.join(work, 'backups-delta'))).toHaveLength(1);

  const logs: string[] = [];
  const result = await syncBack({ ...opts, log: (m) => logs.push(m) });
  expect(result.identical).toBe(true);
  expect(result.rowLevel?.identical).toBe(true);
  expect(logs.join('\n')).toMatch(/step origin-unchanged: already done/);
  expect(logs.join('\n')).toMatch(/step backup: already done/);
  expect(logs.join('\n')).toContain('identical on the origin and in the cloud (row by row, --delta)');
  // Only the differing rows travelled: 12 edited notes, 1 deleted and 1 new student (of 300).
  const students = result.repairs?.find((r) => r.table === 'students');
  expect(students).toEqual({ table: 'students', deleted: 13, inserted: 13, replacedWhole: false });
  expect(result.repairs?.find((r) => r.table === 'nokey')?.replacedWhole).toBe(true);
  expect(fs.readdirSync(path.join(work, 'backups-delta'))).toHaveLength(1);
  expect(result.exportId).toBe('');
  expect((await rowLevel()).identical).toBe(true);
  expect(origin.sql('SET NAMES utf8mb4; SELECT title FROM courses.courses WHERE id = 2').trim()).toBe('Renamed ☕');
  const op = new StateFile(stateFile).list('sync-back:')[0];
  expect(op.finishedAt).toBeDefined();
  expect(Object.keys(op.steps)).not.toContain('export');
}, 180000);

test('sync-back --delta through the export function (no cloud DB session) repairs and proves the whole database', async () => {
  const stateFile = path.join(work, 'state-delta-lambda.json');
  await pullAndImport(stateFile, path.join(work, 'pull-delta-lambda'));
  cloud.sql(`SET NAMES utf8mb4; USE courses; CALL register(307, 5);
    UPDATE students SET note = CONCAT('lambda ', id) WHERE id % 60 = 0;
    DELETE FROM registrations WHERE student_id = 23; DELETE FROM students WHERE id = 23;
    INSERT INTO nokey VALUES ('lambda', 0x02);`);
  expect((await rowLevel()).identical).toBe(false);
  const logs: string[] = [];
  const result = await syncBack({
    ...originOpts(),
    database: 'courses',
    invoker: exportFunction(),
    out: path.join(work, 'sync-delta-lambda'),
    backupDir: path.join(work, 'backups-delta-lambda'),
    replaceOriginData: true,
    stateFile,
    delta: true,
    chunkSize: 50,
    log: (m) => logs.push(m),
  });
  expect(result.identical).toBe(true);
  // 5 edited notes (ids 60..300) and the deleted student 23.
  expect(result.repairs?.find((r) => r.table === 'students')).toEqual({
    table: 'students',
    deleted: 6,
    inserted: 5,
    replacedWhole: false,
  });
  // CHECKSUM TABLE through the function is printed beside the verdict: still the false alarm on DATETIME(3).
  expect(result.tables.find((t) => t.table === 'students')).toMatchObject({ same: false });
  expect(logs.join('\n')).toContain('identical on the origin and in the cloud (row by row, --delta)');
  expect((await rowLevel()).identical).toBe(true);
}, 180000);

test('sync-back --delta with neither the export function nor a cloud session refuses before touching anything', async () => {
  const stateFile = path.join(work, 'state-refuse.json');
  await pullDb({ ...originOpts(), database: 'courses', out: path.join(work, 'pull-refuse'), stateFile });
  const before = origin.sql('CHECKSUM TABLE courses.students');
  await expect(
    syncBack({ ...originOpts(), database: 'courses', replaceOriginData: true, stateFile, delta: true }),
  ).rejects.toThrow(/needs the cloud side of the row-level proof/);
  expect(origin.sql('CHECKSUM TABLE courses.students')).toBe(before);
});
