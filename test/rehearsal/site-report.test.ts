/** The site rehearsal's report: the load test's partial verdict left out, the rehearsal's own verdict at the end. */
import { siteVerdict } from '../../loadtest/lib/site-verdict';
import { formatSiteReport, SiteRehearsalReport, summaryWithoutVerdict } from '../../src/rehearsal/site-report';

const writes = [
  { name: 'register', rows: { count: 'SELECT COUNT(*) FROM registrations', perSuccess: 1 } },
] as unknown as Parameters<typeof siteVerdict>[0]['writes'];
const counters = { site_sheds: 0, site_server_errors: 0, site_no_answer: 0, write_register: 10 };
const thresholds = [{ metric: 'http_req_duration', threshold: 'p(95)<500', ok: true }];

function report(after: number): SiteRehearsalReport {
  const verdict = siteVerdict({
    writes,
    k6ExitCode: 0,
    thresholds,
    counters,
    syncBackProved: true,
    rows: {
      before: { 'SELECT COUNT(*) FROM registrations': 5 },
      after: { 'SELECT COUNT(*) FROM registrations': after },
    },
  });
  return {
    startedAt: 'a',
    finishedAt: 'b',
    steps: [{ name: '1. start the origin', seconds: 1.5 }],
    site: {
      runtime: 'php',
      webServer: 'nginx',
      originSite: '/s',
      originDump: '/d.sql.gz',
      plan: 'p',
      instances: 3,
      balancers: 3,
    },
    pulled: { dumpBytes: 1, dumpSha256: 'f'.repeat(64), webSha256: 'e'.repeat(64), webBytes: 2, webWarnings: [] },
    imported: { statements: 3, slices: 1, ssmParameters: ['a'] },
    load: {
      requests: 10,
      requestsPerSecond: 1,
      peakRequestsPerSecond: 2,
      latencyMs: { p50: 1, p95: 2, p99: 3 },
      statusCounts: { '200': 10 },
      summary: summaryWithoutVerdict(
        'rushhour load test of "p"\nwrites: register 10 ok\nVERDICT: PASSED\n  --  accounting: rows not counted',
      ),
      perInstance: [{ balancer: 1, process: 1, requests: 10, requestsPerSecond: 1 }],
    },
    rows: [{ count: 'SELECT COUNT(*) FROM registrations', before: 5, cloud: after, origin: after }],
    syncBack: { identical: true, tables: 6, rowLevel: true },
    verdict,
    cost: {
      currency: 'USD',
      region: 'us-east-1',
      pricesAsOf: 'x',
      deploymentDays: 1,
      items: [],
      total: 0,
      warnings: [],
    },
    files: { report: 'r', json: 'j', chart: 'c', loadSummary: 's', instanceLogs: 'i' },
  };
}

test('the load test summary keeps its lines but not its partial verdict', () => {
  const text = formatSiteReport(report(15));
  expect(text).toMatch(/writes: register 10 ok/);
  expect(text).not.toMatch(/rows not counted/);
  expect(text.match(/VERDICT:/g)).toHaveLength(1);
  expect(text).toMatch(/\nVERDICT: PASSED\n(.*\n)* {2}ok {3}accounting: .*15 - 5 = 10 rows/);
  expect(text).toMatch(/SELECT COUNT\(\*\) FROM registrations: 5 -> 15 in the cloud -> 15 at the origin/);
});

test('a lost acknowledged write fails the verdict and says how many', () => {
  const text = formatSiteReport(report(13));
  expect(text).toMatch(/\nVERDICT: FAILED\n/);
  expect(text).toMatch(/FAIL accounting: .*LOST 2 acknowledged row\(s\)/);
});
