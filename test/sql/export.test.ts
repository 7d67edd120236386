import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createConnection } from 'mysql2/promise';
import { handler } from '../../lambda/export-db';
import { s3Store } from '../../src/aws/export-store';
import { dirStore } from '../../src/local/export-store';
import { LocalMariaDb, RDS_LIKE_MASTER_PRIVILEGES, startMariaDb } from '../../src/local/mariadb';
import { LocalMoto, startMoto } from '../../src/local/moto';
import { bufferDumpSource } from '../../src/sql/dump-source';
import { PersistedJsonError } from '../../src/state/persisted';
import {
  ExportChangedError,
  exportSlice,
  ExportStore,
  keysetAfter,
  quoteString,
  readExportManifest,
  readExportParts,
  stripDefiner,
} from '../../src/sql/export';
import { importDump } from '../../src/sql/importer';
import { buildExportFixture, fixtureChecksums, fixtureObjects } from './export-fixture';

let cloud: LocalMariaDb;
let origin: LocalMariaDb;
const password = `pw-${Math.random().toString(36).slice(2)}`; // generated per run, not a secret

async function collect(store: ExportStore, id: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of readExportParts(store, id)) parts.push(p);
  return Buffer.concat(parts);
}

beforeAll(async () => {
  [cloud, origin] = await Promise.all([startMariaDb(), startMariaDb()]);
  cloud.createUser('master', password, RDS_LIKE_MASTER_PRIVILEGES);
  buildExportFixture(cloud, 'courses');
}, 120000);

afterAll(async () => {
  await Promise.all([cloud?.stop(), origin?.stop()]);
});

test('escaping: quotes, backslashes, NUL, newlines, Ctrl-Z', () => {
  expect(quoteString('a\'b\\c\0d\ne\rf\x1ag"')).toBe("'a\\'b\\\\c\\0d\\ne\\rf\\Zg\\\"'");
  expect(stripDefiner('CREATE DEFINER=`admin`@`%` TRIGGER t')).toBe('CREATE TRIGGER t');
  // Composite keys: a range on the leading column plus the exact "after" condition.
  expect(keysetAfter(['`a`', '`b`'], ['1', "'x'"])).toBe("`a` >= 1 AND ((`a` > 1) OR (`a` = 1 AND `b` > 'x'))");
  expect(keysetAfter(['`id`'], ['7'])).toBe('`id` > 7');
  expect(stripDefiner("CREATE ALGORITHM=UNDEFINED DEFINER='a'@'localhost' SQL SECURITY DEFINER VIEW v")).toBe(
    'CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW v',
  );
});

