/**
 * The rehearsal: the whole course-selection week on one machine, on real parts (MariaDB, OpenSSH,
 * HAProxy, k6, moto for the AWS APIs), through the same modules that run in AWS and in the operator CLI.
 * Each step is a plain function call into those modules; nothing here re-implements them.
 */
import { ChildProcess, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParametersByPathCommand, SSMClient } from '@aws-sdk/client-ssm';
import { bundleReferenceApp } from '../../app/bundle';
import { awsEdge } from '../../lambda/import-dump/aws';
import { checkComplete, handleEvent, timeBudgetMs } from '../../lambda/import-dump/handler';
import { runLoadTest, LoadTestResult } from '../../loadtest/lib/runner';
import { loadConfig, RushhourConfig } from '../../lib/config';
import { PROGRESS_TABLE, SSM_KEYS, ssmPrefixFor } from '../../lib/contracts';
import { extractUnitFile, parseUnitFile, renderUserData } from '../bootstrap/user-data';
import { localInvoker } from '../aws/export-invoker';
import { costQuote } from '../cost/config-quote';
import { pullDb } from '../origin/pull-db';
import { checksumsFileFor, PullRecord } from '../origin/pull-record';
import { pullWeb, PullWebResult } from '../origin/pull-web';
import { syncBack, SyncBackResult } from '../origin/sync-back';
import { formatQuote, Quote } from '../cost/quote';
import { LocalBalancers, startBalancers } from '../local/haproxy';
import { seedCourseDatabase } from '../local/course-db';
import { localOriginOptions } from '../local/origin';
import { LocalMariaDb, startMariaDb } from '../local/mariadb';
import { LocalMoto, startMoto } from '../local/moto';
import { connectRunner } from '../verify/runner';
import { freePort } from '../local/ports';
import { spawnOwned, stopProcess, waitUntilListening } from '../local/process';
import { LocalSshd, startSshd } from '../local/sshd';
import type { OriginOptions } from '../ssh/origin';
import { sha256File } from '../util/sha256';

export interface RehearsalOptions {
  /** The deployment config: its site name, database name, load balancer count and cost inputs. */
  readonly configFile: string;
  /** Where the report, chart and pulled files go. */
  readonly outDir: string;
  /** App processes behind each balancer (the "instances" of each Auto Scaling group). @default 2 */
  readonly processesPerBalancer?: number;
  /** Peak arrival rate of the k6 rush, requests per second. @default 400 */
  readonly peak?: number;
  /** Duration of the k6 rush. @default '90s' */
  readonly duration?: string;
  /** Seeded courses and students at the origin. @default 43 and 2000 */
  readonly courses?: number;
  readonly students?: number;
  /** p95 threshold of the rush, ms. @default 500 */
  readonly p95Ms?: number;
  /** Time budget of one import slice, as the Lambda's remaining time would set it. @default 60000 */
  readonly importSliceMs?: number;
  /** PATH of the app processes (the CLI passes its own). @default '/usr/bin:/bin' */
  readonly path?: string;
  /** Stops the rehearsal early; teardown still runs. */
  readonly signal?: AbortSignal;
  readonly log?: (message: string) => void;
}

export interface ProcessCapacity {
  readonly balancer: number;
  readonly process: number;
  readonly requests: number;
  readonly requestsPerSecond: number;
}

export interface RehearsalReport {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly steps: Array<{ name: string; seconds: number }>;
  readonly pulled: { dumpBytes: number; dumpSha256: string; webSha256: string; webBytes: number };
  readonly imported: { statements: number; slices: number; ssmParameters: string[] };
  readonly load: {
    passed: boolean;
    failures: string[];
    requests: number;
    requestsPerSecond: number;
    peakRequestsPerSecond: number;
    latencyMs: { p50: number; p95: number; p99: number };
    errorsByStatus: Record<string, number>;
    overloaded: number;
    perProcess: ProcessCapacity[];
  };
  readonly registrations: {
    cloud: number;
    origin: number;
    oversoldAtOrigin: number;
    missingAtOrigin: number;
    /**
     * From each app process's /healthz: how many group-committed (the routine came through the import) and
     * in how many round trips.
     */
    path: { processes: number; batchedProcesses: number; batchedRegistrations: number; batches: number };
  };
  readonly syncBack: { identical: boolean; tables: number };
  readonly cost: Quote;
  readonly files: { report: string; json: string; chart: string; loadSummary: string };
}

