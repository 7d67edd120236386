import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { exportEdge } from '../../lambda/export-db/aws';
import { ExportSettings, handleExportFunction } from '../../lambda/export-db/handler';
import { localInvoker } from '../../src/aws/export-invoker';
import { LocalMariaDb, RDS_LIKE_MASTER_PRIVILEGES, startMariaDb } from '../../src/local/mariadb';
import { LocalMoto, startMoto } from '../../src/local/moto';
import { repairDelta } from '../../src/verify/delta';
import { remoteSide, VERIFY_PROTOCOL, VerifyRequestError } from '../../src/verify/remote';
import { connectRunner, spawnClientRunner } from '../../src/verify/runner';
import { UnsafeValueError } from '../../src/verify/canonical';
import { verifyData, VerifyResult } from '../../src/verify/verify';
import { buildExportFixture } from '../sql/export-fixture';

/**
 * The row-level proof's cloud side through the export function (action verify-query): the real
 * handler in this process, its secret in moto, the cloud on a real MariaDB; the origin on another
 * MariaDB with the pre-5.6 temporal format (CHECKSUM TABLE differs for identical rows there).
 */
let origin: LocalMariaDb;
let cloud: LocalMariaDb;
let moto: LocalMoto;
const password = `pw-${Math.random().toString(36).slice(2)}`; // generated per run
let settings: ExportSettings;

beforeAll(async () => {
  [origin, cloud, moto] = await Promise.all([
    startMariaDb({ serverArgs: ['--mysql56-temporal-format=OFF'] }),
    startMariaDb(),
    startMoto(),
  ]);
  buildExportFixture(origin, 'courses', 300);
  buildExportFixture(cloud, 'courses', 300);
  cloud.createUser('master', password, RDS_LIKE_MASTER_PRIVILEGES);
  const secret = await new SecretsManagerClient(moto.clientConfig).send(
    new CreateSecretCommand({
      Name: 'rushhour/master',
      SecretString: JSON.stringify({ host: '127.0.0.1', port: cloud.port, username: 'master', password }),
    }),
  );
  // A 1 ms budget: one operation per invocation, so every multi-invocation path runs.
  settings = { bucket: 'unused', masterSecretArn: secret.ARN!, database: 'courses', timeBudgetMs: 1 };
}, 120000);

afterAll(async () => {
  await Promise.all([origin?.stop(), cloud?.stop(), moto?.stop()]);
});

/** Counts invocations, as the deployed function would be invoked. */
function lambdaCloud() {
  const invoker = localInvoker(settings, moto.clientConfig, () => undefined);
  const calls = { n: 0 };
  const side = remoteSide((e) => {
    calls.n++;
    return invoker.verify(e);
  });
  return { side, calls };
}

async function verify(right: 'lambda' | 'session'): Promise<VerifyResult> {
  const left = spawnClientRunner('mariadb', origin.clientArgs, 'origin');
  const cloudRunner =
    right === 'session'
      ? await connectRunner({ host: '127.0.0.1', port: cloud.port, user: 'master', password })
      : undefined;
  try {
    return await verifyData({
      left,
      right: cloudRunner ?? lambdaCloud().side,
      leftDatabase: 'courses',
      chunkSize: 40,
      window: 3,
    });
  } finally {
    await Promise.all([left.close(), cloudRunner?.close()]);
  }
}

const handle = (event: unknown) => handleExportFunction(event, settings, exportEdge(moto.clientConfig));

test('identical databases on two temporal formats: the verdict through the function is identical, CHECKSUM TABLE is not', async () => {
  const checksum = (db: LocalMariaDb) => db.sql('CHECKSUM TABLE courses.students').trim().split('\t')[1];
  expect(checksum(origin)).not.toBe(checksum(cloud)); // the guard: the false alarm is still reproduced
  const { side, calls } = lambdaCloud();
  const left = spawnClientRunner('mariadb', origin.clientArgs, 'origin');
  try {
    const r = await verifyData({ left, right: side, leftDatabase: 'courses', chunkSize: 40, window: 3 });
    expect(r.identical).toBe(true);
    expect(r.tables.find((t) => t.table === 'students')).toMatchObject({ leftRows: 300, rightRows: 300, chunks: 8 });
    expect(calls.n).toBeGreaterThan(8); // one operation per invocation under the 1 ms budget
  } finally {
    await left.close();
  }
}, 120000);

