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
import { isComplete, onEvent } from '../../lambda/import-dump';
import { runLoadTest, LoadTestResult } from '../../loadtest/lib/runner';
import { loadConfig } from '../../lib/config';
import { extractUnitFile, parseUnitFile, renderUserData } from '../bootstrap/user-data';
import { checksumsFileFor, pullDb } from '../origin/pull-db';
import { pullWeb } from '../origin/pull-web';
import { localInvoker, syncBack, SyncBackResult } from '../origin/sync-back';
import { costQuote } from '../cli/commands/cost';
import { formatQuote, Quote } from '../cost/quote';
import { startBalancers } from '../local/haproxy';
import { seedCourseDatabase } from '../local/course-db';
import { localOriginOptions } from '../local/origin';
import { LocalMariaDb, startMariaDb } from '../local/mariadb';
import { startMoto } from '../local/moto';
import { freePort } from '../local/ports';
import { spawnOwned, stopProcess, waitUntilListening } from '../local/process';
import { startSshd } from '../local/sshd';
import { sha256File } from '../sql/dump-source';

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
    /** From each app process's /healthz: how many group-committed (the routine came through the import) and in how many round trips. */
    path: { processes: number; batchedProcesses: number; batchedRegistrations: number; batches: number };
  };
  readonly syncBack: { identical: boolean; tables: number };
  readonly cost: Quote;
  readonly files: { report: string; json: string; chart: string; loadSummary: string };
}

/** Runs the cleanups in reverse order, each at most once, whatever failed before. */
class Teardown {
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

export async function rehearse(options: RehearsalOptions): Promise<RehearsalReport> {
  const log = options.log ?? ((m: string) => console.log(m));
  const config = loadConfig(options.configFile, { checkFiles: false });
  const database = config.database.databaseName;
  const balancers = config.loadBalancers.count;
  const perBalancer = options.processesPerBalancer ?? 2;
  const students = options.students ?? 2000;
  const ssmPrefix = `/rushhour/${config.siteName}/db`;
  const outDir = path.resolve(options.outDir);
  fs.mkdirSync(outDir, { recursive: true });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-rehearsal-'));
  const stateFile = path.join(work, 'state.json');
  const teardown = new Teardown();
  teardown.add('work directory', () => fs.rmSync(work, { recursive: true, force: true }));
  const steps: RehearsalReport['steps'] = [];
  const startedAt = new Date().toISOString();
  const savedEnv = { ...process.env };
  teardown.add('environment', () => {
    process.env = savedEnv;
  });

  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    if (options.signal?.aborted) throw new Error('rehearsal interrupted');
    log(`\n== ${name}`);
    const t0 = Date.now();
    try {
      const result = await fn();
      steps.push({ name, seconds: Math.round((Date.now() - t0) / 100) / 10 });
      return result;
    } catch (err) {
      throw new Error(`step "${name}" failed: ${(err as Error).message}`);
    }
  };

