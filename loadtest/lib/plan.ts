/**
 * The shape of each scenario's load (arrival-rate stages), its thresholds and its read:write mix.
 * Pure code shared by the k6 scenarios (which build their `options` from it) and the runner (which draws the
 * planned rate on the chart), so both always agree.
 */

export const SCENARIOS = ['browse', 'register', 'rush', 'soak'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** One k6 `ramping-arrival-rate` stage: reach `target` iterations per second over `duration`. */
export interface Stage {
  readonly target: number;
  /** k6 duration, always whole seconds here, e.g. `12s`. */
  readonly duration: string;
}

export interface LoadPlan {
  readonly scenario: ScenarioName;
  /** Arrival rate (iterations, i.e. requests, per second) at the start. */
  readonly startRate: number;
  readonly stages: readonly Stage[];
  /** The highest planned arrival rate. */
  readonly peak: number;
  readonly totalSeconds: number;
  readonly preAllocatedVUs: number;
  readonly maxVUs: number;
}

export interface PlanOptions {
  /** Highest arrival rate in requests per second (soak: the steady rate). @default see `SCENARIO_DEFAULTS` */
  readonly peak?: number;
  /** Total duration as a k6-style duration (`45s`, `10m`, `1h30m`) or seconds. @default see `SCENARIO_DEFAULTS` */
  readonly duration?: string | number;
  /** Upper bound on k6 virtual users. @default twice the peak, at least 20, at most 5000 */
  readonly maxVUs?: number;
}

/**
 * Defaults for a real deployment. The rush is shaped on the original study: a baseline of 200 users a second,
 * 1,000 on the way up, 4,000 at the peak.
 */
export const SCENARIO_DEFAULTS: Record<ScenarioName, { peak: number; duration: string }> = {
  browse: { peak: 500, duration: '5m' },
  register: { peak: 500, duration: '5m' },
  rush: { peak: 4000, duration: '10m' },
  soak: { peak: 200, duration: '1h' },
};

export function isScenario(name: string): name is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(name);
}

/** `90`, `90s`, `5m`, `1h30m`, `2m30s` → seconds. */
export function parseDurationSeconds(value: string | number): number {
  if (typeof value === 'number') {
    if (!(value > 0)) throw new Error(`duration ${value} must be a positive number of seconds`);
    return Math.round(value);
  }
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return parseDurationSeconds(Number(text));
  const re = /(\d+(?:\.\d+)?)(h|m|s)/g;
  let seconds = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    seconds += Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
    consumed += m[0].length;
  }
  if (consumed !== text.length || seconds <= 0) {
    throw new Error(`duration "${value}" is not understood: write it like 45s, 10m or 1h30m`);
  }
  return Math.round(seconds);
}

/** Splits `total` seconds over the fractions, each part at least one second, the rounding rest to the last. */
function split(total: number, fractions: readonly number[]): number[] {
  const parts = fractions.map((f) => Math.max(1, Math.floor(total * f)));
  const rest = total - parts.reduce((a, b) => a + b, 0);
  parts[parts.length - 1] += rest;
  if (parts[parts.length - 1] < 1) {
    throw new Error(
      `duration ${total}s is too short for this scenario's ${fractions.length} stages: give at least ${fractions.length}s`,
    );
  }
  return parts;
}

