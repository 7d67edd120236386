/**
 * The rehearsal of the operator's own site (`rehearse --origin-site DIR --origin-dump FILE --plan FILE`): the origin
 * holds DIR and MariaDB loaded from the dump; then pull-db, pull-web, the import custom resource's handler, instances
 * started from the rendered configs and the boot step (src/local/site-instance.ts), three HAProxy balancers
 * health-checking the front door's path, the plan's rush (loadtest/lib/site-runner.ts), sync-back, and the verdict
 * of loadtest/lib/site-verdict.ts with every acknowledged write counted at the origin after sync-back. The shared
 * steps are the reference rehearsal's (./runbook.ts); each step here is a call into a core module.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { countAll, countQueries, runSiteLoadTest, SiteLoadTestResult } from '../../loadtest/lib/site-runner';
import { SitePlan } from '../../loadtest/lib/site-plan';
import { siteVerdict } from '../../loadtest/lib/site-verdict';
import { costQuote } from '../cost/config-quote';
import { LocalBalancers, startBalancers } from '../local/haproxy';
import { loadDumpInto } from '../local/load-dump';
import { LocalMariaDb, startMariaDb } from '../local/mariadb';
import { localOriginOptions } from '../local/origin';
import { SiteInstance, startSiteInstance } from '../local/site-instance';
import { startSshd } from '../local/sshd';
import type { PullWebResult } from '../origin/pull-web';
import {
  beginRehearsal,
  Cloud,
  importIntoCloud,
  Origin,
  pullFromOrigin,
  Rehearsal,
  requestsPerServer,
  syncBackToOrigin,
} from './runbook';
import { SiteRehearsalInputs } from './site-args';
import { formatSiteReport, SiteRehearsalReport, summaryWithoutVerdict } from './site-report';

export interface SiteRehearsalOptions extends SiteRehearsalInputs {
  /** The deployment config; its `web.site` decides the runtime. */
  readonly configFile: string;
  readonly outDir: string;
  /** Instances behind each balancer. @default 2 */
  readonly processesPerBalancer?: number;
  /** Scale the plan's rush to this peak arrival rate. @default the plan's */
  readonly peak?: number;
  /** Scale the plan's rush to this duration. @default the plan's */
  readonly duration?: string;
  /** @default 60000 */
  readonly importSliceMs?: number;
  readonly signal?: AbortSignal;
  readonly log?: (message: string) => void;
}

/** Counts every count SQL of the plan on a local MariaDB (as root over its socket). */
function rowCounter(db: LocalMariaDb, database: string): (sql: string) => Promise<number> {
  return async (sql) => {
    const value = Number(db.sql(sql, database).trim().split('\n')[0]);
    if (!Number.isFinite(value)) throw new Error(`the plan's count SQL "${sql}" did not return a number`);
    return value;
  };
}

/** 1. The origin: MariaDB loaded from the operator's dump, the site's directory, reachable over a real sshd. */
async function startSiteOrigin(r: Rehearsal, o: SiteRehearsalOptions): Promise<Origin> {
  const [db, sshd] = await Promise.all([startMariaDb(), startSshd()]);
  r.teardown.add('origin MariaDB', () => db.stop());
  r.teardown.add('origin sshd', () => sshd.stop());
  await loadDumpInto(db, r.database, o.originDump);
  r.log(`origin MariaDB on 127.0.0.1:${db.port} holds ${o.originDump}; site directory ${o.originSite}`);
  const options = { ...localOriginOptions(sshd, db), stateFile: path.join(r.work, 'state.json'), log: r.log };
  return { db, sshd, www: o.originSite, options };
}

interface SiteWebTier {
  readonly lbs: LocalBalancers;
  readonly instances: SiteInstance[];
}

/**
 * 4. The web tier: instances of the pulled bundle, each rendered by the boot step and started from its unit files,
 *    behind one HAProxy frontend per load balancer health-checking the front door's path.
 */
async function startSiteWebTier(r: Rehearsal, cloud: Cloud, web: PullWebResult, perBalancer: number) {
  const site = r.config.web.site!;
  const healthCheckPath = r.config.web.healthCheckPath;
  const names = Array.from({ length: r.config.loadBalancers.count * perBalancer }, (_, k) => {
    return `${Math.floor(k / perBalancer) + 1}-${(k % perBalancer) + 1}`;
  });
  // In parallel (each waits on its own php-fpm or Node); each one's teardown is registered as soon as it is up.
  const started = await Promise.allSettled(
    names.map(async (name) => {
      const instance = await startSiteInstance({
        site,
        moto: cloud.moto,
        ssmPrefix: r.ssmPrefix,
        siteSource: { archive: web.archive },
        healthCheckPath,
        // All "instances" share this machine's cores: one nginx worker each.
        nginxWorkers: 1,
        keepLogsIn: path.join(r.outDir, 'instances', name),
      });
      r.teardown.add(`instance ${name}`, () => instance.stop());
      return instance;
    }),
  );
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  const instances = started.map((s) => (s as PromiseFulfilledResult<SiteInstance>).value);
  const specs = Array.from({ length: r.config.loadBalancers.count }, (_, b) => ({
    backendPorts: instances.slice(b * perBalancer, (b + 1) * perBalancer).map((i) => i.port),
  }));
  const lbs = await startBalancers(specs, { healthCheckPath });
  r.teardown.add('HAProxy', () => lbs.stop());
  r.log(`instances: ${instances.map((i) => i.url).join(', ')}\nbalancers: ${lbs.urls.join(', ')}`);
  return { lbs, instances } satisfies SiteWebTier;
}

