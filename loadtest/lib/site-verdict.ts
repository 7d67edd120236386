/**
 * The verdict for any site's rush, a pure function of what was measured:
 * 1. k6 ran to the end and every threshold of the plan held;
 * 2. no 5xx except the front door's sheds (503 with Retry-After, counted apart);
 * 3. the sync-back proof passed (when the run had a sync-back);
 * 4. every acknowledged write is at the origin: per count SQL of the plan, the rows it counts after (after
 *    sync-back) minus before (before the rush) equal the successes k6 counted times the rows per success.
 *    Writes whose answer never arrived (`unconfirmed`: no answer, a 5xx, or the page a redirect led to lost) may
 *    or may not have been applied, so they widen the allowed range by their number and nothing else does.
 */
import type { SitePlan } from './site-plan';
import { SITE_METRICS, writeMetric } from './site-logic';

export interface SiteVerdictInput {
  readonly writes: SitePlan['writes'];
  /** k6's exit code: 0 ok, 99 thresholds crossed, others an error. */
  readonly k6ExitCode: number;
  readonly thresholds: ReadonlyArray<{ readonly metric: string; readonly threshold: string; readonly ok: boolean }>;
  /** k6 counter totals by metric name (from `--summary-export`); a counter missing means k6 did not finish. */
  readonly counters: Readonly<Record<string, number>>;
  /** The sync-back proof: true proved, false failed, undefined when this run had no sync-back. */
  readonly syncBackProved?: boolean;
  /** Rows counted by each of the plan's count SQL, before the rush and after it (after sync-back). */
  readonly rows?: {
    readonly before: Readonly<Record<string, number>>;
    readonly after: Readonly<Record<string, number>>;
  };
}

export type CheckState = 'passed' | 'failed' | 'not checked';

export interface VerdictCheck {
  readonly name: 'k6' | 'thresholds' | 'server errors' | 'sync-back' | 'writes' | 'accounting';
  readonly state: CheckState;
  readonly detail: string;
}

export interface WriteAccount {
  /** The plan's count SQL. */
  readonly count: string;
  readonly writes: ReadonlyArray<{
    readonly name: string;
    readonly perSuccess: number;
    readonly ok: number;
    readonly failed: number;
    readonly unconfirmed: number;
  }>;
  /** Σ perSuccess × successes: the rows the acknowledged writes made. */
  readonly expected: number;
  /** The range the unconfirmed writes allow around `expected`. */
  readonly allowed: { readonly min: number; readonly max: number };
  readonly before?: number;
  readonly after?: number;
  readonly delta?: number;
  readonly state: CheckState;
}

export interface SiteVerdict {
  /** No check failed. */
  readonly passed: boolean;
  /** Every check was made (none `not checked`). */
  readonly complete: boolean;
  readonly checks: readonly VerdictCheck[];
  readonly accounts: readonly WriteAccount[];
  readonly sheds: number;
  readonly serverErrors: number;
  readonly noAnswer: number;
  readonly failures: readonly string[];
}

export function siteVerdict(input: SiteVerdictInput): SiteVerdict {
  const c = input.counters;
  const checks: VerdictCheck[] = [];
  const finished = c[SITE_METRICS.sheds] !== undefined;

  const ran = input.k6ExitCode === 0 || input.k6ExitCode === 99;
  checks.push({
    name: 'k6',
    state: ran && finished ? 'passed' : 'failed',
    detail: !ran
      ? `k6 exited with ${input.k6ExitCode} (not a threshold failure)`
      : finished
        ? 'ran to the end'
        : 'k6 did not reach teardown: its counters are missing',
  });

  const crossed = input.thresholds.filter((t) => !t.ok);
  const thresholdsState: CheckState =
    crossed.length > 0 || input.k6ExitCode === 99 ? 'failed' : input.thresholds.length === 0 ? 'not checked' : 'passed';
  checks.push({
    name: 'thresholds',
    state: thresholdsState,
    detail: crossed.length
      ? `crossed: ${crossed.map((t) => `${t.metric} ${t.threshold}`).join(', ')}`
      : thresholdsState === 'failed'
        ? 'k6 reported crossed thresholds (exit 99)'
        : thresholdsState === 'not checked'
          ? 'no threshold results (no summary export)'
          : `${input.thresholds.length} held`,
  });

  const sheds = c[SITE_METRICS.sheds] ?? 0;
  const serverErrors = c[SITE_METRICS.serverErrors] ?? 0;
  const noAnswer = c[SITE_METRICS.noAnswer] ?? 0;
  checks.push({
    name: 'server errors',
    state: !finished ? 'not checked' : serverErrors === 0 ? 'passed' : 'failed',
    detail: `${serverErrors} 5xx that were not the front door's sheds; ${sheds} sheds (503 with Retry-After); ${noAnswer} without an answer`,
  });

  checks.push({
    name: 'sync-back',
    state: input.syncBackProved === undefined ? 'not checked' : input.syncBackProved ? 'passed' : 'failed',
    detail:
      input.syncBackProved === undefined
        ? 'not part of this run'
        : input.syncBackProved
          ? 'the origin matches the cloud database'
          : 'the origin differs from the cloud database',
  });

  const none = input.writes.filter((w) => (c[writeMetric(w.name)] ?? 0) === 0).map((w) => w.name);
  checks.push({
    name: 'writes',
    state: input.writes.length === 0 ? 'not checked' : none.length === 0 ? 'passed' : 'failed',
    detail:
      input.writes.length === 0
        ? 'the plan names no write'
        : none.length === 0
          ? input.writes.map((w) => `${w.name} ${c[writeMetric(w.name)]}`).join(', ')
          : `no success for ${none.join(', ')}: the rush proved nothing about ${none.length > 1 ? 'them' : 'it'}`,
  });

  const accounts = accountWrites(input);
  const bad = accounts.filter((a) => a.state === 'failed');
  checks.push({
    name: 'accounting',
    state:
      input.writes.length === 0 || !input.rows
        ? 'not checked'
        : bad.length > 0 || !finished
          ? 'failed'
          : accounts.some((a) => a.state === 'not checked')
            ? 'not checked'
            : 'passed',
    detail:
      input.writes.length === 0
        ? 'no write to account for'
        : !input.rows
          ? 'rows not counted (no database given)'
          : !finished
            ? 'k6 did not finish: successes unknown'
            : accounts.map(describeAccount).join('; '),
  });

  const failures = checks.filter((x) => x.state === 'failed').map((x) => `${x.name}: ${x.detail}`);
  return {
    passed: failures.length === 0,
    complete: checks.every((x) => x.state !== 'not checked'),
    checks,
    accounts,
    sheds,
    serverErrors,
    noAnswer,
    failures,
  };
}

