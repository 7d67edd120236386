import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParametersByPathCommand, SSMClient } from '@aws-sdk/client-ssm';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as zlib from 'node:zlib';
import { isComplete, onEvent } from '../../lambda/import-dump';
import {
  handleEvent,
  physicalResourceId,
  parseProperties,
  ProviderEvent,
  timeBudgetMs,
} from '../../lambda/import-dump/handler';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';
import { LocalMoto, startMoto } from '../../src/local/moto';
import { buildFixtureSchema, describeDatabase, dumpDatabase } from '../sql/fixture';

const secret = () => crypto.randomBytes(18).toString('base64url');

describe('import-dump custom resource (Provider framework onEvent/isComplete) on moto + MariaDB', () => {
  let db: LocalMariaDb;
  let moto: LocalMoto;
  let props: Record<string, string>;
  let expected: Record<string, string[]>;
  const masterPassword = secret();
  const appPassword = secret();
  const savedEnv = { ...process.env };
  const logs: string[] = [];
  const context = { getRemainingTimeInMillis: () => 15 * 60_000 };

  /** Polls isComplete as the Provider framework does (queryInterval elapsed instantly), counting slices. */
  async function driveToCompletion(event: ProviderEvent & { PhysicalResourceId: string }) {
    let slices = 0;
    for (;;) {
      slices++;
      const res = await isComplete(event, context);
      if (res.IsComplete) return { res, slices };
      if (slices > 400) throw new Error('import did not complete in 400 slices');
    }
  }

  beforeAll(async () => {
    [db, moto] = await Promise.all([startMariaDb(), startMoto()]);
    db.createRdsLikeMaster('admin', masterPassword);
    buildFixtureSchema(db, 'origin', 300);
    const dump = zlib.gzipSync(dumpDatabase(db, 'origin', ['--net-buffer-length=16384']));
    db.sql('CREATE DATABASE cli');
    execFileSync('mariadb', [...db.clientArgs, 'cli'], { input: zlib.gunzipSync(dump) });
    expected = describeDatabase(db, 'cli');

    const s3 = new S3Client(moto.clientConfig);
    await s3.send(new CreateBucketCommand({ Bucket: 'assets' }));
    await s3.send(new PutObjectCommand({ Bucket: 'assets', Key: 'dump.sql.gz', Body: dump }));
    const sm = new SecretsManagerClient(moto.clientConfig);
    const master = await sm.send(
      new CreateSecretCommand({
        Name: 'master',
        SecretString: JSON.stringify({
          host: db.host,
          port: db.port,
          username: 'admin',
          password: masterPassword,
          dbname: 'courses',
          engine: 'mysql',
        }),
      }),
    );
    const app = await sm.send(
      new CreateSecretCommand({
        Name: 'app',
        SecretString: JSON.stringify({ username: 'rushhour_app', password: appPassword }),
      }),
    );
    props = {
      ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
      DumpBucket: 'assets',
      DumpKey: 'dump.sql.gz',
      DumpAssetHash: crypto.createHash('sha256').update(dump).digest('hex'),
      MasterSecretArn: master.ARN!,
      AppSecretArn: app.ARN!,
      DatabaseName: 'courses',
      SsmPrefix: '/rushhour/test-site/db',
      AllowReimport: 'false',
    };
    // The Lambda's environment: the SDK reads AWS_ENDPOINT_URL, which is how the rehearsal points it at moto.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_REGION: moto.region,
      AWS_ACCESS_KEY_ID: 'moto-local',
      AWS_SECRET_ACCESS_KEY: 'moto-local',
      RUSHHOUR_TIME_BUDGET_MS: '1',
    });
    jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      logs.push(args.join(' '));
    });
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    process.env = savedEnv;
    await Promise.all([db?.stop(), moto?.stop()]);
  });

  test('Create: sliced import, app user with only DML privileges, SSM parameters; no secret in Data or logs', async () => {
    const created = await onEvent({ RequestType: 'Create', ResourceProperties: props });
    expect(created.PhysicalResourceId).toBe('rushhour-import-courses');
    const { res, slices } = await driveToCompletion({
      RequestType: 'Create',
      ResourceProperties: props,
      PhysicalResourceId: created.PhysicalResourceId,
    });
    expect(slices).toBeGreaterThan(3); // a 1 ms budget: one unit of work per invocation
    expect(describeDatabase(db, 'courses')).toEqual(expected);

    const ssm = new SSMClient(moto.clientConfig);
    const params = await ssm.send(new GetParametersByPathCommand({ Path: '/rushhour/test-site/db', Recursive: true }));
    const byName = Object.fromEntries((params.Parameters ?? []).map((p) => [p.Name, [p.Type, p.Value]]));
    expect(byName).toEqual({
      '/rushhour/test-site/db/host': ['String', db.host],
      '/rushhour/test-site/db/port': ['String', String(db.port)],
      '/rushhour/test-site/db/name': ['String', 'courses'],
      '/rushhour/test-site/db/user': ['String', 'rushhour_app'],
      '/rushhour/test-site/db/password-secret-arn': ['String', props.AppSecretArn],
    });

    // The app user works with the secret's password and has only what the app needs.
    const asApp = (sql: string) =>
      execFileSync(
        'mariadb',
        [
          '--no-defaults',
          '-h127.0.0.1',
          `-P${db.port}`,
          '-urushhour_app',
          '--batch',
          '--skip-column-names',
          'courses',
          '-e',
          sql,
        ],
        {
          encoding: 'utf8',
          env: { ...process.env, MYSQL_PWD: appPassword },
          stdio: 'pipe',
        },
      );
    expect(asApp('SELECT COUNT(*) FROM courses').trim()).toBe('20');
    expect(asApp("INSERT INTO audit (what) VALUES ('app can write')").trim()).toBe('');
    expect(asApp('SELECT seats_left(1) IS NOT NULL').trim()).toBe('1'); // EXECUTE, since the dump has routines
    expect(() => asApp('DROP TABLE audit')).toThrow(/denied/);
    expect(() => asApp('CREATE TABLE x (a INT)')).toThrow(/denied/);
    expect(db.sql("SHOW GRANTS FOR 'rushhour_app'@'%'")).toMatch(
      /GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE ON `courses`\.\* TO `rushhour_app`@`%`/,
    );

    expect(JSON.stringify(res)).not.toContain(appPassword);
    expect(JSON.stringify(res)).not.toContain(masterPassword);
    expect(res.Data).toEqual({
      DatabaseName: 'courses',
      Statements: expect.any(String),
      DumpAssetHash: props.DumpAssetHash,
      ServerVersion: expect.stringMatching(/^\d+\.\d+\.\d+/),
    });
    const allLogs = logs.join('\n');
    expect(allLogs).toMatch(/import \(importing\)|import complete/);
    expect(allLogs).not.toContain(appPassword);
    expect(allLogs).not.toContain(masterPassword);
  });

  test('Create with Connections "4": 1 ms slices on 4 connections end in the same database', async () => {
    const parallel = { ...props, DatabaseName: 'courses4', SsmPrefix: '/rushhour/test-site-4/db', Connections: '4' };
    const created = await onEvent({ RequestType: 'Create', ResourceProperties: parallel });
    const { res, slices } = await driveToCompletion({
      RequestType: 'Create',
      ResourceProperties: parallel,
      PhysicalResourceId: created.PhysicalResourceId,
    });
    // One unit per slice (the budget ends as soon as one is handed out), each recorded before the slice returns.
    expect(slices).toBeGreaterThan(10);
    expect(describeDatabase(db, 'courses4')).toEqual(expected);
    expect(res.Data?.DatabaseName).toBe('courses4');
    expect(logs.join('\n')).toMatch(/import complete on 4 connections/);
    expect(db.sql('SELECT COUNT(*) FROM courses4.rushhour_import_units').trim()).toBe('0');
    expect(() => parseProperties({ ...parallel, Connections: '17' })).toThrow(
      /Connections must be a whole number from 1 to 16/,
    );
    expect(parseProperties(parallel).Connections).toBe(4);
    expect(parseProperties(props).Connections).toBe(1);
  }, 120_000);

  test('Update with the same dump is a no-op for the data', async () => {
    db.sql("UPDATE courses.courses SET taken = taken + 1 WHERE code = 'C1'"); // a registration since the import
    const before = describeDatabase(db, 'courses');
    const event = {
      RequestType: 'Update' as const,
      ResourceProperties: props,
      OldResourceProperties: props,
      PhysicalResourceId: 'rushhour-import-courses',
    };
    expect((await onEvent(event)).PhysicalResourceId).toBe('rushhour-import-courses');
    const { slices } = await driveToCompletion(event);
    expect(slices).toBe(1);
    expect(describeDatabase(db, 'courses')).toEqual(before);
    expect(logs.join('\n')).toMatch(/already imported into "courses"/);
  });

  test('Update to a different dump is refused with a clear error by the database record unless AllowReimport is "true"', async () => {
    const changed = { ...props, DumpAssetHash: 'f'.repeat(64) };
    const event = {
      RequestType: 'Update' as const,
      ResourceProperties: changed,
      OldResourceProperties: props,
      PhysicalResourceId: 'rushhour-import-courses',
    };
    // onEvent accepts (the rollback of a refused Update swaps the properties and must pass: test/lambda/lifecycle).
    await expect(onEvent(event)).resolves.toMatchObject({ PhysicalResourceId: 'rushhour-import-courses' });
    await expect(isComplete(event, context)).rejects.toThrow(
      /already holds an import of another dump.*overwrite data changed since.*allowReimport/,
    );
  });

  test('Delete drops no data', async () => {
    const before = describeDatabase(db, 'courses');
    const event = {
      RequestType: 'Delete' as const,
      ResourceProperties: props,
      PhysicalResourceId: 'rushhour-import-courses',
    };
    expect(await onEvent(event)).toEqual({ PhysicalResourceId: 'rushhour-import-courses' });
    expect(await isComplete(event, context)).toEqual({ IsComplete: true });
    expect(describeDatabase(db, 'courses')).toEqual(before);
  });

  test('bad properties fail with what to change; ids and budgets are deterministic', async () => {
    await expect(
      handleEvent(
        { RequestType: 'Create', ResourceProperties: { ...props, DatabaseName: 'bad-name;' } },
        () => undefined,
      ),
    ).rejects.toThrow(/DatabaseName must be 1-64 letters, digits or underscores/);
    await expect(
      handleEvent(
        { RequestType: 'Create', ResourceProperties: { ...props, SsmPrefix: 'rushhour/x/' } },
        () => undefined,
      ),
    ).rejects.toThrow(/SsmPrefix must be an SSM path/);
    expect(physicalResourceId(parseProperties(props))).toBe('rushhour-import-courses');
    expect(timeBudgetMs(15 * 60_000, '')).toBe(15 * 60_000 - 90_000);
    expect(timeBudgetMs(15 * 60_000, '30000')).toBe(30_000);
  });
});