test('differences are named the same through the function as over a session, and delta repairs from it', async () => {
  cloud.sql(`SET NAMES utf8mb4; USE courses; UPDATE students SET note = 'edited ☕' WHERE id IN (3, 77, 250);
    DELETE FROM registrations WHERE student_id = 9; DELETE FROM students WHERE id = 9;
    INSERT INTO students (id, name, born) VALUES (301, 'new 🎓', '2026-09-02 10:00:00.5');
    UPDATE courses SET title = 'Renamed' WHERE id = 2; INSERT INTO nokey VALUES ('week', 0x01);`);
  const [viaLambda, viaSession] = [await verify('lambda'), await verify('session')];
  const strip = (r: VerifyResult) =>
    r.tables.map(({ table, identical, onlyLeft, onlyRight, differing, unkeyed }) => ({
      table,
      identical,
      onlyLeft,
      onlyRight,
      differing,
      unkeyed,
    }));
  expect(strip(viaLambda)).toEqual(strip(viaSession));
  const students = viaLambda.tables.find((t) => t.table === 'students')!;
  expect(students.differing.map((d) => [d.display.id, d.columns])).toEqual([
    ['3', ['note']],
    ['77', ['note']],
    ['250', ['note']],
  ]);
  expect(students.onlyLeft.map((k) => k.display.id)).toEqual(['9']);
  expect(students.onlyRight.map((k) => k.display.id)).toEqual(['301']);

  const target = spawnClientRunner('mariadb', origin.clientArgs, 'origin');
  try {
    const r = await repairDelta({ source: lambdaCloud().side, target, sourceDatabase: 'courses', chunkSize: 40 });
    expect(r.proof.identical).toBe(true);
    expect(r.repairs.find((t) => t.table === 'students')).toEqual({
      table: 'students',
      deleted: 4,
      inserted: 4,
      replacedWhole: false,
    });
    expect(r.repairs.find((t) => t.table === 'nokey')?.replacedWhole).toBe(true);
  } finally {
    await target.close();
  }
  expect((await verify('session')).identical).toBe(true);
  expect(origin.sql('SET NAMES utf8mb4; SELECT note FROM courses.students WHERE id = 77').trim()).toBe('edited ☕');
}, 180000);

test('the function refuses what it did not build: SQL, unknown actions, names it lacks, unsafe key values', async () => {
  const table = {
    name: 'students',
    columns: [{ name: 'id', sameOnBothSides: true, utf8OnBothSides: false }],
    key: ['id'],
  };
  const base = { action: 'verify-query', version: VERIFY_PROTOCOL };
  const refusals: Array<[unknown, RegExp]> = [
    [{ ...base, sql: 'DROP TABLE courses.students' }, /malformed verify-query request/],
    [{ ...base, table: { ...table, ops: [{ op: 'sum', sql: 'DELETE FROM students' }] } }, /malformed/],
    [{ ...base, table: { ...table, ops: [{ op: 'query', text: 'SELECT 1' }] } }, /malformed/],
    [{ ...base, table: { ...table, name: 'mysql.user', ops: [{ op: 'stats' }] } }, /no base table mysql\.user/],
    [
      { ...base, table: { ...table, columns: [{ ...table.columns[0], name: 'id`, password' }], ops: [{ op: 'sum' }] } },
      /has no column/,
    ],
    [{ ...base, table: { ...table, key: ['name'], ops: [{ op: 'sum' }] } }, /key is \(id\), not \(name\)/],
    [
      { ...base, version: VERIFY_PROTOCOL + 1, shapes: true },
      /deploy the export function from the same rushhour version/,
    ],
    [{ action: 'drop-database' }, /unknown action/],
  ];
  for (const [event, message] of refusals) {
    const err = await handle(event).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerifyRequestError);
    expect((err as Error).message).toMatch(message);
    expect(err).toMatchObject({ name: 'VerifyRequestError' });
  }
  // A key value is data: only digits (for an INT key) become a literal.
  const injected = await handle({
    ...base,
    table: { ...table, ops: [{ op: 'sum', lower: ['0) OR 1=1; DROP TABLE students; --'] }] },
  }).catch((e: unknown) => e);
  expect(injected).toBeInstanceOf(UnsafeValueError);
  expect(cloud.sql('SELECT COUNT(*) FROM courses.students').trim()).toBe('300');
  // A well-formed request is answered: the sum of ids up to 40 (id 9 was deleted above), in the function's database.
  const ok = await handle({ ...base, table: { ...table, ops: [{ op: 'sum', upper: ['40'] }] } });
  expect(ok).toMatchObject({ database: 'courses', results: [{ rows: 39 }] });
}, 60000);