/** Runs the cleanups in reverse order, each at most once, whatever failed before. */
export class Teardown {
  private readonly steps: Array<{ name: string; run: () => Promise<void> | void }> = [];
  add(name: string, run: () => Promise<void> | void): void {
    this.steps.push({ name, run });
  }
  async run(log: (m: string) => void): Promise<void> {
    while (this.steps.length) {
      const s = this.steps.pop()!;
      try {
        await s.run();
      } catch (err) {
        log(`teardown: ${s.name}: ${(err as Error).message}`);
      }
    }
  }
}

const secret = () => randomBytes(18).toString('base64url');

/** Counts registrations and oversold courses (taken above seats, or taken not matching the rows). */
function registrationFacts(db: LocalMariaDb, database: string): { registrations: number; oversold: number } {
  const out = db
    .sql(
      `SELECT (SELECT COUNT(*) FROM registrations),
    (SELECT COUNT(*) FROM courses c WHERE c.taken > c.seats
       OR c.taken <> (SELECT COUNT(*) FROM registrations r WHERE r.course_id = c.id))`,
      database,
    )
    .trim()
    .split('\t');
  return { registrations: Number(out[0]), oversold: Number(out[1]) };
}

/** Every registration as "student:course", to show that each one made in the cloud is at the origin. */
function registrationRows(db: LocalMariaDb, database: string): string[] {
  return db.sql("SELECT CONCAT(student_id, ':', course_id) FROM registrations", database).split('\n').filter(Boolean);
}