/** 5. The plan's rush across the balancers, weighted as the Route 53 records weight them. */
function siteRush(
  r: Rehearsal,
  o: SiteRehearsalOptions,
  web: SiteWebTier,
  rowsBefore: Record<string, number>,
): Promise<SiteLoadTestResult> {
  const weights = r.config.loadBalancers.weights ?? web.lbs.urls.map(() => 1);
  return runSiteLoadTest({
    plan: o.plan,
    targets: web.lbs.urls.map((url, i) => ({ url, weight: weights[i] })),
    peak: o.peak,
    duration: o.duration,
    outDir: path.join(r.outDir, 'loadtest'),
    // Counted at the origin before the pull, and at the origin after sync-back: the verdict is made here.
    rowsBefore,
    countAfter: false,
    signal: o.signal,
  });
}

export async function rehearseSite(options: SiteRehearsalOptions): Promise<SiteRehearsalReport> {
  const { r, steps, step } = beginRehearsal(options);
  const { config, outDir, teardown, log } = r;
  const site = config.web.site;
  if (!site || site.runtime === 'reference')
    throw new Error('rehearseSite needs a config with web.site (php, node or command): see siteRehearsalInputs');
  const plan: SitePlan = options.plan;
  const queries = countQueries(plan);
  const perBalancer = options.processesPerBalancer ?? 2;
  const balancers = config.loadBalancers.count;
  const startedAt = new Date().toISOString();
  try {
    const origin = await step("1. start the origin (MariaDB + sshd) with the operator's dump and site directory", () =>
      startSiteOrigin(r, options),
    );
    const before = await countAll(queries, rowCounter(origin.db, r.database));
    const pulled = await step('2. pull-db and pull-web from the origin over SSH', () => pullFromOrigin(r, origin));
    const cloud = await step('3. import the pulled dump with the import custom resource handler', () =>
      importIntoCloud(r, pulled.db),
    );
    const runtime = site.runtime === 'php' ? `${site.runtime} (${site.webServer} + php-fpm)` : site.runtime;
    const web = await step(
      `4. start ${balancers} x ${perBalancer} ${runtime} instances from the bundle behind ${balancers} HAProxy balancers`,
      () => startSiteWebTier(r, cloud, pulled.web, perBalancer),
    );
    const load = await step("5. k6 rush of the site's load plan across the balancers", () =>
      siteRush(r, options, web, before),
    );
    log(load.summaryText);
    const stats = await (await fetch(`${web.lbs.statsUrl};csv`)).text();
    const seconds = Math.max(1, load.analysis.durationSeconds);
    const perInstance = requestsPerServer(stats).map((s) => ({
      ...s,
      requestsPerSecond: Math.round((s.requests / seconds) * 10) / 10,
    }));
    const inCloud = await countAll(queries, rowCounter(cloud.db, r.database));

    // Scale-in first, as `cdk destroy` of the web stack would: the front doors drain, then the site's processes stop.
    await step('   drain and stop the web tier', async () => {
      await web.lbs.stop();
      await Promise.all(web.instances.map((i) => i.stop()));
    });
    const synced = await step('6. sync-back to the origin, proven row by row', () =>
      syncBackToOrigin(r, origin, cloud, pulled.db),
    );
    const after = await countAll(queries, rowCounter(origin.db, r.database));
    const verdict = siteVerdict({
      writes: plan.writes,
      k6ExitCode: load.k6ExitCode,
      thresholds: load.thresholds,
      counters: load.counters,
      syncBackProved: synced.identical,
      rows: { before, after },
    });

    // 7. The report, the quote for the configured week and the verdict.
    const files = {
      report: path.join(outDir, 'report.txt'),
      json: path.join(outDir, 'report.json'),
      chart: load.files.chartHtml,
      loadSummary: load.files.summaryJson,
      instanceLogs: path.join(outDir, 'instances'),
    };
    const report: SiteRehearsalReport = {
      startedAt,
      finishedAt: new Date().toISOString(),
      steps,
      site: {
        runtime: site.runtime,
        ...(site.runtime === 'php' ? { webServer: site.webServer } : {}),
        originSite: options.originSite,
        originDump: options.originDump,
        plan: plan.name,
        instances: web.instances.length,
        balancers,
      },
      pulled: {
        dumpBytes: pulled.db.dumpBytes,
        dumpSha256: pulled.db.dumpSha256,
        webSha256: pulled.web.sha256,
        webBytes: pulled.web.bytes,
        webWarnings: [...pulled.web.warnings, ...pulled.web.normalised],
      },
      imported: { statements: cloud.statements, slices: cloud.slices, ssmParameters: cloud.names },
      load: {
        requests: load.analysis.requests,
        requestsPerSecond: load.analysis.requestsPerSecond,
        peakRequestsPerSecond: load.analysis.peakRequestsPerSecond,
        latencyMs: {
          p50: load.analysis.latencyMs.p50,
          p95: load.analysis.latencyMs.p95,
          p99: load.analysis.latencyMs.p99,
        },
        statusCounts: load.analysis.statusCounts,
        summary: summaryWithoutVerdict(load.summaryText),
        perInstance,
      },
      rows: queries.map((count) => ({ count, before: before[count], cloud: inCloud[count], origin: after[count] })),
      syncBack: { identical: synced.identical, tables: synced.tables.length, rowLevel: synced.rowLevel !== undefined },
      verdict,
      cost: costQuote({ config: options.configFile }),
      files,
    };
    fs.writeFileSync(files.json, JSON.stringify(report, null, 2));
    fs.writeFileSync(files.report, formatSiteReport(report));
    return report;
  } finally {
    log('\n== teardown');
    await teardown.run(log);
  }
}
