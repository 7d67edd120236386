/**
 * Runs one k6 scenario and turns its output into the three artefacts of a load test: a human summary, a
 * machine JSON file and a chart. Used by `npm run loadtest` (loadtest/run.ts) and, in-process, by the rehearsal.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isExecutableFile, pathDirs, which } from '../../src/util/executable';
import { renderChartHtml } from './chart';
import {
  buildPlan,
  buildThresholds,
  DEFAULT_MAX_ERROR_RATE,
  DEFAULT_P95_MS,
  isScenario,
  LoadPlan,
  parseMix,
  plannedRateAt,
  ScenarioName,
  SCENARIOS,
} from './plan';
import { analyzeK6Output, K6Analysis } from './summary';
import { formatTargets, parseTarget, WeightedTarget } from './targets';

export const K6_INSTALL_HINT = 'bash scripts/setup.sh (or: go install go.k6.io/k6@v1.4.2, which puts k6 in ~/go/bin)';

export interface LoadTestOptions {
  readonly scenario: ScenarioName;
  /** Base URLs, `URL=WEIGHT` strings or parsed targets (at least one). */
  readonly targets: ReadonlyArray<string | WeightedTarget>;
  /** Highest arrival rate, requests per second (soak: the steady rate). @default per scenario, see SCENARIO_DEFAULTS */
  readonly peak?: number;
  /** Total duration, e.g. `30s`, `10m`. @default per scenario, see SCENARIO_DEFAULTS */
  readonly duration?: string;
  /** Where the files go. @default a new directory under .rushhour/loadtest/ */
  readonly outDir?: string;
  /** p95 latency threshold in ms. @default 500 */
  readonly p95Ms?: number;
  /** Highest share of failed requests. @default 0.01 */
  readonly maxErrorRate?: number;
  /** Read:write mix, `50:50`, `66:34`, `60:40`. @default '50:50' */
  readonly mix?: string;
  /** Seeded students (ids 1..N, as `rushhour seed --students N` creates them). @default 500 */
  readonly students?: number;
  /** How many courses are popular (the first ones `GET /api/courses` lists): seat contention. @default 3 */
  readonly hotCourses?: number;
  /** Share of registrations that go to the popular courses, 0..1. @default 0.5 */
  readonly hotShare?: number;
  /** Upper bound on k6 virtual users. @default twice the peak, 20 to 5000 */
  readonly maxVUs?: number;
  /** Per-request timeout. @default '10s' */
  readonly requestTimeout?: string;
  /** The k6 binary. @default ~/go/bin/k6, then k6 on PATH */
  readonly k6Path?: string;
  /** Extra `-e NAME=value` for the scenario (e.g. HOT_COURSES, HOT_SHARE). */
  readonly extraEnv?: Readonly<Record<string, string>>;
  /** Copy k6's own output to this process's stdout/stderr as it runs. @default false (it always goes to k6.log) */
  readonly echo?: boolean;
  /** Stops k6 early (it still runs teardown and writes its output). */
  readonly signal?: AbortSignal;
}

export interface ThresholdResult {
  readonly metric: string;
  readonly threshold: string;
  readonly ok: boolean;
}

export interface OversoldCourse {
  readonly id: number;
  readonly code: string;
  readonly seats: number;
  readonly taken: number;
}

export interface LoadTestResult {
  /** True when k6 ran to the end, every threshold held and no course is oversold. */
  readonly passed: boolean;
  /** Why not, one line each. */
  readonly failures: string[];
  readonly scenario: ScenarioName;
  readonly targets: WeightedTarget[];
  readonly plan: LoadPlan;
  readonly p95ThresholdMs: number;
  readonly maxErrorRate: number;
  /** k6's exit code: 0 ok, 99 thresholds crossed, anything else an error (see k6.log). */
  readonly k6ExitCode: number;
  readonly thresholds: ThresholdResult[];
  readonly analysis: K6Analysis;
  /** The planned arrival rate (requests/s) when p95 first broke the threshold; undefined when it never did. */
  readonly breakingArrivalRate?: number;
  /** Checked by this runner through `GET /api/courses` on every target after k6 ended. */
  readonly oversold: { readonly checkedCourses: number; readonly courses: OversoldCourse[]; readonly error?: string };
  readonly summaryText: string;
  readonly files: RunFiles;
}