/** Parses HAProxy's CSV stats into total requests per server of each backend `groupN`. */
export function requestsPerServer(csv: string): Array<{ balancer: number; process: number; requests: number }> {
  const [header, ...rows] = csv.replace(/^# /, '').trim().split('\n');
  const cols = header.split(',');
  const px = cols.indexOf('pxname');
  const sv = cols.indexOf('svname');
  const stot = cols.indexOf('stot');
  return rows
    .map((r) => r.split(','))
    .filter((r) => /^group\d+$/.test(r[px]) && /^i\d+$/.test(r[sv]))
    .map((r) => ({ balancer: Number(r[px].slice(5)), process: Number(r[sv].slice(1)), requests: Number(r[stot]) }));
}

/** What every step shares: the inputs, the work directory and the teardown list. */
export interface Rehearsal {
  readonly options: Pick<RehearsalOptions, 'importSliceMs' | 'signal'>;
  readonly log: (message: string) => void;
  readonly config: RushhourConfig;
  readonly database: string;
  readonly ssmPrefix: string;
  readonly students: number;
  readonly outDir: string;
  readonly work: string;
  readonly teardown: Teardown;
}

export /** The reference rehearsal's steps also read its own options (seed sizes, rush, processes). */
interface ReferenceRehearsal extends Rehearsal {
  readonly options: RehearsalOptions;
}

export interface Origin {
  readonly db: LocalMariaDb;
  readonly sshd: LocalSshd;
  readonly www: string;
  /** The CLI's origin options for it; credentials stay on the origin (root over the socket, an option file there). */
  readonly options: OriginOptions & { stateFile: string; log: (m: string) => void };
}

export interface Cloud {
  readonly db: LocalMariaDb;
  readonly moto: LocalMoto;
  readonly s3: S3Client;
  readonly slices: number;
  readonly names: string[];
  readonly statements: number;
  readonly masterSecretArn: string;
  /** A read-only login on the cloud database for the row-level proof (an operator uses a tunnel and a read user). */
  readonly verifier: { readonly user: string; readonly password: string };
}

/** The export bucket the rehearsal's "data stack" has. */
const EXPORT_BUCKET = 'rehearsal-exports';
const ASSET_BUCKET = 'rehearsal-assets';

/** 1. The origin: MariaDB with the course-selection data, its web directory, reachable over a real sshd. */
async function startOrigin(r: ReferenceRehearsal): Promise<Origin> {
  const [db, sshd] = await Promise.all([startMariaDb(), startSshd()]);
  r.teardown.add('origin MariaDB', () => db.stop());
  r.teardown.add('origin sshd', () => sshd.stop());
  await seedCourseDatabase(db, { database: r.database, courses: r.options.courses ?? 43, students: r.students });
  // The site's web directory on the origin: the reference app bundle, as the operator's site would be.
  const www = path.join(db.dir, 'www', 'site');
  fs.mkdirSync(www, { recursive: true });
  bundleReferenceApp(path.join(www, 'app.js'));
  r.log(`origin MariaDB on 127.0.0.1:${db.port}, sshd on 127.0.0.1:${sshd.port} (host key ${sshd.hostKeyFingerprint})`);
  const options = { ...localOriginOptions(sshd, db), stateFile: path.join(r.work, 'state.json'), log: r.log };
  return { db, sshd, www, options };
}

/** 2. pull-db and pull-web over SSH, verified by sha256 on both ends. */
export async function pullFromOrigin(r: Rehearsal, origin: Origin): Promise<{ db: PullRecord; web: PullWebResult }> {
  const out = path.join(r.outDir, 'pulled');
  const db = await pullDb({ ...origin.options, database: r.database, out, restart: true });
  const web = await pullWeb({ ...origin.options, path: origin.www, out, restart: true });
  return { db, web };
}

/**
 * The import's properties that follow from the config beyond the reference app's: rushhour's sessions table for a
 * PHP site with database sessions, and the dump's allowances. Absent when not needed, as the CDK construct omits them.
 */
export function importSiteProperties(config: RushhourConfig): Record<string, string> {
  const site = config.web.site;
  return {
    ...(site?.runtime === 'php' && site.sessions === 'database' ? { SessionsTable: 'true' } : {}),
    ...(config.import.allowStatements.length ? { AllowStatements: config.import.allowStatements.join(',') } : {}),
    ...(config.import.allowIncompleteDump ? { AllowIncompleteDump: 'true' } : {}),
  };
}

/**
 * 3. The "cloud": an RDS-like MariaDB (master without SUPER), moto for S3/Secrets Manager/SSM, and the
 *    import custom resource's own handler, driven as the Provider framework drives it, its AWS edge
 *    pointed at moto explicitly.
 */
export async function importIntoCloud(r: Rehearsal, pulled: PullRecord): Promise<Cloud> {
  const [db, moto] = await Promise.all([startMariaDb(), startMoto(r.config.region)]);
  r.teardown.add('cloud MariaDB', () => db.stop());
  r.teardown.add('moto', () => moto.stop());
  const masterPassword = secret();
  db.createRdsLikeMaster('admin', masterPassword);
  const verifier = { user: 'verifier', password: secret() };
  db.createUser(verifier.user, verifier.password, 'SELECT ON *.*');
  // What CloudFormation would have made: the dump asset in S3, the master and app secrets, the export bucket.
  const s3 = new S3Client(moto.clientConfig);
  r.teardown.add('s3 client', () => s3.destroy());
  for (const Bucket of [ASSET_BUCKET, EXPORT_BUCKET]) await s3.send(new CreateBucketCommand({ Bucket }));
  const dumpKey = `${pulled.dumpSha256}.sql.gz`;
  await s3.send(new PutObjectCommand({ Bucket: ASSET_BUCKET, Key: dumpKey, Body: fs.readFileSync(pulled.dumpFile) }));
  const sm = new SecretsManagerClient(moto.clientConfig);
  const master = await sm.send(
    new CreateSecretCommand({
      Name: `${r.config.siteName}/master`,
      SecretString: JSON.stringify({
        engine: 'mysql',
        host: db.host,
        port: db.port,
        username: 'admin',
        password: masterPassword,
        dbname: r.database,
      }),
    }),
  );
  const app = await sm.send(
    new CreateSecretCommand({
      Name: `${r.config.siteName}/app`,
      SecretString: JSON.stringify({ username: 'rushhour_app', password: secret() }),
    }),
  );
  sm.destroy();
  const ResourceProperties = {
    ServiceToken: 'arn:aws:lambda:us-east-1:000000000000:function:rehearsal-provider',
    DumpBucket: ASSET_BUCKET,
    DumpKey: dumpKey,
    DumpAssetHash: pulled.dumpSha256,
    MasterSecretArn: master.ARN!,
    AppSecretArn: app.ARN!,
    DatabaseName: r.database,
    SsmPrefix: r.ssmPrefix,
    AllowReimport: 'false',
    ...importSiteProperties(r.config),
  };
  const created = await handleEvent({ RequestType: 'Create', ResourceProperties }, { log: r.log });
  const edge = awsEdge(moto.clientConfig);
  const sliceMs = r.options.importSliceMs ?? 60000;
  let slices = 0;
  for (;;) {
    slices++;
    // Each slice gets the budget a Lambda with sliceMs left would compute.
    const res = await checkComplete(
      // As the Provider framework does: onEvent's Data (the import's wall-clock deadline) merged into the event.
      { RequestType: 'Create', ResourceProperties, PhysicalResourceId: created.PhysicalResourceId, Data: created.Data },
      { edge, timeBudgetMs: timeBudgetMs(sliceMs), log: r.log },
    );
    if (res.IsComplete) break;
    if (slices > 1000) throw new Error('the import did not complete in 1000 slices');
  }
  const ssm = new SSMClient(moto.clientConfig);
  const params = await ssm.send(new GetParametersByPathCommand({ Path: r.ssmPrefix, Recursive: true }));
  ssm.destroy();
  const names = (params.Parameters ?? []).map((p) => p.Name!).sort();
  if (names.length < SSM_KEYS.length)
    throw new Error(
      `the import wrote ${names.length} SSM parameters under ${r.ssmPrefix}, expected ${SSM_KEYS.length}`,
    );
  const statements = Number(
    db.sql(`SELECT COALESCE(MAX(statements_done), 0) FROM ${PROGRESS_TABLE}`, r.database).trim() || 0,
  );
  r.log(`imported in ${slices} slice(s); DB config in SSM: ${names.join(', ')}`);
  return { db, moto, s3, slices, names, statements, masterSecretArn: master.ARN!, verifier };
}

interface WebTier {
  readonly lbs: LocalBalancers;
  readonly children: ChildProcess[];
  readonly appPorts: number[];
}

/** One "instance": the bundle installed as user data installs it, started as its systemd unit starts it. */
async function startInstance(
  r: ReferenceRehearsal,
  cloud: Cloud,
  bundle: { file: string; sha256: string },
  name: string,
): Promise<{ child: ChildProcess; port: number }> {
  const installDir = path.join(r.work, `instance-${name}`);
  fs.mkdirSync(installDir);
  fs.copyFileSync(bundle.file, path.join(installDir, 'app.js'));
  if ((await sha256File(path.join(installDir, 'app.js'))) !== bundle.sha256) {
    throw new Error(`bundle checksum mismatch in ${installDir}`);
  }
  fs.symlinkSync(process.execPath, path.join(installDir, 'node'));
  const port = await freePort();
  const unit = parseUnitFile(
    extractUnitFile(
      renderUserData({
        bundleS3Url: `s3://${ASSET_BUCKET}/site/app.js`,
        bundleSha256: bundle.sha256,
        kind: 'node-single-file',
        port,
        healthCheckPath: r.config.web.healthCheckPath,
        ssmPrefix: r.ssmPrefix,
        region: r.config.region,
        installDir,
      }),
    ),
  );
  const env = {
    ...unit.env,
    // Only what differs from an instance: loopback, moto instead of AWS (dummy credentials where the
    // instance role would answer), and one worker per process since all "instances" share two cores.
    HOST: '127.0.0.1',
    RUSHHOUR_WORKERS: '1',
    PATH: r.options.path ?? '/usr/bin:/bin',
    AWS_ENDPOINT_URL: cloud.moto.endpoint,
    AWS_ACCESS_KEY_ID: cloud.moto.clientConfig.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: cloud.moto.clientConfig.credentials.secretAccessKey,
  };
  const logFile = fs.openSync(path.join(r.outDir, `app-${name}.log`), 'w');
  const child = spawnOwned(unit.execStart[0], unit.execStart.slice(1), {
    cwd: installDir,
    env,
    stdio: ['ignore', logFile, logFile],
  });
  r.teardown.add(`app ${name}`, () => stopProcess(child, 30000));
  return { child, port };
}

/**
 * 4. The web tier: app processes started from the pulled bundle exactly as the instance's systemd unit
 *    starts them, behind one HAProxy frontend per load balancer.
 */
async function startWebTier(r: ReferenceRehearsal, cloud: Cloud, web: PullWebResult): Promise<WebTier> {
  const balancers = r.config.loadBalancers.count;
  const perBalancer = r.options.processesPerBalancer ?? 2;
  const extracted = path.join(r.work, 'bundle');
  fs.mkdirSync(extracted);
  execFileSync('tar', ['-xzf', web.archive, '-C', extracted]);
  // pull-web puts the site directory's contents at the archive's root.
  const file = path.join(extracted, 'app.js');
  const bundle = { file, sha256: await sha256File(file) };
  const children: ChildProcess[] = [];
  const specs: Array<{ backendPorts: number[] }> = [];
  for (let b = 0; b < balancers; b++) {
    const ports: number[] = [];
    for (let i = 0; i < perBalancer; i++) {
      const { child, port } = await startInstance(r, cloud, bundle, `${b + 1}-${i + 1}`);
      children.push(child);
      ports.push(port);
    }
    specs.push({ backendPorts: ports });
  }
  for (const [k, child] of children.entries()) {
    const port = specs[Math.floor(k / perBalancer)].backendPorts[k % perBalancer];
    await waitUntilListening(child, port, `app process ${k + 1} (log in ${r.outDir})`, 60000);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    if (ready.status !== 200)
      throw new Error(`app process on port ${port} is not ready: /readyz answered ${ready.status}`);
  }
  const lbs = await startBalancers(specs, { healthCheckPath: r.config.web.healthCheckPath });
  r.teardown.add('HAProxy', () => lbs.stop());
  r.log(`balancers: ${lbs.urls.join(', ')}`);
  return { lbs, children, appPorts: specs.flatMap((s) => s.backendPorts) };
}

/** 5. The rush: k6 across the balancers, weighted as the Route53 records weight them. */
async function rush(r: ReferenceRehearsal, web: WebTier): Promise<LoadTestResult> {
  const weights = r.config.loadBalancers.weights ?? web.lbs.urls.map(() => 1);
  const result = await runLoadTest({
    scenario: 'rush',
    targets: web.lbs.urls.map((u, i) => `${u}=${weights[i]}`),
    peak: r.options.peak ?? 400,
    duration: r.options.duration ?? '90s',
    students: r.students,
    p95Ms: r.options.p95Ms ?? 500,
    outDir: path.join(r.outDir, 'loadtest'),
    signal: r.options.signal,
  });
  r.log(result.summaryText);
  return result;
}

/** What the web tier did during the rush: requests per process (HAProxy) and the registration path (/healthz). */
async function webTierFacts(
  web: WebTier,
  load: LoadTestResult,
): Promise<{ perProcess: ProcessCapacity[]; registrationPath: RehearsalReport['registrations']['path'] }> {
  const stats = await (await fetch(`${web.lbs.statsUrl};csv`)).text();
  const seconds = Math.max(1, load.analysis.durationSeconds);
  const perProcess = requestsPerServer(stats).map((s) => ({
    ...s,
    requestsPerSecond: Math.round((s.requests / seconds) * 10) / 10,
  }));
  const counters = await Promise.all(
    web.appPorts.map(
      async (port) =>
        (await fetch(`http://127.0.0.1:${port}/healthz`)).json() as Promise<{
          registrations: string;
          registrationBatches: number;
          registrationsBatched: number;
        }>,
    ),
  );
  const registrationPath = {
    processes: counters.length,
    batchedProcesses: counters.filter((c) => c.registrations === 'batched').length,
    batchedRegistrations: counters.reduce((a, c) => a + c.registrationsBatched, 0),
    batches: counters.reduce((a, c) => a + c.registrationBatches, 0),
  };
  return { perProcess, registrationPath };
}

/** 6. sync-back: export the cloud database with the export Lambda's handler, push it to the origin, prove it. */
export function syncBackToOrigin(
  r: Rehearsal,
  origin: Origin,
  cloud: Cloud,
  pulled: PullRecord,
): Promise<SyncBackResult> {
  const settings = { bucket: EXPORT_BUCKET, masterSecretArn: cloud.masterSecretArn, database: r.database };
  return syncBack({
    ...origin.options,
    database: r.database,
    invoker: localInvoker(settings, cloud.moto.clientConfig, r.log),
    s3: cloud.s3,
    out: path.join(r.outDir, 'sync-back'),
    pulled: checksumsFileFor(pulled.dumpFile),
    replaceOriginData: true,
    restart: true,
    backupDir: path.join(origin.db.dir, 'backups'),
    // The verdict is the row-level proof (portable across server versions); CHECKSUM TABLE is logged only.
    cloudDb: () => connectRunner({ host: '127.0.0.1', port: cloud.db.port, ...cloud.verifier, database: r.database }),
  });
}

/** The context every rehearsal starts from, and the step runner that times each step and names it in errors. */
export function beginRehearsal<O extends Rehearsal['options']>(
  options: O & { configFile: string; outDir: string; log?: (m: string) => void },
  students = 0,
): {
  r: Rehearsal & { options: O };
  steps: RehearsalReport['steps'];
  step: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
} {
  const log = options.log ?? ((m: string) => console.log(m));
  const config = loadConfig(options.configFile, { checkFiles: false });
  const outDir = path.resolve(options.outDir);
  fs.mkdirSync(outDir, { recursive: true });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-rehearsal-'));
  const teardown = new Teardown();
  teardown.add('work directory', () => fs.rmSync(work, { recursive: true, force: true }));
  const r = {
    options,
    log,
    config,
    database: config.database.databaseName,
    ssmPrefix: ssmPrefixFor(config.siteName),
    students,
    outDir,
    work,
    teardown,
  };
  const steps: RehearsalReport['steps'] = [];
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    if (options.signal?.aborted) throw new Error('rehearsal interrupted');
    log(`\n== ${name}`);
    const t0 = Date.now();
    try {
      const result = await fn();
      steps.push({ name, seconds: Math.round((Date.now() - t0) / 100) / 10 });
      return result;
    } catch (err) {
      throw new Error(`step "${name}" failed: ${(err as Error).message}`, { cause: err });
    }
  };
  return { r, steps, step };
}

