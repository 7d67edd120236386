/**
 * The summary, breaking-point and chart code on real k6 output: test/loadtest/fixtures/ holds the raw JSON and the
 * --summary-export of a real `rush` run against the real app (regenerate with npx tsx test/loadtest/make-fixture.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { niceScale, renderChartHtml } from '../../loadtest/lib/chart';
import { formatSummary, readThresholds } from '../../loadtest/lib/runner';
import { buildPlan } from '../../loadtest/lib/plan';
import { analyzeK6Output, findBreakingPoint, percentile } from '../../loadtest/lib/summary';

const POINTS = path.join(__dirname, 'fixtures', 'rush-k6-points.json.gz');
const SUMMARY = path.join(__dirname, 'fixtures', 'rush-k6-summary.json');

/** The measured requests, read straight from the file without the code under test. */
function rawRequests(): Array<{ value: number; status: string }> {
  return zlib
    .gunzipSync(fs.readFileSync(POINTS))
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter(
      (p) =>
        p.type === 'Point' &&
        p.metric === 'http_req_duration' &&
        p.data.tags.scenario &&
        !p.data.tags.group.startsWith('::'),
    )
    .map((p) => ({ value: p.data.value, status: p.data.tags.status }));
}

describe('analyzeK6Output on a real rush run', () => {
  test('counts every measured request once, by status, and leaves setup/teardown out', async () => {
    const raw = rawRequests();
    const a = await analyzeK6Output(POINTS);
    expect(a.requests).toBe(raw.length);
    expect(a.requests).toBeGreaterThan(100);
    const byStatus: Record<string, number> = {};
    for (const r of raw) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    expect(a.statusCounts).toEqual(byStatus);
    expect(a.statusCounts['409']).toBeGreaterThan(0);
    expect(a.failed).toBe(0); // 409 is an answer, not a failure
    expect(a.timeline.reduce((s, b) => s + b.requests, 0)).toBe(a.requests);
    expect(Object.values(a.byTarget).reduce((s, g) => s + g.requests, 0)).toBe(a.requests);
    expect(Object.values(a.byName).reduce((s, g) => s + g.requests, 0)).toBe(a.requests);
    expect(a.oversoldCourses).toBe(0);
    expect(a.oversoldCheckFailed).toBe(0);
    expect(a.iterations).toBe(a.requests); // one request per iteration: arrival rate = request rate
  });

  test('percentiles: computed as k6 computes them, over the measured requests only', async () => {
    const a = await analyzeK6Output(POINTS);
    const k6 = JSON.parse(fs.readFileSync(SUMMARY, 'utf8')).metrics.http_req_duration;
    // k6's own figures also count the setup and teardown requests: on that same set our percentile gives k6's numbers.
    const everyRequest = zlib
      .gunzipSync(fs.readFileSync(POINTS))
      .toString('utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((p) => p.type === 'Point' && p.metric === 'http_req_duration')
      .map((p) => p.data.value as number)
      .sort((x, y) => x - y);
    expect(percentile(everyRequest, 95)).toBeCloseTo(k6['p(95)'], 6);
    expect(percentile(everyRequest, 99)).toBeCloseTo(k6['p(99)'], 6);
    expect(percentile(everyRequest, 50)).toBeCloseTo(k6.med, 6);
    const measured = rawRequests()
      .map((r) => r.value)
      .sort((x, y) => x - y);
    expect(a.latencyMs.p95).toBeCloseTo(percentile(measured, 95), 2);
    expect(a.latencyMs.max).toBeLessThanOrEqual(k6.max);
    expect(a.latencyMs.p50).toBeLessThanOrEqual(a.latencyMs.p95);
    expect(a.latencyMs.p95).toBeLessThanOrEqual(a.latencyMs.p99);
    expect(a.latencyMs.p99).toBeLessThanOrEqual(a.latencyMs.max);
    expect(a.peakRequestsPerSecond).toBe(Math.max(...a.timeline.map((b) => b.rps)));
  });

  test('the breaking point: at once for an impossible threshold, never for a generous one', async () => {
    const impossible = await analyzeK6Output(POINTS, { p95ThresholdMs: 0.001 });
    expect(impossible.breakingPoint).toBeDefined();
    expect(impossible.breakingPoint!.requestsPerSecond).toBeGreaterThan(0);
    const generous = await analyzeK6Output(POINTS, { p95ThresholdMs: 60000 });
    expect(generous.breakingPoint).toBeUndefined();
  });

  test('thresholds from --summary-export: true there means crossed', () => {
    expect(readThresholds(SUMMARY).map((t) => `${t.metric} ${t.threshold} ${t.ok}`)).toEqual([
      'http_req_duration p(95)<20 true',
      'http_req_failed rate<0.01 true',
      'oversold_check_failed count<1 true',
      'oversold_courses count<1 true',
    ]);
  });

  test('a file that is not k6 output is refused with a clear error', async () => {
    const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-k6-')), 'x.json');
    fs.writeFileSync(bad, '{"type":"Something","data":{}}\n');
    await expect(analyzeK6Output(bad)).rejects.toThrow(/is not k6 JSON output/);
    await expect(analyzeK6Output(`${bad}.missing`)).rejects.toThrow(/does not exist/);
  });
});

describe('findBreakingPoint', () => {
  test('finds the first 5 s window whose p95 crosses, and the rate there', () => {
    const seconds = Array.from({ length: 20 }, (_, t) =>
      Array.from({ length: 10 + t * 10 }, () => (t >= 12 ? 300 : 20)),
    );
    const bp = findBreakingPoint(seconds, 200)!;
    // Window [8, 13): 90+100+110+120 fast, 130 slow of 550 → p95 slow; window [7, 12) has none slow.
    expect(bp.atSecond).toBe(13);
    expect(bp.requestsPerSecond).toBe(130);
    expect(bp.windowRequestsPerSecond).toBe((90 + 100 + 110 + 120 + 130) / 5);
    expect(bp.p95Ms).toBe(300);
  });

  test('one slow request at a low rate is not a break', () => {
    const seconds = [[900], [10], [10], [10], [10], [10], ...Array.from({ length: 10 }, () => Array(30).fill(10))];
    expect(findBreakingPoint(seconds, 200)).toBeUndefined();
  });
});

describe('chart', () => {
  test('a self-contained HTML page with one polyline point per second and no external reference', async () => {
    const analysis = await analyzeK6Output(POINTS, { p95ThresholdMs: 20 });
    const plan = buildPlan('rush', { peak: 40, duration: '10s' });
    const html = renderChartHtml({
      title: 'rush <test>',
      analysis,
      p95ThresholdMs: 20,
      plannedRate: [2, 6, 10],
      summaryLines: ['a & b'],
    });
    expect(html).toContain('<title>rush &lt;test&gt;</title>');
    expect(html).toContain('<pre>a &amp; b</pre>');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    const polylines = [...html.matchAll(/<polyline points="([^"]*)"/g)].map((m) => m[1].split(' ').length);
    // rate: reached, planned, failed, 503; latency: p50, p95, p99
    expect(polylines).toEqual([analysis.timeline.length, 3, ...Array(5).fill(analysis.timeline.length)]);
    expect(html).toContain('p95 threshold 20 ms');
    expect(plan.totalSeconds).toBe(10);
  });

  test('niceScale gives round axis steps that cover the maximum', () => {
    expect(niceScale(0)).toEqual({ max: 1, step: 0.2 });
    expect(niceScale(37)).toEqual({ max: 40, step: 10 });
    expect(niceScale(4000)).toEqual({ max: 4000, step: 1000 });
    expect(niceScale(0.0042).max).toBeGreaterThanOrEqual(0.0042);
  });
});

test('the human summary names the failing threshold, 409 as an answer and the oversold check', async () => {
  const analysis = await analyzeK6Output(POINTS, { p95ThresholdMs: 20 });
  const lines = formatSummary({
    passed: false,
    failures: ['threshold crossed: http_req_duration p(95)<20'],
    scenario: 'rush',
    targets: [
      { url: 'http://a', weight: 2 },
      { url: 'http://b', weight: 1 },
    ],
    plan: buildPlan('rush', { peak: 40, duration: '10s' }),
    p95ThresholdMs: 20,
    maxErrorRate: 0.01,
    k6ExitCode: 99,
    thresholds: [],
    analysis,
    oversold: { checkedCourses: 43, courses: [] },
  });
  expect(lines[0]).toBe('rushhour load test "rush" against http://a (weight 2), http://b (weight 1)');
  expect(lines[1]).toBe('result: FAILED — threshold crossed: http_req_duration p(95)<20');
  expect(lines.join('\n')).toContain('409 ×');
  expect(lines.join('\n')).toContain('(full/duplicate: an answer)');
  expect(lines[lines.length - 1]).toBe('oversold: none (43 courses checked through GET /api/courses)');
});