export function buildPlan(scenario: ScenarioName, options: PlanOptions = {}): LoadPlan {
  const defaults = SCENARIO_DEFAULTS[scenario];
  const peak = Math.round(options.peak ?? defaults.peak);
  if (!(peak >= 1)) throw new Error(`peak ${options.peak} must be at least 1 request per second`);
  const totalSeconds = parseDurationSeconds(options.duration ?? defaults.duration);
  let startRate: number;
  let shape: Array<[fraction: number, target: number]>;
  switch (scenario) {
    case 'rush': {
      // 200 → 1,000 → 4,000 → back, scaled to the peak.
      const baseline = Math.max(1, Math.round(peak / 20));
      const middle = Math.max(1, Math.round(peak / 4));
      startRate = baseline;
      shape = [
        [0.1, baseline],
        [0.15, middle],
        [0.1, middle],
        [0.15, peak],
        [0.2, peak],
        [0.15, middle],
        [0.15, baseline],
      ];
      break;
    }
    case 'soak':
      startRate = peak;
      shape = [[1, peak]];
      break;
    default:
      // browse and register climb steadily to find the rate at which latency breaks, then hold the peak.
      startRate = Math.max(1, Math.round(peak / 10));
      shape = [
        [0.8, peak],
        [0.2, peak],
      ];
  }
  const seconds = split(
    totalSeconds,
    shape.map(([f]) => f),
  );
  const stages = shape.map(([, target], i) => ({ target, duration: `${seconds[i]}s` }));
  const maxVUs = Math.round(options.maxVUs ?? Math.min(5000, Math.max(20, peak * 2)));
  if (!(maxVUs >= 1)) throw new Error(`maxVUs ${options.maxVUs} must be at least 1`);
  const preAllocatedVUs = Math.min(maxVUs, Math.max(5, Math.ceil(peak / 10)));
  return { scenario, startRate, stages, peak, totalSeconds, preAllocatedVUs, maxVUs };
}

/** The planned arrival rate `t` seconds after the start (linear within a stage, as k6 ramps). */
export function plannedRateAt(plan: LoadPlan, t: number): number {
  let from = plan.startRate;
  let start = 0;
  for (const stage of plan.stages) {
    const d = parseDurationSeconds(stage.duration);
    if (t <= start + d) return from + ((stage.target - from) * (t - start)) / d;
    from = stage.target;
    start += d;
  }
  return 0;
}

/** Reads and writes as shares of all requests. */
export interface Mix {
  readonly read: number;
  readonly write: number;
}

/** Named mixes: the study measured 50:50 and names 66:34 and 60:40 as realistic. */
export const NAMED_MIXES = ['50:50', '66:34', '60:40'] as const;

/** `READ:WRITE`, e.g. `50:50`, `66:34`, `60:40`, `100:0`. */
export function parseMix(text: string): Mix {
  const m = /^\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*$/.exec(text);
  const read = m ? Number(m[1]) : NaN;
  const write = m ? Number(m[2]) : NaN;
  if (!m || read + write <= 0) {
    throw new Error(`mix "${text}" is not READ:WRITE: use e.g. ${NAMED_MIXES.join(', ')} or 100:0`);
  }
  return { read: read / (read + write), write: write / (read + write) };
}

export interface ThresholdOptions {
  /** p95 latency limit over all requests, in milliseconds. @default 500 */
  readonly p95Ms?: number;
  /**
   * Highest share of failed requests (network errors, 5xx including 503, unexpected 4xx; 409 is an answer). @default
   * 0.01
   */
  readonly maxErrorRate?: number;
}

export const DEFAULT_P95_MS = 500;
export const DEFAULT_MAX_ERROR_RATE = 0.01;

/** Metric names the scenarios emit from `teardown` after checking `GET /api/courses`. */
export const OVERSOLD_METRIC = 'oversold_courses';
export const OVERSOLD_CHECK_FAILED_METRIC = 'oversold_check_failed';

export function buildThresholds(options: ThresholdOptions = {}): Record<string, string[]> {
  const p95 = options.p95Ms ?? DEFAULT_P95_MS;
  const rate = options.maxErrorRate ?? DEFAULT_MAX_ERROR_RATE;
  if (!(p95 > 0)) throw new Error(`p95 threshold ${p95} ms must be a positive number of milliseconds`);
  if (!(rate >= 0 && rate <= 1)) throw new Error(`error-rate threshold ${rate} must be between 0 and 1 (0.01 = 1%)`);
  return {
    http_req_duration: [`p(95)<${p95}`],
    http_req_failed: [rate === 0 ? 'rate<=0' : `rate<${rate}`],
    [OVERSOLD_METRIC]: ['count<1'],
    [OVERSOLD_CHECK_FAILED_METRIC]: ['count<1'],
  };
}
