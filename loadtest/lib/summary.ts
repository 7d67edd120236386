/**
 * Reads k6's raw JSON output (`--out json=FILE`, plain or `.gz`) and turns it into what a person and a machine
 * need: request rate reached, latency percentiles, answers by status, the rate at which p95 first broke the
 * threshold, and a per-second timeline for the chart. Streams the file, so long runs do not load it whole.
 */
import * as fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import * as zlib from 'node:zlib';

export interface LatencyStats {
  readonly avg: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export interface TimelinePoint {
  /** Wall-clock seconds since the second of the first measured request (one bucket per second). */
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
  /**
   * When a p95 threshold was given: where p95 first broke it (see `findBreakingPoint`); undefined when it never did.
   */
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

interface K6Point {
  readonly metric: string;
  readonly type: string;
  readonly data: { time: string; value: number; tags?: Record<string, string> };
}

/** Metrics the analysis reads; the others (about ten per request) are skipped without parsing the line. */
const WANTED = new Set([
  'http_req_duration',
  'iterations',
  'dropped_iterations',
  'vus',
  'oversold_courses',
  'oversold_check_failed',
]);
const POINT_PREFIX = '{"metric":"';

/**
 * Calls `onPoint` for every point of the metrics in `wanted` in a k6 JSON output file (plain or gzip, by content).
 * Splits chunks into lines itself and stays synchronous per line: readline's per-line events cost more than the
 * parsing here (measured: bench/loadtest/summary.ts).
 */
export async function forEachK6Point(
  file: string,
  onPoint: (point: K6Point) => void,
  wanted: ReadonlySet<string> = WANTED,
): Promise<void> {
  if (!fs.existsSync(file)) throw new Error(`k6 output ${file} does not exist: did k6 run with --out json=${file}?`);
  const fd = fs.openSync(file, 'r');
  const magic = Buffer.alloc(2);
  fs.readSync(fd, magic, 0, 2, 0);
  fs.closeSync(fd);
  let input: NodeJS.ReadableStream = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  if (magic[0] === 0x1f && magic[1] === 0x8b) input = input.pipe(zlib.createGunzip({ chunkSize: 1 << 20 }));
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let lineNo = 0;
  const handle = (line: string) => {
    lineNo += 1;
    if (!line) return;
    // k6 writes points as {"metric":"NAME","type":"Point",...}: the name decides before the costly JSON.parse.
    if (line.startsWith(POINT_PREFIX)) {
      const name = line.slice(POINT_PREFIX.length, line.indexOf('"', POINT_PREFIX.length));
      if (!wanted.has(name)) return;
    } else if (line.startsWith('{"type":"Metric"')) {
      return;
    }
    let parsed: K6Point;
    try {
      parsed = JSON.parse(line) as K6Point;
    } catch {
      // k6 may be killed mid-line; a torn last line is expected, anything else is not.
      return;
    }
    if (parsed.type === 'Point') {
      if (wanted.has(parsed.metric)) onPoint(parsed);
    } else if (parsed.type !== 'Metric') {
      throw new Error(`${file}:${lineNo} is not k6 JSON output (type ${String(parsed.type)})`);
    }
  };
  for await (const chunk of input) {
    const text = rest + decoder.write(chunk as Buffer);
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      handle(text.slice(start, nl));
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  handle(rest + decoder.end());
}

/** Latencies and failures of one group of requests (a name, a target, a second). */
class Bucket {
  readonly latencies: number[] = [];
  failed = 0;
  overloaded = 0;

  add(ms: number, failed: boolean, status: string): void {
    this.latencies.push(ms);
    if (failed) this.failed += 1;
    if (status === '503') this.overloaded += 1;
  }

  stats(): GroupStats {
    return {
      requests: this.latencies.length,
      failed: this.failed,
      p95: round(percentile(sortedCopy(this.latencies), 95)),
    };
  }
}

function bucketIn<K>(map: Map<K, Bucket>, key: K): Bucket {
  let b = map.get(key);
  if (!b) map.set(key, (b = new Bucket()));
  return b;
}

function sortedRecord(map: Map<string, Bucket>): Record<string, GroupStats> {
  const out: Record<string, GroupStats> = {};
  for (const k of [...map.keys()].sort()) out[k] = map.get(k)!.stats();
  return out;
}

const round = (x: number, digits = 3) => Number(x.toFixed(digits));

/**
 * Analyses a k6 JSON output file. Setup and teardown requests (the course list fetch, the oversold check) are left
 * out. Aggregates while streaming (per name, target and wall-clock second), so memory grows with the number of
 * requests only by one number each per group.
 */
export async function analyzeK6Output(file: string, options: AnalyzeOptions = {}): Promise<K6Analysis> {
  const all = new Bucket();
  const byName = new Map<string, Bucket>();
  const byTarget = new Map<string, Bucket>();
  const bySecond = new Map<number, Bucket>();
  const statusCounts: Record<string, number> = {};
  const errorsByStatus: Record<string, number> = {};
  let first = Infinity;
  let last = -Infinity;
  let iterations = 0;
  let dropped = 0;
  let maxVUs = 0;
  let oversold: number | undefined;
  let checkFailed: number | undefined;
  await forEachK6Point(file, (p) => {
    const tags = p.data.tags ?? {};
    switch (p.metric) {
      case 'http_req_duration': {
        if (!tags.scenario || (tags.group ?? '').startsWith('::')) break;
        const time = parseTime(p.data.time);
        const ms = p.data.value;
        const status = tags.status ?? '0';
        const failed = tags.expected_response === 'false';
        first = Math.min(first, time);
        last = Math.max(last, time);
        all.add(ms, failed, status);
        bucketIn(byName, tags.name ?? tags.url ?? '?').add(ms, failed, status);
        bucketIn(byTarget, tags.target ?? '?').add(ms, failed, status);
        bucketIn(bySecond, Math.floor(time / 1000)).add(ms, failed, status);
        statusCounts[status] = (statusCounts[status] ?? 0) + 1;
        if (failed) errorsByStatus[status] = (errorsByStatus[status] ?? 0) + 1;
        break;
      }
      case 'iterations':
        iterations += p.data.value;
        break;
      case 'dropped_iterations':
        dropped += p.data.value;
        break;
      case 'vus':
        maxVUs = Math.max(maxVUs, p.data.value);
        break;
      case 'oversold_courses':
        oversold = (oversold ?? 0) + p.data.value;
        break;
      case 'oversold_check_failed':
        checkFailed = (checkFailed ?? 0) + p.data.value;
        break;
      default:
        break;
    }
  });
  const requests = all.latencies.length;
  const t0 = requests ? first : 0;
  const duration = requests ? (last - first) / 1000 : 0;
  // One bucket per wall-clock second from the first request's second to the last's, empty seconds included.
  const perSecond: Bucket[] = [];
  if (requests) {
    const s0 = Math.floor(first / 1000);
    for (let s = s0; s <= Math.floor(last / 1000); s++) perSecond.push(bySecond.get(s) ?? new Bucket());
  }
  const timeline = perSecond.map((b, t) => timelinePoint(b, t));
  const breakingPoint =
    options.p95ThresholdMs === undefined
      ? undefined
      : findBreakingPoint(
          perSecond.map((b) => b.latencies),
          options.p95ThresholdMs,
        );
  const sorted = sortedCopy(all.latencies);
  return {
    startTime: new Date(t0).toISOString(),
    durationSeconds: round(duration),
    requests,
    requestsPerSecond: round(requests / Math.max(1, duration), 2),
    peakRequestsPerSecond: timeline.reduce((m, b) => Math.max(m, b.rps), 0),
    latencyMs: {
      avg: round(requests ? all.latencies.reduce((s, x) => s + x, 0) / requests : 0),
      p50: round(percentile(sorted, 50)),
      p95: round(percentile(sorted, 95)),
      p99: round(percentile(sorted, 99)),
      max: round(requests ? sorted[sorted.length - 1] : 0),
    },
    statusCounts,
    failed: all.failed,
    errorRate: round(requests ? all.failed / requests : 0, 5),
    errorsByStatus,
    overloaded: all.overloaded,
    byName: sortedRecord(byName),
    byTarget: sortedRecord(byTarget),
    iterations,
    droppedIterations: dropped,
    maxVUs,
    timeline,
    ...(oversold !== undefined ? { oversoldCourses: oversold } : {}),
    ...(checkFailed !== undefined ? { oversoldCheckFailed: checkFailed } : {}),
    ...(breakingPoint ? { breakingPoint } : {}),
  };
}

function timelinePoint(b: Bucket, t: number): TimelinePoint {
  const sorted = sortedCopy(b.latencies);
  return {
    t,
    requests: b.latencies.length,
    rps: b.latencies.length,
    errorsPerSecond: b.failed,
    overloadedPerSecond: b.overloaded,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
  };
}

export interface BreakingPoint {
  /** Seconds since the start of the run when the window ended. */
  readonly atSecond: number;
  /** Requests per second reached in the window's last second: the rate at that moment. */
  readonly requestsPerSecond: number;
  /** Requests per second averaged over the window. */
  readonly windowRequestsPerSecond: number;
  /** p95 over the window, ms. */
  readonly p95Ms: number;
}

/**
 * The first moment p95 over a sliding window went over the threshold, and the request rate at that moment.
 * A window (default 5 s) rather than single seconds, so one slow request at a low rate is not called a break;
 * windows with fewer than `minRequests` are skipped for the same reason, unless the whole run is that small.
 */
export function findBreakingPoint(
  latencyMsPerSecond: readonly (readonly number[])[],
  p95ThresholdMs: number,
  windowSeconds = 5,
  minRequests = 20,
): BreakingPoint | undefined {
  const total = latencyMsPerSecond.reduce((s, b) => s + b.length, 0);
  const need = Math.min(minRequests, total);
  for (let end = 1; end <= latencyMsPerSecond.length; end++) {
    const start = Math.max(0, end - windowSeconds);
    const window: number[] = [];
    for (let t = start; t < end; t++) for (const ms of latencyMsPerSecond[t]) window.push(ms);
    if (window.length === 0 || window.length < need) continue;
    const p95 = percentile(sortedCopy(window), 95);
    if (p95 >= p95ThresholdMs) {
      return {
        atSecond: end,
        requestsPerSecond: latencyMsPerSecond[end - 1].length,
        windowRequestsPerSecond: round(window.length / (end - start), 2),
        p95Ms: round(p95),
      };
    }
  }
  return undefined;
}
