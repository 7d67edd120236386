import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParametersByPathCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as zlib from 'node:zlib';
import { awsEdge } from '../../lambda/import-dump/aws';
import { AwsEdge, checkComplete, handleEvent, ProviderEvent } from '../../lambda/import-dump/handler';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';
import { LocalMoto, startMoto } from '../../src/local/moto';
import { buildFixtureSchema, describeDatabase, dumpDatabase } from '../sql/fixture';

/**
 * A CloudFormation lifecycle harness: plays the event sequences CloudFormation and the Provider framework
 * send to the import custom resource (onEvent, then isComplete polled until done or failed) against the
 * real handlers, on MariaDB (as RDS) and moto (S3, Secrets Manager, SSM). The clock is the harness's: a
 * "slow" deployment advances it 20 minutes per poll, so the handler's wall-clock deadline trips mid-import.
 * After every step it checks the response, the progress table and the database: is this a state from
 * which the next deploy proceeds?
 */

const MINUTE = 60_000;
const secret = () => crypto.randomBytes(18).toString('base64url');
type Props = Record<string, string>;

interface Outcome {
  readonly status: 'SUCCESS' | 'FAILED';
  readonly physicalResourceId?: string;
  readonly data?: Record<string, string>;
  readonly reason?: string;
  readonly errorName?: string;
  readonly polls: number;
}

