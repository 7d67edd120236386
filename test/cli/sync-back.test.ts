import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { pullDb } from '../../src/origin/pull-db';
import { localInvoker } from '../../src/aws/export-invoker';
import { FILES_STAY_NOTE, formatComparison, OriginChangedError, syncBack } from '../../src/origin/sync-back';
import { LocalMariaDb, RDS_LIKE_MASTER_PRIVILEGES, startMariaDb } from '../../src/local/mariadb';
import { LocalMoto, startMoto } from '../../src/local/moto';
import { localOriginOptions } from '../../src/local/origin';
import { LocalSshd, startSshd } from '../../src/local/sshd';
import { fileDumpSource, sha256File } from '../../src/sql/dump-source';
import { importDump } from '../../src/sql/importer';
import { StateFile } from '../../src/state/state-file';
import { connectRunner } from '../../src/verify/runner';
import { buildExportFixture, fixtureChecksums, fixtureObjects } from '../sql/export-fixture';

/**
 * The whole way back on real parts: origin MariaDB behind a real sshd, "cloud" MariaDB loaded with the
 * import library from the pulled dump, the export Lambda's handler with its S3 and Secrets Manager edge
 * on moto, and the load through the origin's own mysql client over SSH.
 */
let sshd: LocalSshd;
let origin: LocalMariaDb;
let cloud: LocalMariaDb;
let moto: LocalMoto;
let work: string;
const password = `pw-${Math.random().toString(36).slice(2)}`; // generated per run
let masterSecretArn: string;

