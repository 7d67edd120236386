/**
 * Runs a site's load plan with k6 (`npm run loadtest -- site --plan FILE --target URL[=W] ...`) and, when it can
 * count rows (a database, or a counter the rehearsal hands in), accounts for every write: the plan's count SQL
 * before k6 starts and after it ends, and the verdict of site-verdict.ts. Writes summary.txt, summary.json,
 * chart.html and the resolved plan k6 ran next to k6's own output.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as mysql from 'mysql2/promise';
import { renderChartHtml } from './chart';
import { findK6, lastError, readThresholds, RunFiles, runFiles, runScenario, ThresholdResult } from './runner';
import { readSitePlan, scaleRush, SitePlan } from './site-plan';
import { formatSiteVerdict, siteVerdict, SiteVerdict } from './site-verdict';
import { analyzeK6Output, K6Analysis } from './summary';
import { formatTargets, parseTarget, WeightedTarget } from './targets';
import { plannedRateAt } from './plan';

const SCENARIO = path.resolve(__dirname, '..', 'scenarios', 'site.ts');

export interface SiteLoadTestOptions {
  /** A plan file, or a plan `parseSitePlan` resolved. */
  readonly plan: string | SitePlan;
  readonly targets: ReadonlyArray<string | WeightedTarget>;
  /** Scale the plan's rush to this peak arrival rate. @default the plan's */
  readonly peak?: number;
  /** Scale the plan's rush to this total duration. @default the plan's */
  readonly duration?: string;
  /** @default a new directory under .rushhour/loadtest/ */
  readonly outDir?: string;
  /** @default ~/go/bin/k6, then PATH */
  readonly k6Path?: string;
  /** Runs one of the plan's count SQL and returns the number; with it, rows are counted before and after. */
  readonly countRows?: (sql: string) => Promise<number>;
  /** Rows counted before the rush by the caller (e.g. at the origin, before the import); skips the count before. */
  readonly rowsBefore?: Readonly<Record<string, number>>;
  /**
   * Count after k6 ends (the default), or leave it to the caller: the rehearsal counts at the origin after sync-back
   * and calls `siteVerdict` itself. @default true when countRows is given
   */
  readonly countAfter?: boolean;
  /** @default false (k6's output always goes to k6.log) */
  readonly echo?: boolean;
  readonly signal?: AbortSignal;
}

export interface SiteLoadTestResult {
  readonly plan: SitePlan;
  readonly targets: WeightedTarget[];
  readonly k6ExitCode: number;
  readonly thresholds: ThresholdResult[];
  /** k6 counter totals by metric name. */
  readonly counters: Record<string, number>;
  readonly analysis: K6Analysis;
  readonly rows?: { before: Record<string, number>; after?: Record<string, number> };
  readonly verdict: SiteVerdict;
  readonly summaryText: string;
  /** The load test's files (./runner's RunFiles) and the plan as run. */
  readonly files: RunFiles & { readonly plan: string };
}

/** The distinct count SQL of a plan's writes. */
export function countQueries(plan: SitePlan): string[] {
  return [...new Set(plan.writes.map((w) => w.rows.count))];
}

/** Counts every query once. */
export async function countAll(
  queries: readonly string[],
  count: (sql: string) => Promise<number>,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const q of queries) out[q] = await count(q);
  return out;
}

export async function runSiteLoadTest(options: SiteLoadTestOptions): Promise<SiteLoadTestResult> {
  let plan = typeof options.plan === 'string' ? readSitePlan(options.plan) : options.plan;
  if (options.peak !== undefined || options.duration !== undefined)
    plan = scaleRush(plan, { peak: options.peak, duration: options.duration });
  if (!options.targets || options.targets.length === 0)
    throw new Error('no target given: pass at least one base URL, e.g. --target http://127.0.0.1:8080');
  const targets = options.targets.map((t) =>
    typeof t === 'string' ? parseTarget(t) : parseTarget(`${t.url}=${t.weight}`),
  );
  const k6 = findK6(options.k6Path);
  const run = runFiles(options.outDir, 'site');
  const files = { ...run, plan: path.join(run.dir, 'plan.resolved.json') };
  fs.writeFileSync(files.plan, `${JSON.stringify(plan, null, 2)}\n`);

  const queries = countQueries(plan);
  const before = options.rowsBefore ?? (options.countRows ? await countAll(queries, options.countRows) : undefined);

  const k6ExitCode = await runScenario(k6, files, { PLAN: files.plan, TARGETS: formatTargets(targets) }, SCENARIO, {
    totalSeconds: plan.rush.totalSeconds,
    echo: options.echo,
    signal: options.signal,
  });
  const analysis = await analyzeK6Output(files.k6Points, { p95ThresholdMs: p95Limit(plan) });
  const thresholds = readThresholds(files.k6Summary);
  const counters = readCounters(files.k6Summary);
  const after =
    options.countRows && (options.countAfter ?? true) ? await countAll(queries, options.countRows) : undefined;
  const verdict = siteVerdict({
    writes: plan.writes,
    k6ExitCode,
    thresholds,
    counters,
    ...(before && after ? { rows: { before, after } } : {}),
  });
  const lines = formatSiteSummary(plan, targets, analysis, counters, verdict, k6ExitCode, files.k6Log);
  const result: SiteLoadTestResult = {
    plan,
    targets,
    k6ExitCode,
    thresholds,
    counters,
    analysis,
    ...(before ? { rows: { before, ...(after ? { after } : {}) } } : {}),
    verdict,
    summaryText: lines.join('\n'),
    files,
  };
  fs.writeFileSync(files.summaryText, `${result.summaryText}\n`);
  fs.writeFileSync(files.summaryJson, `${JSON.stringify(result, null, 2)}\n`);
  const loadPlan = {
    startRate: plan.rush.startRate,
    stages: plan.rush.stages,
  } as unknown as Parameters<typeof plannedRateAt>[0];
  fs.writeFileSync(
    files.chartHtml,
    renderChartHtml({
      title: `rushhour load test: ${plan.name}`,
      analysis,
      p95ThresholdMs: p95Limit(plan) ?? 500,
      summaryLines: lines,
      plannedRate: Array.from(
        { length: Math.max(analysis.timeline.length, plan.rush.totalSeconds) },
        (_, t) => Math.round(plannedRateAt(loadPlan, t + 0.5) * 100) / 100,
      ),
    }),
  );
  return result;
}