describe('import custom resource through CloudFormation lifecycles (MariaDB + moto)', () => {
  let db: LocalMariaDb;
  let moto: LocalMoto;
  let edge: AwsEdge;
  let ssm: SSMClient;
  let dumpA: Props;
  let dumpB: Props;
  let expectedA: Record<string, string[]>;
  let expectedB: Record<string, string[]>;
  let clock = Date.parse('2027-01-20T08:00:00Z');
  const logs: string[] = [];
  const PREFIX = '/rushhour/lifecycle/db';

  /** One CloudFormation request as the Provider framework handles it: onEvent, then isComplete until done. */
  async function play(request: ProviderEvent, opts: { minutesPerPoll?: number } = {}): Promise<Outcome> {
    const log = (m: string) => logs.push(m);
    const now = () => clock;
    let polls = 0;
    try {
      const started = await handleEvent(request, { edge, log, now });
      // The framework hands isComplete the request merged with onEvent's answer (PhysicalResourceId, Data).
      const event: ProviderEvent = { ...request, ...started };
      for (;;) {
        polls++;
        const res = await checkComplete(event, { edge, timeBudgetMs: 1, log, now, connectRetryMs: 2000 });
        clock += (opts.minutesPerPoll ?? 0.5) * MINUTE;
        if (res.IsComplete)
          return {
            status: 'SUCCESS',
            physicalResourceId: started.PhysicalResourceId,
            data: { ...started.Data, ...res.Data },
            polls,
          };
        if (polls > 2000) throw new Error('harness: no end after 2000 polls');
      }
    } catch (err) {
      const e = err as Error;
      return { status: 'FAILED', reason: e.message, errorName: e.name, polls };
    }
  }

  const create = (props: Props): ProviderEvent => ({ RequestType: 'Create', ResourceProperties: props });
  const update = (props: Props, old: Props): ProviderEvent => ({
    RequestType: 'Update',
    ResourceProperties: props,
    OldResourceProperties: old,
    PhysicalResourceId: 'rushhour-import-courses',
  });
  const del = (props: Props): ProviderEvent => ({
    RequestType: 'Delete',
    ResourceProperties: props,
    PhysicalResourceId: 'rushhour-import-courses',
  });

  function progress(): { dump: string; status: string; offset: number }[] {
    const out = db.sql(
      'SELECT dump_hash, status, committed_offset FROM rushhour_import_progress ORDER BY started_at',
      'courses',
    );
    return out
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [dump, status, offset] = l.split('\t');
        return { dump, status, offset: Number(offset) };
      });
  }
  async function parameters(): Promise<Record<string, string>> {
    const res = await ssm.send(new GetParametersByPathCommand({ Path: PREFIX, Recursive: true }));
    return Object.fromEntries((res.Parameters ?? []).map((p) => [p.Name!.slice(PREFIX.length + 1), p.Value!]));
  }
  const tables = () => db.sql('SHOW TABLES', 'courses').trim().split('\n').sort();

  beforeAll(async () => {
    [db, moto] = await Promise.all([startMariaDb(), startMoto()]);
    const masterPassword = secret();
    db.createRdsLikeMaster('admin', masterPassword);
    buildFixtureSchema(db, 'origin', 300);
    // Small INSERTs: many statements, so a 1 ms budget takes many polls and a slow deployment hits its deadline.
    const a = zlib.gzipSync(dumpDatabase(db, 'origin', ['--net-buffer-length=4096']));
    db.sql("INSERT INTO audit (what) VALUES ('only in dump B')", 'origin');
    const b = zlib.gzipSync(dumpDatabase(db, 'origin', ['--net-buffer-length=4096']));
    for (const [name, dump] of [
      ['a', a],
      ['b', b],
    ] as const) {
      db.sql(`CREATE DATABASE expect_${name}`);
      execFileSync('mariadb', [...db.clientArgs, `expect_${name}`], { input: zlib.gunzipSync(dump) });
    }
    expectedA = describeDatabase(db, 'expect_a');
    expectedB = describeDatabase(db, 'expect_b');
    expect(expectedB).not.toEqual(expectedA);

    const s3 = new S3Client(moto.clientConfig);
    await s3.send(new CreateBucketCommand({ Bucket: 'assets' }));
    await s3.send(new PutObjectCommand({ Bucket: 'assets', Key: 'a.sql.gz', Body: a }));
    await s3.send(new PutObjectCommand({ Bucket: 'assets', Key: 'b.sql.gz', Body: b }));
    const sm = new SecretsManagerClient(moto.clientConfig);
    const master = await sm.send(
      new CreateSecretCommand({
        Name: 'master',
        SecretString: JSON.stringify({ host: db.host, port: db.port, username: 'admin', password: masterPassword }),
      }),
    );
    const app = await sm.send(
      new CreateSecretCommand({
        Name: 'app',
        SecretString: JSON.stringify({ username: 'rushhour_app', password: secret() }),
      }),
    );
    const base = {
      ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
      DumpBucket: 'assets',
      MasterSecretArn: master.ARN!,
      AppSecretArn: app.ARN!,
      DatabaseName: 'courses',
      SsmPrefix: PREFIX,
      AllowReimport: 'false',
    };
    const hash = (x: Buffer) => crypto.createHash('sha256').update(x).digest('hex');
    dumpA = { ...base, DumpKey: 'a.sql.gz', DumpAssetHash: hash(a) };
    dumpB = { ...base, DumpKey: 'b.sql.gz', DumpAssetHash: hash(b) };
    edge = awsEdge(moto.clientConfig);
    ssm = new SSMClient(moto.clientConfig);
  });
  afterAll(async () => {
    await Promise.all([db?.stop(), moto?.stop()]);
  });
  afterEach(() => {
    logs.length = 0;
  });

  test('1. Create failing mid-way (the deadline passes): FAILED with what to do; progress kept; no SSM parameters', async () => {
    const out = await play(create(dumpA), { minutesPerPoll: 20 });
    expect(out).toMatchObject({ status: 'FAILED', errorName: 'ImportDeadlineError', polls: 4 });
    expect(out.reason).toMatch(/did not finish by .*deploy again to resume/);
    const [row] = progress();
    expect(row).toMatchObject({ dump: dumpA.DumpAssetHash, status: 'running' });
    expect(row.offset).toBeGreaterThan(0);
    expect(await parameters()).toEqual({});
  });

  test('2. Delete after the failed Create (the rollback): SUCCESS; the data and the progress table stay', async () => {
    const before = { progress: progress(), tables: tables() };
    const out = await play(del(dumpA));
    expect(out).toMatchObject({ status: 'SUCCESS', physicalResourceId: 'rushhour-import-courses' });
    expect({ progress: progress(), tables: tables() }).toEqual(before);
    expect(await parameters()).toEqual({});
  });

  test('3. Create again (cdk deploy re-creates the rolled-back stack): resumes from the progress table, completes', async () => {
    const offsetBefore = progress()[0].offset;
    const out = await play(create(dumpA));
    expect(out).toMatchObject({ status: 'SUCCESS', physicalResourceId: 'rushhour-import-courses' });
    expect(out.data).toMatchObject({ DumpAssetHash: dumpA.DumpAssetHash, ImportDeadline: expect.any(String) });
    expect(logs.join('\n')).toContain(`resuming dump ${dumpA.DumpAssetHash.slice(0, 12)}`);
    expect(offsetBefore).toBeGreaterThan(0);
    expect(progress()).toEqual([{ dump: dumpA.DumpAssetHash, status: 'complete', offset: expect.any(Number) }]);
    expect(describeDatabase(db, 'courses')).toEqual(expectedA);
    expect(Object.keys(await parameters()).sort()).toEqual(['host', 'name', 'password-secret-arn', 'port', 'user']);
  });

  test('4. Update to a new dump without allowReimport: FAILED by the importer; nothing in the database changed', async () => {
    db.sql("UPDATE courses SET taken = taken + 1 WHERE code = 'C1'", 'courses'); // a registration since
    const before = describeDatabase(db, 'courses');
    const out = await play(update(dumpB, dumpA));
    expect(out).toMatchObject({ status: 'FAILED', errorName: 'ReimportRefusedError', polls: 1 });
    expect(out.reason).toMatch(/already holds an import of another dump.*allowReimport/);
    expect(progress()).toEqual([{ dump: dumpA.DumpAssetHash, status: 'complete', offset: expect.any(Number) }]);
    expect(describeDatabase(db, 'courses')).toEqual(before);
  });

  test('5. the rollback Update (old and new properties swapped): SUCCESS, a no-op on the data', async () => {
    const before = describeDatabase(db, 'courses');
    const out = await play(update(dumpA, dumpB));
    expect(out).toMatchObject({ status: 'SUCCESS', polls: 1, data: { DumpAssetHash: dumpA.DumpAssetHash } });
    expect(describeDatabase(db, 'courses')).toEqual(before);
    expect((await parameters()).name).toBe('courses');
  });

  test('6. Update with allowReimport failing mid-way, its rollback, then the same Update again', async () => {
    const reimport = { ...dumpB, AllowReimport: 'true' };
    const failed = await play(update(reimport, dumpA), { minutesPerPoll: 20 });
    expect(failed).toMatchObject({ status: 'FAILED', errorName: 'ImportDeadlineError' });
    expect(progress().map((r) => [r.dump, r.status])).toEqual([
      [dumpA.DumpAssetHash, 'complete'],
      [dumpB.DumpAssetHash, 'running'],
    ]);

    // CloudFormation's rollback: back to A with AllowReimport "false"; A is complete, so this succeeds.
    const rollback = await play(update(dumpA, reimport));
    expect(rollback).toMatchObject({ status: 'SUCCESS', polls: 1 });
    expect((await parameters()).name).toBe('courses');

    // The operator deploys B again: it resumes B where the failed deployment stopped.
    const again = await play(update(reimport, dumpA));
    expect(again).toMatchObject({ status: 'SUCCESS', data: { DumpAssetHash: dumpB.DumpAssetHash } });
    expect(logs.join('\n')).toContain(`resuming dump ${dumpB.DumpAssetHash.slice(0, 12)}`);
    expect(describeDatabase(db, 'courses')).toEqual(expectedB);
    expect(progress().map((r) => r.status)).toEqual(['complete', 'complete']);
  });

  test('7. Delete (cdk destroy): SUCCESS; the SSM parameters are removed, the data stays', async () => {
    const before = describeDatabase(db, 'courses');
    const out = await play(del({ ...dumpB, AllowReimport: 'true' }));
    expect(out.status).toBe('SUCCESS');
    expect(await parameters()).toEqual({});
    expect(describeDatabase(db, 'courses')).toEqual(before);
    // A repeated Delete (CloudFormation retries) is a no-op.
    expect((await play(del(dumpB))).status).toBe('SUCCESS');
  });

  test('8. Delete of a replaced resource leaves the parameters of the database that replaced it', async () => {
    await ssm.send(new PutParameterCommand({ Name: `${PREFIX}/name`, Value: 'courses2', Type: 'String' }));
    const out = await play({ ...del(dumpA), PhysicalResourceId: 'rushhour-import-courses' });
    expect(out.status).toBe('SUCCESS');
    expect(await parameters()).toEqual({ name: 'courses2' });
  });
});