/** The k6 binary: the given path, ~/go/bin/k6, or k6 on PATH; otherwise an error naming the install command. */
export function findK6(explicit?: string): string {
  for (const c of [explicit, process.env.K6_BIN]) {
    if (!c) continue;
    if (isExecutableFile(c)) return c;
    if (c === explicit) throw new Error(`k6 not found at ${explicit}. Install it with: ${K6_INSTALL_HINT}`);
  }
  const found = which('k6', [path.join(os.homedir(), 'go', 'bin'), ...pathDirs()]);
  if (found) return found;
  throw new Error(`k6 is not installed (looked in ~/go/bin and PATH). Install it with: ${K6_INSTALL_HINT}`);
}

const SCENARIO_DIR = path.resolve(__dirname, '..', 'scenarios');

/** Where one load test writes: its summaries, chart, and k6's raw points, summary export and log. */
export interface RunFiles {
  readonly dir: string;
  readonly summaryText: string;
  readonly summaryJson: string;
  readonly chartHtml: string;
  readonly k6Points: string;
  readonly k6Summary: string;
  readonly k6Log: string;
}

/** The output directory (`outDir`, else a timestamped one under .rushhour/loadtest) with k6's old outputs removed. */
export function runFiles(outDir: string | undefined, name: string): RunFiles {
  const dir = path.resolve(
    outDir ?? path.join('.rushhour', 'loadtest', `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}`),
  );
  fs.mkdirSync(dir, { recursive: true });
  const files = {
    dir,
    summaryText: path.join(dir, 'summary.txt'),
    summaryJson: path.join(dir, 'summary.json'),
    chartHtml: path.join(dir, 'chart.html'),
    k6Points: path.join(dir, 'k6-points.json.gz'),
    k6Summary: path.join(dir, 'k6-summary.json'),
    k6Log: path.join(dir, 'k6.log'),
  };
  for (const f of [files.k6Points, files.k6Summary]) fs.rmSync(f, { force: true });
  return files;
}

/**
 * Runs one k6 scenario with the project's flags (summary export, raw points, few tags), bounded by its
 * duration plus setup/teardown timeouts, graceful stop and a margin; throws when k6 wrote no output at all.
 */
export async function runScenario(
  k6: string,
  files: RunFiles,
  env: Readonly<Record<string, string>>,
  script: string,
  o: { readonly totalSeconds: number; readonly echo?: boolean; readonly signal?: AbortSignal },
): Promise<number> {
  const args = [
    'run',
    '--no-usage-report',
    '--no-color',
    '--quiet',
    '--summary-export',
    files.k6Summary,
    '--out',
    `json=${files.k6Points}`,
    // Fewer tags per point keeps the raw output small (url and proto repeat name and HTTP/1.1).
    '--system-tags',
    'status,method,name,group,scenario,expected_response,error_code',
    ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    script,
  ];
  const hardLimitMs = (o.totalSeconds + 60 + 60 + 10 + 60) * 1000;
  const k6ExitCode = await runK6(k6, args, files.k6Log, hardLimitMs, o.echo ?? false, o.signal);
  if (!fs.existsSync(files.k6Points))
    throw new Error(
      `k6 exited with ${k6ExitCode} before writing any output; see ${files.k6Log}:\n${tail(files.k6Log)}`,
    );
  return k6ExitCode;
}

