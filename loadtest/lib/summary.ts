/**
 * Reads k6's raw JSON output (`--out json=FILE`, plain or `.gz`) and turns it into what a person and a machine
 * need: request rate reached, latency percentiles, answers by status, the rate at which p95 first broke the
 * threshold, and a per-second timeline for the chart. Streams the file, so long runs do not load it whole.
 */
import * as fs from 'node:fs';
import * as readline from 'node:readline';
import * as zlib from 'node:zlib';

export interface LatencyStats {
  readonly avg: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export interface TimelinePoint {
  /** Seconds since the first measured request, start of the bucket. */
  readonly t: number;
  readonly requests: number;
  /** Requests per second in this bucket. */
  readonly rps: number;
  /** Failed requests per second (network errors, 5xx, unexpected 4xx). */
  readonly errorsPerSecond: number;
  /** 503 answers per second (overload shedding; also counted in errors). */
  readonly overloadedPerSecond: number;
  /** Latency percentiles in ms over the bucket's requests; 0 when there were none. */
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

export interface GroupStats {
  readonly requests: number;
  readonly failed: number;
  readonly p95: number;
}

export interface K6Analysis {
  /** ISO time of the first measured request. */
  readonly startTime: string;
  /** Seconds from the first to the last measured request. */
  readonly durationSeconds: number;
  readonly requests: number;
  /** Average over the run. */
  readonly requestsPerSecond: number;
  /** Highest one-second request count: the rate reached. */
  readonly peakRequestsPerSecond: number;
  readonly latencyMs: LatencyStats;
  /** Answers by HTTP status; `0` is k6's status for a network error or timeout. */
  readonly statusCounts: Record<string, number>;
  /** Requests k6 counted as failed (`expected_response:false`); 409 from a registration is not one. */
  readonly failed: number;
  readonly errorRate: number;
  /** Failed requests by status. */
  readonly errorsByStatus: Record<string, number>;
  /** 503 answers: the app shedding load (with Retry-After). */
  readonly overloaded: number;
  /** Per request name (`page: course list`, `api: register`, ...). */
  readonly byName: Record<string, GroupStats>;
  /** Per target base URL (per load balancer). */
  readonly byTarget: Record<string, GroupStats>;
  readonly iterations: number;
  /** Arrivals k6 could not start because every virtual user was busy (raise maxVUs, or the target is too slow). */
  readonly droppedIterations: number;
  readonly maxVUs: number;
  /** One point per second. */
  readonly timeline: TimelinePoint[];
  /** Sum of `oversold_courses` from the scenario's teardown, or undefined when the run did not get there. */
  readonly oversoldCourses?: number;
  readonly oversoldCheckFailed?: number;
  /** When a p95 threshold was given: where p95 first broke it (see `findBreakingPoint`); undefined when it never did. */
  readonly breakingPoint?: BreakingPoint;
}

export interface AnalyzeOptions {
  /** p95 threshold in ms for `breakingPoint`. @default no breaking point computed */
  readonly p95ThresholdMs?: number;
}

/** Linear interpolation between closest ranks, as k6 computes its percentiles. `sorted` ascending. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  if (n === 1) return sorted[0];
  const rank = (p / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

function sortedCopy(values: readonly number[]): Float64Array {
  return Float64Array.from(values).sort();
}

/** k6 writes nanosecond times (`...:16.759569522Z`); Date.parse wants at most milliseconds. */
function parseTime(text: string): number {
  const ms = Date.parse(text.replace(/(\.\d{3})\d+/, '$1'));
  if (Number.isNaN(ms)) throw new Error(`k6 output has a point with an unreadable time "${text}"`);
  return ms;
}

interface RawRequest {
  readonly time: number;
  readonly ms: number;
  readonly status: string;
  readonly failed: boolean;
  readonly name: string;
  readonly target: string;
}

interface K6Point {
  readonly metric: string;
  readonly type: string;
  readonly data: { time: string; value: number; tags?: Record<string, string> };
}

/** Streams the points of a k6 JSON output file (plain or gzip, by content). */
export async function* readK6Points(file: string): AsyncGenerator<K6Point> {
  if (!fs.existsSync(file)) throw new Error(`k6 output ${file} does not exist: did k6 run with --out json=${file}?`);
  const fd = fs.openSync(file, 'r');
  const magic = Buffer.alloc(2);
  fs.readSync(fd, magic, 0, 2, 0);
  fs.closeSync(fd);
  let input: NodeJS.ReadableStream = fs.createReadStream(file);
  if (magic[0] === 0x1f && magic[1] === 0x8b) input = input.pipe(zlib.createGunzip());
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of lines) {
    lineNo += 1;
    if (!line) continue;
    let parsed: K6Point;
    try {
      parsed = JSON.parse(line) as K6Point;
    } catch {
      // k6 may be killed mid-line; a torn last line is expected, anything else is not.
      continue;
    }
    if (parsed.type === 'Point') yield parsed;
    else if (parsed.type !== 'Metric') throw new Error(`${file}:${lineNo} is not k6 JSON output (type ${String(parsed.type)})`);
  }
}

function groupStats(requests: readonly RawRequest[], key: (r: RawRequest) => string): Record<string, GroupStats> {
  const groups = new Map<string, RawRequest[]>();
  for (const r of requests) {
    const k = key(r);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(r);
  }
  const out: Record<string, GroupStats> = {};
  for (const [k, rs] of [...groups.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    out[k] = { requests: rs.length, failed: rs.filter((r) => r.failed).length, p95: round(percentile(sortedCopy(rs.map((r) => r.ms)), 95)) };
  }
  return out;
}

const round = (x: number, digits = 3) => Number(x.toFixed(digits));

/** Analyses a k6 JSON output file. Setup and teardown requests (the course list fetch, the oversold check) are left out. */
export async function analyzeK6Output(file: string, options: AnalyzeOptions = {}): Promise<K6Analysis> {
  const requests: RawRequest[] = [];
  let iterations = 0;
  let dropped = 0;
  let maxVUs = 0;
  let oversold: number | undefined;
  let checkFailed: number | undefined;
  for await (const p of readK6Points(file)) {
    const tags = p.data.tags ?? {};
    switch (p.metric) {
      case 'http_req_duration':
        if (!tags.scenario || (tags.group ?? '').startsWith('::')) break;
        requests.push({
          time: parseTime(p.data.time), ms: p.data.value, status: tags.status ?? '0',
          failed: tags.expected_response === 'false', name: tags.name ?? tags.url ?? '?', target: tags.target ?? '?',
        });
        break;
      case 'iterations': iterations += p.data.value; break;
      case 'dropped_iterations': dropped += p.data.value; break;
      case 'vus': maxVUs = Math.max(maxVUs, p.data.value); break;
      case 'oversold_courses': oversold = (oversold ?? 0) + p.data.value; break;
      case 'oversold_check_failed': checkFailed = (checkFailed ?? 0) + p.data.value; break;
      default: break;
    }
  }
  requests.sort((a, b) => a.time - b.time);
  const t0 = requests.length ? requests[0].time : 0;
  const duration = requests.length ? (requests[requests.length - 1].time - t0) / 1000 : 0;

  const statusCounts: Record<string, number> = {};
  const errorsByStatus: Record<string, number> = {};
  let failed = 0;
  for (const r of requests) {
    statusCounts[r.status] = (statusCounts[r.status] ?? 0) + 1;
    if (r.failed) {
      failed += 1;
      errorsByStatus[r.status] = (errorsByStatus[r.status] ?? 0) + 1;
    }
  }
  const all = sortedCopy(requests.map((r) => r.ms));
  const perSecond = latenciesPerSecond(requests, t0);
  const timeline = perSecond.map((rs, t) => timelinePoint(rs, t));
  const breakingPoint = options.p95ThresholdMs === undefined ? undefined
    : findBreakingPoint(perSecond.map((rs) => rs.map((r) => r.ms)), options.p95ThresholdMs);
  return {
    startTime: new Date(t0).toISOString(),
    durationSeconds: round(duration),
    requests: requests.length,
    requestsPerSecond: round(requests.length / Math.max(1, duration), 2),
    peakRequestsPerSecond: timeline.reduce((m, b) => Math.max(m, b.rps), 0),
    latencyMs: {
      avg: round(requests.length ? requests.reduce((s, r) => s + r.ms, 0) / requests.length : 0),
      p50: round(percentile(all, 50)), p95: round(percentile(all, 95)), p99: round(percentile(all, 99)),
      max: round(all.length ? all[all.length - 1] : 0),
    },
    statusCounts,
    failed,
    errorRate: round(requests.length ? failed / requests.length : 0, 5),
    errorsByStatus,
    overloaded: statusCounts['503'] ?? 0,
    byName: groupStats(requests, (r) => r.name),
    byTarget: groupStats(requests, (r) => r.target),
    iterations,
    droppedIterations: dropped,
    maxVUs,
    timeline,
    ...(oversold !== undefined ? { oversoldCourses: oversold } : {}),
    ...(checkFailed !== undefined ? { oversoldCheckFailed: checkFailed } : {}),
    ...(breakingPoint ? { breakingPoint } : {}),
  };
}

function latenciesPerSecond(requests: readonly RawRequest[], t0: number): RawRequest[][] {
  if (requests.length === 0) return [];
  const seconds = Math.floor((requests[requests.length - 1].time - t0) / 1000) + 1;
  const buckets: RawRequest[][] = Array.from({ length: seconds }, () => []);
  for (const r of requests) buckets[Math.floor((r.time - t0) / 1000)].push(r);
  return buckets;
}

function timelinePoint(rs: readonly RawRequest[], t: number): TimelinePoint {
  const sorted = sortedCopy(rs.map((r) => r.ms));
  return {
    t,
    requests: rs.length,
    rps: rs.length,
    errorsPerSecond: rs.filter((r) => r.failed).length,
    overloadedPerSecond: rs.filter((r) => r.status === '503').length,
    p50: round(percentile(sorted, 50)), p95: round(percentile(sorted, 95)), p99: round(percentile(sorted, 99)),
  };
}

export interface BreakingPoint {
  /** Seconds since the start of the run when the window ended. */
  readonly atSecond: number;
  /** Requests per second reached over the window. */
  readonly requestsPerSecond: number;
  /** p95 over the window, ms. */
  readonly p95Ms: number;
}

/**
 * The first moment p95 over a sliding window went over the threshold, and the request rate at that moment.
 * A window (default 5 s) rather than single seconds, so one slow request at a low rate is not called a break;
 * windows with fewer than `minRequests` are skipped for the same reason, unless the whole run is that small.
 */
export function findBreakingPoint(latencyMsPerSecond: readonly (readonly number[])[], p95ThresholdMs: number,
  windowSeconds = 5, minRequests = 20): BreakingPoint | undefined {
  const total = latencyMsPerSecond.reduce((s, b) => s + b.length, 0);
  const need = Math.min(minRequests, total);
  for (let end = 1; end <= latencyMsPerSecond.length; end++) {
    const start = Math.max(0, end - windowSeconds);
    const window: number[] = [];
    for (let t = start; t < end; t++) for (const ms of latencyMsPerSecond[t]) window.push(ms);
    if (window.length === 0 || window.length < need) continue;
    const p95 = percentile(sortedCopy(window), 95);
    if (p95 >= p95ThresholdMs) {
      return { atSecond: end, requestsPerSecond: round(window.length / (end - start), 2), p95Ms: round(p95) };
    }
  }
  return undefined;
}