export async function rehearse(options: RehearsalOptions): Promise<RehearsalReport> {
  const { r, steps, step } = beginRehearsal(options, options.students ?? 2000);
  const { log, config, outDir, teardown } = r;
  const startedAt = new Date().toISOString();

  try {
    const origin = await step('1. start the origin (MariaDB + sshd), seed the course-selection data', () =>
      startOrigin(r),
    );
    const pulled = await step('2. pull-db and pull-web from the origin over SSH', () => pullFromOrigin(r, origin));
    const cloud = await step('3. import the pulled dump with the import custom resource handler', () =>
      importIntoCloud(r, pulled.db),
    );
    const balancers = config.loadBalancers.count;
    const perBalancer = options.processesPerBalancer ?? 2;
    const web = await step(
      `4. start ${balancers} x ${perBalancer} app processes from the bundle behind ${balancers} HAProxy balancers`,
      () => startWebTier(r, cloud, pulled.web),
    );
    const load = await step('5. k6 rush across the balancers (pages and registrations)', () => rush(r, web));
    const { perProcess, registrationPath } = await webTierFacts(web, load);
    const cloudFacts = registrationFacts(cloud.db, r.database);

    // Scale-in: the web tier goes first (SIGTERM drains in-flight requests), as `cdk destroy` of the web stack would.
    await step('   drain and stop the web tier', async () => {
      await web.lbs.stop();
      await Promise.all(web.children.map((c) => stopProcess(c, 30000)));
    });

    const synced = await step('6. sync-back to the origin, proven by checksums', () =>
      syncBackToOrigin(r, origin, cloud, pulled.db),
    );
    const originFacts = registrationFacts(origin.db, r.database);
    const originRows = new Set(registrationRows(origin.db, r.database));
    const missing = registrationRows(cloud.db, r.database).filter((row) => !originRows.has(row)).length;

    // 7. The report and the quote for the configured week.
    const files = {
      report: path.join(outDir, 'report.txt'),
      json: path.join(outDir, 'report.json'),
      chart: load.files.chartHtml,
      loadSummary: load.files.summaryJson,
    };
    const report: RehearsalReport = {
      startedAt,
      finishedAt: new Date().toISOString(),
      steps,
      pulled: {
        dumpBytes: pulled.db.dumpBytes,
        dumpSha256: pulled.db.dumpSha256,
        webSha256: pulled.web.sha256,
        webBytes: pulled.web.bytes,
      },
      imported: { statements: cloud.statements, slices: cloud.slices, ssmParameters: cloud.names },
      load: {
        passed: load.passed,
        failures: load.failures,
        requests: load.analysis.requests,
        requestsPerSecond: load.analysis.requestsPerSecond,
        peakRequestsPerSecond: load.analysis.peakRequestsPerSecond,
        latencyMs: {
          p50: load.analysis.latencyMs.p50,
          p95: load.analysis.latencyMs.p95,
          p99: load.analysis.latencyMs.p99,
        },
        errorsByStatus: load.analysis.errorsByStatus,
        overloaded: load.analysis.overloaded,
        perProcess,
      },
      registrations: {
        cloud: cloudFacts.registrations,
        origin: originFacts.registrations,
        oversoldAtOrigin: originFacts.oversold,
        missingAtOrigin: missing,
        path: registrationPath,
      },
      syncBack: { identical: synced.identical, tables: synced.tables.length },
      cost: costQuote({ config: options.configFile }),
      files,
    };
    fs.writeFileSync(files.json, JSON.stringify(report, null, 2));
    fs.writeFileSync(files.report, formatReport(report));
    return report;
  } finally {
    log('\n== teardown');
    await teardown.run(log);
  }
}