/** Runs the scenario and writes summary.txt, summary.json, chart.html next to k6's raw output. */
export async function runLoadTest(options: LoadTestOptions): Promise<LoadTestResult> {
  if (!isScenario(options.scenario))
    throw new Error(`unknown scenario "${options.scenario}": choose one of ${SCENARIOS.join(', ')}`);
  if (!options.targets || options.targets.length === 0)
    throw new Error('no target given: pass at least one base URL, e.g. http://127.0.0.1:8080');
  const targets = options.targets.map((t) =>
    typeof t === 'string' ? parseTarget(t) : parseTarget(`${t.url}=${t.weight}`),
  );
  // Validate everything here so a bad option is a clear error before k6 starts.
  const plan = buildPlan(options.scenario, { peak: options.peak, duration: options.duration, maxVUs: options.maxVUs });
  const p95Ms = options.p95Ms ?? DEFAULT_P95_MS;
  const maxErrorRate = options.maxErrorRate ?? DEFAULT_MAX_ERROR_RATE;
  buildThresholds({ p95Ms, maxErrorRate });
  if (options.mix) parseMix(options.mix);
  if (options.students !== undefined && !(Number.isInteger(options.students) && options.students >= 1)) {
    throw new Error(`students ${options.students} must be a positive integer (the N of rushhour seed --students N)`);
  }
  if (options.hotCourses !== undefined && !(Number.isInteger(options.hotCourses) && options.hotCourses >= 0)) {
    throw new Error(`hotCourses ${options.hotCourses} must be a whole number of courses (0 for no popular courses)`);
  }
  if (options.hotShare !== undefined && !(options.hotShare >= 0 && options.hotShare <= 1)) {
    throw new Error(
      `hotShare ${options.hotShare} must be between 0 and 1 (0.5 = half the registrations go to the popular courses)`,
    );
  }
  const k6 = findK6(options.k6Path);

  const files = runFiles(options.outDir, options.scenario);

  const env: Record<string, string> = {
    TARGETS: formatTargets(targets),
    PEAK: String(plan.peak),
    DURATION: `${plan.totalSeconds}s`,
    MAX_VUS: String(plan.maxVUs),
    P95_MS: String(p95Ms),
    MAX_ERROR_RATE: String(maxErrorRate),
    ...(options.mix ? { MIX: options.mix } : {}),
    ...(options.students ? { STUDENTS: String(options.students) } : {}),
    ...(options.requestTimeout ? { REQUEST_TIMEOUT: options.requestTimeout } : {}),
    ...(options.hotCourses !== undefined ? { HOT_COURSES: String(options.hotCourses) } : {}),
    ...(options.hotShare !== undefined ? { HOT_SHARE: String(options.hotShare) } : {}),
    ...options.extraEnv,
  };
  const k6ExitCode = await runScenario(k6, files, env, path.join(SCENARIO_DIR, `${options.scenario}.ts`), {
    totalSeconds: plan.totalSeconds,
    echo: options.echo,
    signal: options.signal,
  });

  const failures: string[] = [];
  const analysis = await analyzeK6Output(files.k6Points, { p95ThresholdMs: p95Ms });
  const thresholds = readThresholds(files.k6Summary);
  if (k6ExitCode !== 0 && k6ExitCode !== 99)
    failures.push(`k6 exited with ${k6ExitCode} (not a threshold failure): ${lastError(files.k6Log)}`);
  for (const t of thresholds.filter((x) => !x.ok)) failures.push(`threshold crossed: ${t.metric} ${t.threshold}`);
  if (k6ExitCode === 99 && thresholds.every((t) => t.ok)) failures.push('k6 reported crossed thresholds (exit 99)');

  const oversold = await checkOversold(targets);
  if (oversold.error) failures.push(`oversold check failed: ${oversold.error}`);
  for (const c of oversold.courses)
    failures.push(`OVERSOLD: course ${c.id} (${c.code}) has ${c.taken} registrations for ${c.seats} seats`);

  const bp = analysis.breakingPoint;
  const base = {
    passed: failures.length === 0,
    failures,
    scenario: options.scenario,
    targets,
    plan,
    p95ThresholdMs: p95Ms,
    maxErrorRate,
    k6ExitCode,
    thresholds,
    analysis,
    oversold,
    ...(bp ? { breakingArrivalRate: Math.round(plannedRateAt(plan, Math.max(0, bp.atSecond - 0.5)) * 10) / 10 } : {}),
  };
  const lines = formatSummary(base);
  const result: LoadTestResult = { ...base, summaryText: lines.join('\n'), files };
  fs.writeFileSync(files.summaryText, `${result.summaryText}\n`);
  fs.writeFileSync(files.summaryJson, `${JSON.stringify(result, null, 2)}\n`);
  fs.writeFileSync(
    files.chartHtml,
    renderChartHtml({
      title: `rushhour load test: ${options.scenario}`,
      analysis,
      p95ThresholdMs: p95Ms,
      summaryLines: lines,
      plannedRate: Array.from(
        { length: Math.max(analysis.timeline.length, plan.totalSeconds) },
        (_, t) => Math.round(plannedRateAt(plan, t + 0.5) * 100) / 100,
      ),
    }),
  );
  return result;
}