/** The plan's p95 limit on http_req_duration, if it has one (for the breaking point and the chart). */
function p95Limit(plan: SitePlan): number | undefined {
  for (const t of plan.thresholds.http_req_duration ?? []) {
    const m = /^p\(95\)\s*<=?\s*(\d+(?:\.\d+)?)$/.exec(t.trim());
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** Counter totals from `--summary-export` (`{"metrics": {"name": {"count": N, ...}}}`). */
export function readCounters(summaryFile: string): Record<string, number> {
  if (!fs.existsSync(summaryFile)) return {};
  const summary = JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as {
    metrics?: Record<string, { count?: number; type?: string }>;
  };
  const out: Record<string, number> = {};
  for (const [name, m] of Object.entries(summary.metrics ?? {}))
    if (typeof m.count === 'number' && (name.startsWith('site_') || name.startsWith('write_'))) out[name] = m.count;
  return out;
}

const n = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 1 });
const ms = (x: number) => `${x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : Math.round(x)} ms`;

export function formatSiteSummary(
  plan: SitePlan,
  targets: readonly WeightedTarget[],
  a: K6Analysis,
  counters: Readonly<Record<string, number>>,
  verdict: SiteVerdict,
  k6ExitCode: number,
  k6Log: string,
): string[] {
  const statuses = Object.entries(a.statusCounts)
    .sort(([x], [y]) => Number(x) - Number(y))
    .map(([s, c]) => `${s === '0' ? 'no answer' : s} ×${n(c)}`);
  return [
    `rushhour load test of "${plan.name}" against ${targets.map((t) => (targets.length > 1 ? `${t.url} (weight ${t.weight})` : t.url)).join(', ')}`,
    `rush: ${n(plan.rush.startRate)} → ${n(plan.rush.peak)} arrivals/s over ${plan.rush.totalSeconds} s (stages ${plan.rush.stages.map((s) => `${s.target}/s for ${s.duration}`).join(', ')})`,
    `rate reached: ${n(a.peakRequestsPerSecond)} requests/s at best (1 s), ${n(a.requestsPerSecond)}/s on average; ${n(a.requests)} requests in ${n(a.durationSeconds)} s`,
    `latency: p50 ${ms(a.latencyMs.p50)}, p95 ${ms(a.latencyMs.p95)}, p99 ${ms(a.latencyMs.p99)}, max ${ms(a.latencyMs.max)}`,
    `answers: ${statuses.join(', ') || 'none'}; errors ${(a.errorRate * 100).toFixed(2)}%`,
    `writes: ${
      plan.writes
        .map(
          (w) =>
            `${w.name} ${counters[`write_${w.name}`] ?? 0} ok, ${counters[`write_${w.name}_failed`] ?? 0} failed, ${counters[`write_${w.name}_unconfirmed`] ?? 0} unconfirmed`,
        )
        .join('; ') || 'none in the plan'
    }`,
    `logins failed: ${counters.site_login_failed ?? 0}; actions skipped (a scraped value missing): ${counters.site_skipped ?? 0}`,
    ...(a.droppedIterations > 0
      ? [`dropped arrivals: ${n(a.droppedIterations)} (every VU was busy: the site is slow, or raise rush.maxVUs)`]
      : []),
    `by request: ${Object.entries(a.byName)
      .map(([name, g]) => `${name} ${n(g.requests)} (p95 ${ms(g.p95)}, ${n(g.failed)} failed)`)
      .join('; ')}`,
    ...(k6ExitCode !== 0 && k6ExitCode !== 99 ? [`k6: ${lastError(k6Log)}`] : []),
    ...formatSiteVerdict(verdict),
  ];
}

/**
 * A row counter for `--db mysql://USER@HOST:PORT/DATABASE` (the password from MYSQL_PWD, as the mysql client reads
 * it, so that it is in no command line or log). One connection per count: a count is two round trips.
 */
export function mysqlRowCounter(url: string, password = process.env.MYSQL_PWD ?? ''): (sql: string) => Promise<number> {
  const u = new URL(url);
  if (u.protocol !== 'mysql:' || !u.pathname.slice(1))
    throw new Error(`--db ${url.replace(/:[^:@/]*@/, ':***@')} is not mysql://USER@HOST:PORT/DATABASE`);
  if (u.password)
    throw new Error('--db must not carry the password: put it in the MYSQL_PWD environment variable instead');
  return async (sql) => {
    const conn = await mysql.createConnection({
      host: u.hostname,
      port: Number(u.port || 3306),
      user: decodeURIComponent(u.username),
      password,
      database: decodeURIComponent(u.pathname.slice(1)),
      connectTimeout: 10000,
    });
    try {
      const [rows] = await conn.query({ sql, rowsAsArray: true });
      const value = Number((rows as unknown[][])[0]?.[0]);
      if (!Number.isFinite(value)) throw new Error(`count SQL "${sql}" did not return a number`);
      return value;
    } finally {
      await conn.end();
    }
  };
}