beforeAll(async () => {
  [sshd, origin, cloud, moto] = await Promise.all([startSshd(), startMariaDb(), startMariaDb(), startMoto()]);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-sync-test-'));
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
/** The export handler in-process, pointed at moto; a 1 ms budget makes one batch per slice (many slices). */
const invoker = () =>
  localInvoker(
    { bucket: 'rushhour-exports', masterSecretArn, database: 'courses', timeBudgetMs: 1 },
    moto.clientConfig,
    () => undefined,
  );

test('sync-back restores every row, routine and trigger of the week on the origin and proves it by checksums', async () => {
  const stateFile = path.join(work, 'state.json');
  const pulled = await pullDb({ ...originOpts(), database: 'courses', out: path.join(work, 'pull'), stateFile });
  // The week in the cloud: the pulled dump imported by the import library, then registrations
  // through the procedure (firing the trigger), a new student with binary data, an edit.
  const imported = await importDump({
    source: fileDumpSource(pulled.dumpFile),
    dumpHash: await sha256File(pulled.dumpFile),
    target: { host: '127.0.0.1', port: cloud.port, user: 'master', password, database: 'courses' },
  });
  expect(imported.complete).toBe(true);
  cloud.sql(`SET NAMES utf8mb4; USE courses; CALL register(301, 3); CALL register(302, 4); CALL register(303, 4);
    INSERT INTO students (name, note, photo) VALUES ('new 🎓 student', 'it''s \\\\ new', 0x00FF00);
    UPDATE courses SET title = 'Renamed ☕' WHERE id = 2;`);
  expect(fixtureChecksums(cloud, 'courses')).not.toBe(fixtureChecksums(origin, 'courses'));
  const before = origin.sql('SELECT COUNT(*) FROM courses.registrations').trim();

  const logs: string[] = [];
  const result = await syncBack({
    ...originOpts(),
    database: 'courses',
    invoker: invoker(),
    s3: new S3Client(moto.clientConfig),
    out: path.join(work, 'sync'),
    backupDir: path.join(work, 'origin-backups'),
    replaceOriginData: true,
    stateFile,
    // The row-level proof: the origin's mysql over SSH against the cloud database.
    cloudDb: () => connectRunner({ host: '127.0.0.1', port: cloud.port, user: 'master', password }),
    log: (m) => logs.push(m),
  });

  expect(result.identical).toBe(true);
  expect(result.rowLevel?.identical).toBe(true);
  expect(result.rowLevel?.tables.map((t) => [t.table, t.leftRows === t.rightRows && t.leftRows > 0])).toEqual([
    ['audit', true],
    ['courses', true],
    ['nokey', true],
    ['registrations', true],
    ['students', true],
  ]);
  expect(logs.join('\n')).toContain('identical on the origin and in the cloud (row by row)');
  expect(result.tables.map((t) => t.table)).toEqual(['audit', 'courses', 'nokey', 'registrations', 'students']);
  expect(fixtureChecksums(origin, 'courses')).toBe(fixtureChecksums(cloud, 'courses'));
  expect(fixtureObjects(origin, 'courses')).toBe(fixtureObjects(cloud, 'courses'));
  expect(Number(origin.sql('SELECT COUNT(*) FROM courses.registrations'))).toBe(Number(before) + 3);
  expect(origin.sql('SET NAMES utf8mb4; SELECT title FROM courses.courses WHERE id = 2').trim()).toBe('Renamed ☕');
  expect(logs.join('\n')).toContain(formatComparison(result.tables));
  expect(logs.join('\n')).toMatch(/all 5 tables identical/);
  // The operator hears that uploads and other files written on instances stay there.
  expect(logs).toContain(FILES_STAY_NOTE);
  // The backup on the origin holds the data from before the load.
  const backupSql = execFileSync('gzip', ['-dc', result.backupFile]).toString('utf8');
  expect(backupSql).toContain('CREATE TABLE `registrations`');
  expect(backupSql).not.toContain('Renamed');
  // The state file says it is finished; a second run would start a new sync-back, not replay steps.
  const op = new StateFile(stateFile).list('sync-back:')[0];
  expect(op.finishedAt).toBeDefined();
  expect(Object.keys(op.steps)).toEqual(
    expect.arrayContaining(['export', 'download', 'origin-unchanged', 'backup', 'load', 'finished']),
  );
});

test('sync-back refuses when the origin changed since the pull, and changes nothing there', async () => {
  const stateFile = path.join(work, 'state-changed.json');
  await pullDb({ ...originOpts(), database: 'courses', out: path.join(work, 'pull2'), stateFile });
  origin.sql("INSERT INTO courses.audit (what) VALUES ('written at the origin during the week')");
  const originBefore = fixtureChecksums(origin, 'courses');
  await expect(
    syncBack({
      ...originOpts(),
      database: 'courses',
      invoker: invoker(),
      s3: new S3Client(moto.clientConfig),
      out: path.join(work, 'sync2'),
      backupDir: path.join(work, 'backups2'),
      replaceOriginData: true,
      stateFile,
    }),
  ).rejects.toThrow(OriginChangedError);
  await expect(
    syncBack({
      ...originOpts(),
      database: 'courses',
      invoker: invoker(),
      s3: new S3Client(moto.clientConfig),
      out: path.join(work, 'sync2'),
      backupDir: path.join(work, 'backups2'),
      replaceOriginData: true,
      stateFile,
    }),
  ).rejects.toThrow(/changed since the pull .* \(tables audit\): someone wrote to it during the week/);
  expect(fixtureChecksums(origin, 'courses')).toBe(originBefore);
  expect(fs.existsSync(path.join(work, 'backups2'))).toBe(false);
});

test('sync-back without the explicit flag does nothing', async () => {
  await expect(
    syncBack({
      ...originOpts(),
      database: 'courses',
      invoker: invoker(),
      replaceOriginData: false,
      pulled: '/nonexistent',
    }),
  ).rejects.toThrow(/pass --replace-origin-data to confirm/);
});

test('a sync-back that crashed during the load resumes at the load, without a second backup of the half-loaded origin', async () => {
  const stateFile = path.join(work, 'state-crash.json');
  const pulled = await pullDb({ ...originOpts(), database: 'courses', out: path.join(work, 'pull3'), stateFile });
  if (!cloud.sql("SHOW DATABASES LIKE 'courses'").trim()) {
    // when run alone
    await importDump({
      source: fileDumpSource(pulled.dumpFile),
      dumpHash: await sha256File(pulled.dumpFile),
      target: { host: '127.0.0.1', port: cloud.port, user: 'master', password, database: 'courses' },
    });
  }
  cloud.sql('USE courses; CALL register(304, 5);');
  // The origin's mysql fails once in the middle of the load (like a dropped connection or a killed client).
  const marker = path.join(work, 'fail-once');
  const wrapper = path.join(work, 'mysql-failing-once');
  fs.writeFileSync(
    wrapper,
    `#!/bin/sh
case " $* " in
  *" --default-character-set=utf8mb4 "*) if [ -f '${marker}' ]; then rm -f '${marker}'; head -c 30000 | mariadb "$@"; exit 1; fi ;;
esac
exec mariadb "$@"
`,
    { mode: 0o755 },
  );
  fs.writeFileSync(marker, '');
  const opts = {
    ...originOpts(),
    mysqlBin: wrapper,
    database: 'courses',
    invoker: invoker(),
    s3: new S3Client(moto.clientConfig),
    out: path.join(work, 'sync3'),
    backupDir: path.join(work, 'backups3'),
    replaceOriginData: true,
    stateFile,
  };
  await expect(syncBack(opts)).rejects.toThrow(
    /loading the export on the origin failed \(exit 1\): ERROR 1064 [^\n]*previous data is in [^\n]*backups3/,
  );
  expect(fs.readdirSync(path.join(work, 'backups3'))).toHaveLength(1);

  const logs: string[] = [];
  const result = await syncBack({ ...opts, log: (m) => logs.push(m) });
  expect(result.identical).toBe(true);
  expect(logs.join('\n')).toMatch(/step export: already done/);
  expect(logs.join('\n')).toMatch(/step origin-unchanged: already done/);
  expect(logs.join('\n')).toMatch(/step backup: already done/);
  expect(fs.readdirSync(path.join(work, 'backups3'))).toHaveLength(1);
  expect(fixtureChecksums(origin, 'courses')).toBe(fixtureChecksums(cloud, 'courses'));
});