function accountWrites(input: SiteVerdictInput): WriteAccount[] {
  const c = input.counters;
  const bySql = new Map<string, SitePlan['writes'][number][]>();
  for (const w of input.writes) bySql.set(w.rows.count, [...(bySql.get(w.rows.count) ?? []), w]);
  return [...bySql.entries()].map(([count, writes]) => {
    const ws = writes.map((w) => ({
      name: w.name,
      perSuccess: w.rows.perSuccess,
      ok: c[writeMetric(w.name)] ?? 0,
      failed: c[writeMetric(w.name, 'failed')] ?? 0,
      unconfirmed: c[writeMetric(w.name, 'unconfirmed')] ?? 0,
    }));
    const expected = ws.reduce((s, w) => s + w.perSuccess * w.ok, 0);
    const up = ws.reduce((s, w) => s + Math.max(0, w.perSuccess) * w.unconfirmed, 0);
    const down = ws.reduce((s, w) => s + Math.max(0, -w.perSuccess) * w.unconfirmed, 0);
    const allowed = { min: expected - down, max: expected + up };
    const before = input.rows?.before[count];
    const after = input.rows?.after[count];
    if (before === undefined || after === undefined)
      return { count, writes: ws, expected, allowed, before, after, state: 'not checked' as const };
    const delta = after - before;
    const state: CheckState = delta >= allowed.min && delta <= allowed.max ? 'passed' : 'failed';
    return { count, writes: ws, expected, allowed, before, after, delta, state };
  });
}

function describeAccount(a: WriteAccount): string {
  const made = a.writes.map((w) => `${w.name} ${w.ok}×${w.perSuccess}`).join(' + ');
  const unconfirmed = a.writes.reduce((s, w) => s + w.unconfirmed, 0);
  if (a.delta === undefined) return `${a.count}: not counted`;
  const range = a.allowed.min === a.allowed.max ? `${a.expected}` : `${a.allowed.min}..${a.allowed.max}`;
  const head = `${a.count}: ${a.after} - ${a.before} = ${a.delta} rows, acknowledged ${made} = ${range}${unconfirmed ? ` (${unconfirmed} unconfirmed)` : ''}`;
  if (a.state === 'passed') return `${head}: every acknowledged write is there`;
  return a.delta < a.allowed.min
    ? `${head}: LOST ${a.allowed.min - a.delta} acknowledged row(s)`
    : `${head}: ${a.delta - a.allowed.max} row(s) that no success accounts for (does the SQL count only this write's rows?)`;
}

/** The verdict as lines for a person. */
export function formatSiteVerdict(v: SiteVerdict): string[] {
  const mark = (s: CheckState) => (s === 'passed' ? 'ok  ' : s === 'failed' ? 'FAIL' : ' -- ');
  return [
    `VERDICT: ${v.passed ? 'PASSED' : 'FAILED'}${v.passed && !v.complete ? ' (not every check was made, see --)' : ''}`,
    ...v.checks.map((x) => `  ${mark(x.state)} ${x.name}: ${x.detail}`),
  ];
}
