/**
 * The report of a site rehearsal and its verdict, pure functions of what was measured. The verdict is
 * loadtest/lib/site-verdict.ts's, with the sync-back proof and the rows counted at the origin after sync-back.
 */
import { formatSiteVerdict, SiteVerdict } from '../../loadtest/lib/site-verdict';
import { formatQuote, Quote } from '../cost/quote';

export interface SiteRehearsalReport {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly steps: Array<{ name: string; seconds: number }>;
  readonly site: {
    readonly runtime: string;
    readonly webServer?: string;
    readonly originSite: string;
    readonly originDump: string;
    readonly plan: string;
    readonly instances: number;
    readonly balancers: number;
  };
  readonly pulled: {
    dumpBytes: number;
    dumpSha256: string;
    webSha256: string;
    webBytes: number;
    /** Files in the bundle pull-web flagged (credentials) or normalised. */
    webWarnings: readonly string[];
  };
  readonly imported: { statements: number; slices: number; ssmParameters: string[] };
  readonly load: {
    readonly requests: number;
    readonly requestsPerSecond: number;
    readonly peakRequestsPerSecond: number;
    readonly latencyMs: { p50: number; p95: number; p99: number };
    readonly statusCounts: Record<string, number>;
    /** The load test's own summary (without its partial verdict: the rehearsal's is below). */
    readonly summary: readonly string[];
    readonly perInstance: Array<{ balancer: number; process: number; requests: number; requestsPerSecond: number }>;
  };
  /** Per count SQL of the plan: before the rush (origin), in the cloud after it, at the origin after sync-back. */
  readonly rows: Array<{ count: string; before: number; cloud: number; origin: number }>;
  readonly syncBack: { identical: boolean; tables: number; rowLevel: boolean };
  readonly verdict: SiteVerdict;
  readonly cost: Quote;
  readonly files: { report: string; json: string; chart: string; loadSummary: string; instanceLogs: string };
}

/** The rehearsal's failures: the verdict's checks that failed. A plan without writes leaves accounting unchecked. */
export function siteRehearsalFailures(r: Pick<SiteRehearsalReport, 'verdict'>): readonly string[] {
  return r.verdict.failures;
}

/** The load test's summary lines without its own VERDICT block (made before sync-back, so partial). */
export function summaryWithoutVerdict(summaryText: string): string[] {
  const lines = summaryText.split('\n');
  const at = lines.findIndex((l) => l.startsWith('VERDICT:'));
  return at < 0 ? lines : lines.slice(0, at);
}

export function formatSiteReport(r: SiteRehearsalReport): string {
  const pad = (s: string | number, n: number) => String(s).padEnd(n);
  const runtime = r.site.webServer ? `${r.site.runtime} (${r.site.webServer})` : r.site.runtime;
  const lines = [
    `rushhour rehearsal report: the ${runtime} site from ${r.site.originSite}`,
    `${r.startedAt} .. ${r.finishedAt}`,
    `origin dump ${r.site.originDump}; plan "${r.site.plan}"; ${r.site.balancers} balancers x ${r.site.instances / r.site.balancers} instance(s)`,
    '',
    'steps:',
    ...r.steps.map((s) => `  ${pad(s.name, 92)} ${s.seconds} s`),
    '',
    `pulled: dump ${r.pulled.dumpBytes} bytes (sha256 ${r.pulled.dumpSha256.slice(0, 16)}...), web ${r.pulled.webBytes} bytes, both verified on both ends`,
    ...(r.pulled.webWarnings.length ? [`  pull-web flagged: ${r.pulled.webWarnings.join(', ')}`] : []),
    `imported: ${r.imported.statements} statements in ${r.imported.slices} slice(s); SSM: ${r.imported.ssmParameters.length} parameters`,
    '',
    ...r.load.summary.map((l) => (l ? `  ${l}` : l)),
    '  requests per instance (through the balancer / rush seconds):',
    ...r.load.perInstance.map(
      (p) => `    balancer ${p.balancer} instance ${p.process}: ${p.requests} requests, ${p.requestsPerSecond} req/s`,
    ),
    '',
    'rows (per count SQL of the plan): before the rush at the origin, in the cloud after it, at the origin after sync-back:',
    ...r.rows.map((x) => `  ${x.count}: ${x.before} -> ${x.cloud} in the cloud -> ${x.origin} at the origin`),
    `sync-back: ${r.syncBack.tables} tables compared, ${r.syncBack.identical ? 'identical' : 'DIFFERENT'} (row by row)`,
    '',
    formatQuote(r.cost, 'cost quote for the configured week'),
    '',
    `files: ${r.files.report}, ${r.files.json}, chart ${r.files.chart}, instance logs ${r.files.instanceLogs}`,
    '',
    ...formatSiteVerdict(r.verdict),
  ];
  return lines.join('\n') + '\n';
}