test('an export in many small slices loads back identically with the import library and with the mysql CLI', async () => {
  const store = dirStore(fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-export-')));
  const conn = await createConnection({
    host: '127.0.0.1',
    port: cloud.port,
    user: 'master',
    password,
    charset: 'utf8mb4',
  });
  let calls = 0;
  try {
    for (let done = false; !done; calls++) {
      // A budget of 0 ms: every call writes one batch of 100 rows, like a Lambda that runs out of time at once.
      done = (
        await exportSlice({
          connection: conn,
          store,
          database: 'courses',
          exportId: 'slices',
          timeBudgetMs: 0,
          batchRows: 100,
          maxInsertBytes: 4096,
        })
      ).done;
      expect(calls).toBeLessThan(200);
    }
  } finally {
    await conn.end();
  }
  const manifest = (await readExportManifest(store, 'slices'))!;
  expect(calls).toBeGreaterThan(10);
  expect(manifest.parts.length).toBeGreaterThan(10); // a call whose batch is empty (end of a table) writes no part
  expect(manifest.parts.length).toBeLessThanOrEqual(calls);
  expect(manifest.tables.map((t) => t.name)).not.toContain('rushhour_import_progress');
  expect(manifest.rowCounts).toMatchObject({ students: 500, nokey: 4, courses: 30 });
  expect(manifest.checksumsAtEnd).toEqual(manifest.checksumsAtStart);
  const dump = await collect(store, 'slices');
  const text = gunzipSync(dump).toString('utf8'); // concatenated gzip members are one gzip stream
  expect(text).not.toMatch(/DEFINER=/);

  // (1) The import library (the import Lambda's code path).
  origin.createUser('loader', password, RDS_LIKE_MASTER_PRIVILEGES);
  const result = await importDump({
    source: bufferDumpSource(dump, 'export'),
    target: { host: '127.0.0.1', port: origin.port, user: 'loader', password, database: 'via_importer' },
    dumpHash: 'export-slices',
  });
  expect(result.complete).toBe(true);
  // (2) The mysql CLI, as sync-back loads it on the origin.
  origin.sql('CREATE DATABASE via_cli');
  execFileSync('mariadb', [...origin.clientArgs, 'via_cli'], { input: gunzipSync(dump) });

  const expected = fixtureChecksums(cloud, 'courses');
  expect(fixtureChecksums(origin, 'via_importer')).toBe(expected);
  expect(fixtureChecksums(origin, 'via_cli')).toBe(expected);
  expect(fixtureObjects(origin, 'via_cli')).toBe(fixtureObjects(cloud, 'courses'));
  expect(fixtureObjects(origin, 'via_importer')).toBe(fixtureObjects(cloud, 'courses'));
  expect(fixtureObjects(cloud, 'courses').split('\n').filter(Boolean)).toHaveLength(6); // 2 routines, 1 trigger, 2 views, 1 event
  // Spot check the bytes that are easiest to get wrong.
  expect(origin.sql('SELECT HEX(photo) FROM via_cli.students WHERE id = 1').trim()).toBe(
    cloud.sql('SELECT HEX(photo) FROM courses.students WHERE id = 1').trim(),
  );
  expect(origin.sql('SET NAMES utf8mb4; SELECT GROUP_CONCAT(title ORDER BY id) FROM via_cli.courses')).toBe(
    cloud.sql('SET NAMES utf8mb4; SELECT GROUP_CONCAT(title ORDER BY id) FROM courses.courses'),
  );
  // Loading fired no trigger: the audit table has exactly the cloud's rows.
  expect(origin.sql('SELECT COUNT(*) FROM via_cli.audit')).toBe(cloud.sql('SELECT COUNT(*) FROM courses.audit'));
  // A damaged part is caught by its recorded sha256 before anything is loaded.
  const part = manifest.parts[3].key;
  const bytes = (await store.get(part))!;
  bytes[bytes.length - 9] ^= 0xff;
  await store.put(part, bytes);
  await expect(collect(store, 'slices')).rejects.toThrow(
    new RegExp(`part ${part} has sha256 [0-9a-f]{64}, manifest says ${manifest.parts[3].sha256}`),
  );
});

test('a write during a sliced export fails it with a message that says what to do', async () => {
  const store = dirStore(fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-export-')));
  const conn = await createConnection({
    host: '127.0.0.1',
    port: cloud.port,
    user: 'master',
    password,
    charset: 'utf8mb4',
  });
  try {
    await exportSlice({
      connection: conn,
      store,
      database: 'courses',
      exportId: 'moving',
      timeBudgetMs: 0,
      batchRows: 100,
    });
    cloud.sql("INSERT INTO courses.audit (what) VALUES ('late write')");
    let error: Error | undefined;
    for (let i = 0; i < 100 && !error; i++) {
      try {
        if (
          (
            await exportSlice({
              connection: conn,
              store,
              database: 'courses',
              exportId: 'moving',
              timeBudgetMs: 0,
              batchRows: 100,
            })
          ).done
        )
          break;
      } catch (err) {
        error = err as Error;
      }
    }
    expect(error?.message).toMatch(/the database changed while it was exported \(tables audit\): stop the writers/);
    expect(error).toBeInstanceOf(ExportChangedError);
    expect(error).toMatchObject({ name: 'ExportChangedError', database: 'courses', tables: ['audit'] });
    expect((await readExportManifest(store, 'moving'))!.done).toBe(false);
  } finally {
    cloud.sql("DELETE FROM courses.audit WHERE what = 'late write'");
    await conn.end();
  }
});

test('a damaged manifest is refused with the fields that are wrong, not used', async () => {
  const store = dirStore(fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-export-')));
  await store.put(
    'exports/bad/manifest.json',
    Buffer.from(JSON.stringify({ version: 1, exportId: 'bad', parts: 'x' })),
  );
  const err = await readExportManifest(store, 'bad').then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PersistedJsonError);
  expect((err as PersistedJsonError).issues).toEqual(
    expect.arrayContaining([expect.stringMatching(/^parts: /), expect.stringMatching(/^cursor: /)]),
  );
  await expect(collect(store, 'bad')).rejects.toThrow(/exports\/bad\/manifest\.json is not a valid export manifest/);
});

describe('the export Lambda handler against moto (S3 + Secrets Manager)', () => {
  let moto: LocalMoto;
  const saved = { ...process.env };
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => {
    process.env = saved;
    await moto?.stop();
  });

  test('is invoked until done and leaves a verified export in the bucket', async () => {
    const s3 = new S3Client(moto.clientConfig);
    await s3.send(new CreateBucketCommand({ Bucket: 'exports-test' }));
    const sm = new SecretsManagerClient(moto.clientConfig);
    const secret = await sm.send(
      new CreateSecretCommand({
        Name: 'master',
        SecretString: JSON.stringify({
          host: '127.0.0.1',
          port: cloud.port,
          username: 'master',
          password,
          dbname: 'courses',
        }),
      }),
    );
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_REGION: moto.region,
      AWS_ACCESS_KEY_ID: 'moto-local',
      AWS_SECRET_ACCESS_KEY: 'moto-local',
      EXPORT_BUCKET: 'exports-test',
      MASTER_SECRET_ARN: secret.ARN,
      DATABASE_NAME: 'courses',
      RUSHHOUR_TIME_BUDGET_MS: '1',
    });
    let res = await handler({});
    const id = res.exportId;
    for (let i = 0; !res.done && i < 50; i++) res = await handler({ exportId: id });
    expect(res).toMatchObject({ done: true, bucket: 'exports-test', prefix: `exports/${id}/` });
    const dump = await collect(s3Store(s3, 'exports-test'), id);
    origin.sql('CREATE DATABASE via_lambda');
    execFileSync('mariadb', [...origin.clientArgs, 'via_lambda'], { input: gunzipSync(dump) });
    expect(fixtureChecksums(origin, 'via_lambda')).toBe(fixtureChecksums(cloud, 'courses'));
  });
});