/** The verdict: every step ran, the rush held its thresholds, and every registration is home with no seat oversold. */
export function rehearsalFailures(r: RehearsalReport): string[] {
  const problems: string[] = [];
  if (!r.load.passed) problems.push(`the rush failed its thresholds: ${r.load.failures.join('; ')}`);
  if (r.registrations.cloud === 0) problems.push('the rush made no registration');
  if (r.registrations.missingAtOrigin !== 0 || r.registrations.origin !== r.registrations.cloud) {
    problems.push(`registrations: ${r.registrations.cloud} in the cloud, ${r.registrations.origin} at the origin`);
  }
  if (r.registrations.oversoldAtOrigin !== 0)
    problems.push(`${r.registrations.oversoldAtOrigin} course(s) oversold at the origin`);
  const unbatched = r.registrations.path.processes - r.registrations.path.batchedProcesses;
  if (unbatched > 0) {
    problems.push(
      `${unbatched} app process(es) registered one transaction at a time: the group-commit routine or the app user's EXECUTE grant did not come through the import`,
    );
  }
  if (!r.syncBack.identical)
    problems.push('sync-back: the origin differs from the cloud database (see the table comparison)');
  return problems;
}

export function formatReport(r: RehearsalReport): string {
  const pad = (s: string | number, n: number) => String(s).padEnd(n);
  const lines = [
    'rushhour rehearsal report',
    `${r.startedAt} .. ${r.finishedAt}`,
    '',
    'steps:',
    ...r.steps.map((s) => `  ${pad(s.name, 92)} ${s.seconds} s`),
    '',
    `pulled: dump ${r.pulled.dumpBytes} bytes (sha256 ${r.pulled.dumpSha256.slice(0, 16)}...), web ${r.pulled.webBytes} bytes, both verified on both ends`,
    `imported: ${r.imported.statements} statements in ${r.imported.slices} slice(s); SSM: ${r.imported.ssmParameters.length} parameters`,
    '',
    `load (k6 rush): ${r.load.passed ? 'PASSED' : 'FAILED'}; ${r.load.requests} requests, ${r.load.requestsPerSecond} req/s average, ${r.load.peakRequestsPerSecond} req/s peak`,
    `  latency p50 ${r.load.latencyMs.p50} ms, p95 ${r.load.latencyMs.p95} ms, p99 ${r.load.latencyMs.p99} ms`,
    `  errors by status: ${JSON.stringify(r.load.errorsByStatus)}; overloaded (503): ${r.load.overloaded}`,
    ...r.load.failures.map((f) => `  failure: ${f}`),
    '  capacity reached per app process (requests through the balancer / rush seconds):',
    ...r.load.perProcess.map(
      (p) => `    balancer ${p.balancer} process ${p.process}: ${p.requests} requests, ${p.requestsPerSecond} req/s`,
    ),
    `  total: ${r.load.perProcess.reduce((a, p) => a + p.requests, 0)} requests`,
    '',
    `registrations: ${r.registrations.cloud} made in the cloud, ${r.registrations.origin} at the origin after sync-back; ` +
      `oversold courses at the origin: ${r.registrations.oversoldAtOrigin}`,
    `  group commit: ${r.registrations.path.batchedProcesses} of ${r.registrations.path.processes} app processes; ` +
      `${r.registrations.path.batchedRegistrations} registrations in ${r.registrations.path.batches} round trips`,
    `sync-back: ${r.syncBack.tables} tables compared, ${r.syncBack.identical ? 'identical (row by row; CHECKSUM TABLE beside it)' : 'DIFFERENT'}`,
    '',
    formatQuote(r.cost, 'cost quote for the configured week'),
    '',
    `files: ${r.files.report}, ${r.files.json}, chart ${r.files.chart}`,
  ];
  const failures = rehearsalFailures(r);
  lines.push(
    '',
    failures.length
      ? `VERDICT: FAILED\n${failures.map((f) => `  - ${f}`).join('\n')}`
      : 'VERDICT: the week holds, and every registration is home.',
  );
  return lines.join('\n') + '\n';
}