export function runK6(
  k6: string,
  args: string[],
  logFile: string,
  hardLimitMs: number,
  echo: boolean,
  signal?: AbortSignal,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const log = fs.createWriteStream(logFile);
    // Own process group: a terminal's Ctrl-C reaches only this process, which forwards exactly one SIGINT
    // (a second SIGINT makes k6 abort without teardown, so without the oversold check and the summary).
    const child = spawn(k6, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, K6_NO_USAGE_REPORT: 'true' },
    });
    child.stdout.on('data', (d: Buffer) => {
      log.write(d);
      if (echo) process.stdout.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      log.write(d);
      if (echo) process.stderr.write(d);
    });
    // SIGINT lets k6 stop the scenario, run teardown and write its output; SIGKILL only if it does not.
    const stop = () => {
      child.kill('SIGINT');
      setTimeout(() => child.kill('SIGKILL'), 30000).unref();
    };
    const timer = setTimeout(() => {
      log.write(`\nrunner: k6 exceeded ${hardLimitMs} ms, stopping it\n`);
      stop();
    }, hardLimitMs);
    const onAbort = () => stop();
    signal?.addEventListener('abort', onAbort, { once: true });
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      process.removeListener('exit', killOnExit);
      log.end(() => resolve(code ?? (sig ? 128 : 1)));
    });
  });
}

export function tail(file: string, chars = 2000): string {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').slice(-chars) : '';
}

/** The most telling line of k6's log: the last `level=error` message. */
export function lastError(file: string): string {
  const errors = tail(file, 20000)
    .split('\n')
    .filter((l) => l.includes('level=error'));
  const last = errors[errors.length - 1];
  if (!last) return `see ${file}`;
  const msg = /msg="((?:[^"\\]|\\.)*)"/.exec(last);
  return msg ? msg[1].replace(/\\n/g, ' ').replace(/\\"/g, '"').replace(/\\t/g, ' ').slice(0, 500) : last.slice(0, 500);
}

/** Threshold outcomes from `--summary-export`, where `true` means the threshold was crossed. */
export function readThresholds(summaryFile: string): ThresholdResult[] {
  if (!fs.existsSync(summaryFile)) return [];
  const summary = JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as {
    metrics?: Record<string, { thresholds?: Record<string, boolean> }>;
  };
  const out: ThresholdResult[] = [];
  for (const [metric, m] of Object.entries(summary.metrics ?? {})) {
    for (const [threshold, crossed] of Object.entries(m.thresholds ?? {}))
      out.push({ metric, threshold, ok: !crossed });
  }
  return out.sort((a, b) => a.metric.localeCompare(b.metric));
}

/** `GET /api/courses` on every target; courses with `taken > seats`. */
export async function checkOversold(
  targets: readonly WeightedTarget[],
  timeoutMs = 15000,
): Promise<LoadTestResult['oversold']> {
  const found = new Map<number, OversoldCourse>();
  let checked = 0;
  const errors: string[] = [];
  for (const t of targets) {
    try {
      const res = await fetch(`${t.url}/api/courses`, { signal: AbortSignal.timeout(timeoutMs) });
      if (res.status !== 200) throw new Error(`GET ${t.url}/api/courses answered ${res.status}`);
      const courses = (await res.json()) as OversoldCourse[];
      if (!Array.isArray(courses)) throw new Error(`GET ${t.url}/api/courses did not return a list`);
      checked = Math.max(checked, courses.length);
      for (const c of courses)
        if (c.taken > c.seats) found.set(c.id, { id: c.id, code: c.code, seats: c.seats, taken: c.taken });
    } catch (err) {
      errors.push(err instanceof Error ? err.message : String(err));
    }
  }
  return {
    checkedCourses: checked,
    courses: [...found.values()],
    ...(errors.length ? { error: errors.join('; ') } : {}),
  };
}