  try {
    // 1. The origin: MariaDB with the course-selection data, its web directory, reachable over a real sshd.
    const origin = await step('1. start the origin (MariaDB + sshd), seed the course-selection data', async () => {
      const [db, sshd] = await Promise.all([startMariaDb(), startSshd()]);
      teardown.add('origin MariaDB', () => db.stop());
      teardown.add('origin sshd', () => sshd.stop());
      await seedCourseDatabase(db, { database, courses: options.courses ?? 43, students });
      // The site's web directory on the origin: the reference app bundle, as the operator's site would be.
      const www = path.join(db.dir, 'www', 'site');
      fs.mkdirSync(www, { recursive: true });
      bundleReferenceApp(path.join(www, 'app.js'));
      log(
        `origin MariaDB on 127.0.0.1:${db.port}, sshd on 127.0.0.1:${sshd.port} (host key ${sshd.hostKeyFingerprint})`,
      );
      return { db, sshd, www };
    });
    // Credentials stay on the origin: its mysql/mysqldump read an option file there (root over the socket).
    const originOptions = { ...localOriginOptions(origin.sshd, origin.db), stateFile, log };

    // 2. pull-db and pull-web over SSH, verified by sha256 on both ends.
    const pulled = await step('2. pull-db and pull-web from the origin over SSH', async () => {
      const out = path.join(outDir, 'pulled');
      const db = await pullDb({ ...originOptions, database, out, restart: true });
      const web = await pullWeb({ ...originOptions, path: origin.www, out, restart: true });
      return { db, web };
    });

    // 3. The "cloud": an RDS-like MariaDB (master without SUPER), moto for S3/Secrets Manager/SSM, and the
    //    import custom resource's own handler, driven as the Provider framework drives it.
    const cloud = await step('3. import the pulled dump with the import custom resource handler', async () => {
      const [db, moto] = await Promise.all([startMariaDb(), startMoto(config.region)]);
      teardown.add('cloud MariaDB', () => db.stop());
      teardown.add('moto', () => moto.stop());
      const masterPassword = secret();
      db.createRdsLikeMaster('admin', masterPassword);
      Object.assign(process.env, {
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_REGION: moto.region,
        AWS_ACCESS_KEY_ID: moto.clientConfig.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: moto.clientConfig.credentials.secretAccessKey,
      });
      // What CloudFormation would have made: the dump asset in S3, the master and app secrets, the export bucket.
      const s3 = new S3Client(moto.clientConfig);
      teardown.add('s3 client', () => s3.destroy());
      for (const Bucket of ['rehearsal-assets', 'rehearsal-exports'])
        await s3.send(new CreateBucketCommand({ Bucket }));
      const dumpKey = `${pulled.db.dumpSha256}.sql.gz`;
      await s3.send(
        new PutObjectCommand({ Bucket: 'rehearsal-assets', Key: dumpKey, Body: fs.readFileSync(pulled.db.dumpFile) }),
      );
      const sm = new SecretsManagerClient(moto.clientConfig);
      const master = await sm.send(
        new CreateSecretCommand({
          Name: `${config.siteName}/master`,
          SecretString: JSON.stringify({
            engine: 'mysql',
            host: db.host,
            port: db.port,
            username: 'admin',
            password: masterPassword,
            dbname: database,
          }),
        }),
      );
      const app = await sm.send(
        new CreateSecretCommand({
          Name: `${config.siteName}/app`,
          SecretString: JSON.stringify({ username: 'rushhour_app', password: secret() }),
        }),
      );
      sm.destroy();
      const ResourceProperties = {
        ServiceToken: 'arn:aws:lambda:us-east-1:000000000000:function:rehearsal-provider',
        DumpBucket: 'rehearsal-assets',
        DumpKey: dumpKey,
        DumpAssetHash: pulled.db.dumpSha256,
        MasterSecretArn: master.ARN!,
        AppSecretArn: app.ARN!,
        DatabaseName: database,
        SsmPrefix: ssmPrefix,
        AllowReimport: 'false',
      };
      const created = await onEvent({ RequestType: 'Create', ResourceProperties });
      const sliceMs = options.importSliceMs ?? 60000;
      let slices = 0;
      for (;;) {
        slices++;
        const started = Date.now();
        const res = await isComplete(
          { RequestType: 'Create', ResourceProperties, PhysicalResourceId: created.PhysicalResourceId },
          { getRemainingTimeInMillis: () => sliceMs - (Date.now() - started) },
        );
        if (res.IsComplete) break;
        if (slices > 1000) throw new Error('the import did not complete in 1000 slices');
      }
      const ssm = new SSMClient(moto.clientConfig);
      const params = await ssm.send(new GetParametersByPathCommand({ Path: ssmPrefix, Recursive: true }));
      ssm.destroy();
      const names = (params.Parameters ?? []).map((p) => p.Name!).sort();
      if (names.length < 5)
        throw new Error(`the import wrote ${names.length} SSM parameters under ${ssmPrefix}, expected 5`);
      const statements = Number(
        db.sql(`SELECT COALESCE(MAX(statements_done), 0) FROM rushhour_import_progress`, database).trim() || 0,
      );
      log(`imported in ${slices} slice(s); DB config in SSM: ${names.join(', ')}`);
      Object.assign(process.env, {
        EXPORT_BUCKET: 'rehearsal-exports',
        MASTER_SECRET_ARN: master.ARN!,
        DATABASE_NAME: database,
      });
      return { db, moto, s3, slices, names, statements };
    });

    // 4. The web tier: app processes started from the pulled bundle exactly as the instance's systemd unit
    //    starts them, behind one HAProxy frontend per load balancer.
    const web = await step(
      `4. start ${balancers} x ${perBalancer} app processes from the bundle behind ${balancers} HAProxy balancers`,
      async () => {
        const extracted = path.join(work, 'bundle');
        fs.mkdirSync(extracted);
        execFileSync('tar', ['-xzf', pulled.web.archive, '-C', extracted]);
        const bundle = path.join(extracted, path.basename(origin.www), 'app.js');
        const bundleSha256 = await sha256File(bundle);
        const children: ChildProcess[] = [];
        const specs: Array<{ backendPorts: number[] }> = [];
        for (let b = 0; b < balancers; b++) {
          const ports: number[] = [];
          for (let i = 0; i < perBalancer; i++) {
            const installDir = path.join(work, `instance-${b + 1}-${i + 1}`);
            fs.mkdirSync(installDir);
            fs.copyFileSync(bundle, path.join(installDir, 'app.js'));
            if ((await sha256File(path.join(installDir, 'app.js'))) !== bundleSha256) {
              throw new Error(`bundle checksum mismatch in ${installDir}`);
            }
            fs.symlinkSync(process.execPath, path.join(installDir, 'node'));
            const port = await freePort();
            const unit = parseUnitFile(
              extractUnitFile(
                renderUserData({
                  bundleS3Url: 's3://rehearsal-assets/site/app.js',
                  bundleSha256,
                  kind: 'node-single-file',
                  port,
                  healthCheckPath: config.web.healthCheckPath,
                  ssmPrefix,
                  region: config.region,
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
              PATH: process.env.PATH ?? '/usr/bin:/bin',
              AWS_ENDPOINT_URL: cloud.moto.endpoint,
              AWS_ACCESS_KEY_ID: cloud.moto.clientConfig.credentials.accessKeyId,
              AWS_SECRET_ACCESS_KEY: cloud.moto.clientConfig.credentials.secretAccessKey,
            };
            const logFile = fs.openSync(path.join(outDir, `app-${b + 1}-${i + 1}.log`), 'w');
            const child = spawnOwned(unit.execStart[0], unit.execStart.slice(1), {
              cwd: installDir,
              env,
              stdio: ['ignore', logFile, logFile],
            });
            children.push(child);
            teardown.add(`app ${b + 1}-${i + 1}`, () => stopProcess(child, 30000));
            ports.push(port);
          }
          specs.push({ backendPorts: ports });
        }
        for (const [k, child] of children.entries()) {
          const port = specs[Math.floor(k / perBalancer)].backendPorts[k % perBalancer];
          await waitUntilListening(child, port, `app process ${k + 1} (log in ${outDir})`, 60000);
          const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
          if (ready.status !== 200)
            throw new Error(`app process on port ${port} is not ready: /readyz answered ${ready.status}`);
        }
        const lbs = await startBalancers(specs, { healthCheckPath: config.web.healthCheckPath });
        teardown.add('HAProxy', () => lbs.stop());
        log(`balancers: ${lbs.urls.join(', ')}`);
        return { lbs, children, appPorts: specs.flatMap((s) => s.backendPorts) };
      },
    );

    // 5. The rush: k6 across the three balancers, weighted as the Route53 records weight them.
    const weights = config.loadBalancers.weights ?? web.lbs.urls.map(() => 1);
    const load: LoadTestResult = await step('5. k6 rush across the balancers (pages and registrations)', async () => {
      const result = await runLoadTest({
        scenario: 'rush',
        targets: web.lbs.urls.map((u, i) => `${u}=${weights[i]}`),
        peak: options.peak ?? 400,
        duration: options.duration ?? '90s',
        students,
        p95Ms: options.p95Ms ?? 500,
        outDir: path.join(outDir, 'loadtest'),
        signal: options.signal,
      });
      log(result.summaryText);
      return result;
    });
    const stats = await (await fetch(`${web.lbs.statsUrl};csv`)).text();
    const seconds = Math.max(1, load.analysis.durationSeconds);
    const perProcess = requestsPerServer(stats).map((s) => ({
      ...s,
      requestsPerSecond: Math.round((s.requests / seconds) * 10) / 10,
    }));
    const cloudFacts = registrationFacts(cloud.db, database);
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

    // Scale-in: the web tier goes first (SIGTERM drains in-flight requests), as `cdk destroy` of the web stack would.
    await step('   drain and stop the web tier', async () => {
      await web.lbs.stop();
      await Promise.all(web.children.map((c) => stopProcess(c, 30000)));
    });

    // 6. sync-back: export the cloud database with the export Lambda's handler, push it to the origin, prove it.
    const synced: SyncBackResult = await step('6. sync-back to the origin, proven by checksums', async () =>
      syncBack({
        ...originOptions,
        database,
        invoker: localInvoker(),
        s3: cloud.s3,
        out: path.join(outDir, 'sync-back'),
        pulled: checksumsFileFor(pulled.db.dumpFile),
        replaceOriginData: true,
        restart: true,
        backupDir: path.join(origin.db.dir, 'backups'),
      }),
    );
    const originFacts = registrationFacts(origin.db, database);
    const originRows = new Set(registrationRows(origin.db, database));
    const missing = registrationRows(cloud.db, database).filter((r) => !originRows.has(r)).length;

    // 7. The report and the quote for the configured week.
    const cost = costQuote({ config: options.configFile });
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
      cost,
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
    `sync-back: ${r.syncBack.tables} tables compared, ${r.syncBack.identical ? 'identical (CHECKSUM TABLE and row counts)' : 'DIFFERENT'}`,
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