const n = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 1 });
const ms = (x: number) => `${x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : Math.round(x)} ms`;

/** The human summary, one line per fact. */
export function formatSummary(r: Omit<LoadTestResult, 'summaryText' | 'files'>): string[] {
  const a = r.analysis;
  const statuses = Object.entries(a.statusCounts)
    .sort(([x], [y]) => Number(x) - Number(y))
    .map(([s, c]) => {
      const note =
        s === '409'
          ? ' (full/duplicate: an answer)'
          : s === '503'
            ? ' (overload, Retry-After)'
            : s === '0'
              ? ' (network error/timeout)'
              : '';
      return `${s === '0' ? 'no answer' : s} ×${n(c)}${note}`;
    });
  const errors = Object.entries(a.errorsByStatus).map(([s, c]) => `${s === '0' ? 'no answer' : s} ×${n(c)}`);
  const lines = [
    `rushhour load test "${r.scenario}" against ${r.targets.map((t) => (r.targets.length > 1 ? `${t.url} (weight ${t.weight})` : t.url)).join(', ')}`,
    `result: ${r.passed ? 'PASSED' : 'FAILED'}${r.failures.length ? ` — ${r.failures.join('; ')}` : ''}`,
    `plan: ${n(r.plan.startRate)} → ${n(r.plan.peak)} requests/s over ${r.plan.totalSeconds} s (stages ${r.plan.stages.map((s) => `${s.target}/s for ${s.duration}`).join(', ')})`,
    `rate reached: ${n(a.peakRequestsPerSecond)} requests/s at best (1 s), ${n(a.requestsPerSecond)}/s on average; ${n(a.requests)} requests in ${n(a.durationSeconds)} s`,
    `latency: p50 ${ms(a.latencyMs.p50)}, p95 ${ms(a.latencyMs.p95)}, p99 ${ms(a.latencyMs.p99)}, max ${ms(a.latencyMs.max)} (threshold p95 < ${r.p95ThresholdMs} ms)`,
    `answers: ${statuses.join(', ') || 'none'}`,
    `errors: ${(a.errorRate * 100).toFixed(2)}% (threshold < ${(r.maxErrorRate * 100).toFixed(2)}%)${errors.length ? ` — ${errors.join(', ')}` : ''}; 503 overload: ${n(a.overloaded)}`,
    a.breakingPoint
      ? `p95 first broke ${r.p95ThresholdMs} ms ${a.breakingPoint.atSecond} s in, at ${n(a.breakingPoint.requestsPerSecond)} requests/s reached` +
        `${r.breakingArrivalRate !== undefined ? ` (planned arrivals ${n(r.breakingArrivalRate)}/s)` : ''}; p95 ${ms(a.breakingPoint.p95Ms)} over the last 5 s`
      : `p95 stayed under ${r.p95ThresholdMs} ms at every rate reached (5 s windows)`,
    ...(a.droppedIterations > 0
      ? [
          `dropped arrivals: ${n(a.droppedIterations)} (every k6 VU was busy: the target is too slow, or raise --max-vus)`,
        ]
      : []),
    ...(r.targets.length > 1
      ? [
          `by target: ${Object.entries(a.byTarget)
            .map(([t, g]) => `${t} ${n(g.requests)} req, ${n(g.failed)} failed, p95 ${ms(g.p95)}`)
            .join('; ')}`,
        ]
      : []),
    `by request: ${Object.entries(a.byName)
      .map(([name, g]) => `${name} ${n(g.requests)} (p95 ${ms(g.p95)}, ${n(g.failed)} failed)`)
      .join('; ')}`,
    r.oversold.error
      ? `oversold check: could not check (${r.oversold.error})`
      : `oversold: ${r.oversold.courses.length === 0 ? `none (${r.oversold.checkedCourses} courses checked through GET /api/courses)` : r.oversold.courses.map((c) => `course ${c.id} ${c.taken}/${c.seats}`).join(', ')}`,
  ];
  return lines;
}
