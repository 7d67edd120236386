/**
 * `npm run loadtest -- <scenario> --target URL[=WEIGHT] [--target ...] [--peak N] [--duration D] [--out DIR]`
 * `npm run loadtest -- site --plan FILE --target URL[=WEIGHT] ... [--db mysql://USER@HOST:PORT/DB]`
 *
 * Runs a k6 scenario (browse, register, rush, soak against the reference app; site with any site's load plan,
 * loadtest/lib/site-plan.ts) and writes summary.txt, summary.json and chart.html.
 * Exits 1 when a threshold failed or a course is oversold, 2 on bad input or when k6 is missing.
 * The same runner is importable: `import { runLoadTest } from './loadtest/run'`.
 */
import { Command, InvalidArgumentError } from 'commander';
import { NAMED_MIXES, SCENARIO_DEFAULTS, SCENARIOS, ScenarioName } from './lib/plan';
import { positiveNumber } from '../src/util/options';
import { runLoadTest } from './lib/runner';
import { parseTarget } from './lib/targets';
import { mysqlRowCounter, runSiteLoadTest } from './lib/site-runner';

export { runLoadTest, findK6, checkOversold, K6_INSTALL_HINT } from './lib/runner';
export type { LoadTestOptions, LoadTestResult } from './lib/runner';
export { runSiteLoadTest } from './lib/site-runner';
export type { SiteLoadTestOptions, SiteLoadTestResult } from './lib/site-runner';

function collectTarget(raw: string, previous: string[] = []): string[] {
  try {
    parseTarget(raw);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return [...previous, raw];
}

export function buildProgram(): Command {
  const defaults = SCENARIOS.map(
    (s) => `${s}: ${SCENARIO_DEFAULTS[s].peak}/s for ${SCENARIO_DEFAULTS[s].duration}`,
  ).join('; ');
  return new Command('loadtest')
    .description(
      'Run a k6 load test against a rushhour deployment (or the local app) and write a summary, JSON and a chart.',
    )
    .argument('<scenario>', `one of ${SCENARIOS.join(', ')}, or site (with --plan)`)
    .option('--plan <file>', 'site: the load plan (JSON, see docs/loadtest.md)')
    .option(
      '--db <url>',
      "site: count the plan's write rows before and after, mysql://USER@HOST:PORT/DATABASE (password in MYSQL_PWD)",
    )
    .requiredOption(
      '-t, --target <url[=weight]>',
      'base URL of a load balancer; repeat with =WEIGHT for several (weighted DNS)',
      collectTarget,
    )
    .option(
      '-p, --peak <rate>',
      `highest arrival rate in requests/s (soak: the steady rate). Defaults: ${defaults}`,
      positiveNumber('--peak', { integer: true }),
    )
    .option('-d, --duration <duration>', 'total duration, e.g. 45s, 10m, 1h30m')
    .option('-o, --out <dir>', 'output directory (default .rushhour/loadtest/<scenario>-<time>)')
    .option('--p95 <ms>', 'p95 latency threshold in ms', positiveNumber('--p95'), 500)
    .option(
      '--max-error-rate <share>',
      'highest share of failed requests, 0.01 = 1% (409 is not a failure; 503 is)',
      Number,
      0.01,
    )
    .option('--mix <read:write>', `read:write mix for register/rush/soak: ${NAMED_MIXES.join(', ')}`, '50:50')
    .option(
      '--students <n>',
      'students the seed created (ids 1..N; rushhour seed --students N)',
      positiveNumber('--students', { integer: true }),
      500,
    )
    .option(
      '--hot-courses <n>',
      'register/rush/soak: how many courses are popular (the first ones GET /api/courses lists)',
      positiveNumber('--hot-courses', { integer: true }),
      3,
    )
    .option(
      '--hot-share <share>',
      'register/rush/soak: share of registrations that go to the popular courses (0..1)',
      Number,
      0.5,
    )
    .option(
      '--max-vus <n>',
      'upper bound on k6 virtual users (default twice the peak, 20..5000)',
      positiveNumber('--max-vus', { integer: true }),
    )
    .option('--request-timeout <duration>', 'per-request timeout', '10s')
    .option('--k6 <path>', 'k6 binary (default ~/go/bin/k6, then PATH)')
    .option('-q, --quiet', 'do not echo k6 output while it runs');
}

interface CliOptions {
  plan?: string;
  db?: string;
  target: string[];
  peak?: number;
  duration?: string;
  out?: string;
  p95: number;
  maxErrorRate: number;
  mix: string;
  students: number;
  hotCourses: number;
  hotShare: number;
  maxVus?: number;
  requestTimeout: string;
  k6?: string;
  quiet?: boolean;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram().exitOverride();
  let scenario: string;
  let opts: CliOptions;
  try {
    program.parse(argv, { from: 'user' });
    scenario = program.args[0];
    opts = program.opts<CliOptions>();
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode;
    return code === 0 ? 0 : 2; // commander already printed the message
  }
  const controller = new AbortController();
  const onSigint = () => {
    console.error('\nstopping k6 (it runs teardown and writes its output)...');
    controller.abort();
  };
  process.once('SIGINT', onSigint);
  try {
    if (scenario === 'site') return await runSite(opts, controller.signal);
    if (opts.plan || opts.db) throw new Error('--plan and --db belong to the site scenario: loadtest site --plan FILE');
    const result = await runLoadTest({
      scenario: scenario as ScenarioName,
      targets: opts.target,
      peak: opts.peak,
      duration: opts.duration,
      outDir: opts.out,
      p95Ms: opts.p95,
      maxErrorRate: opts.maxErrorRate,
      mix: opts.mix,
      students: opts.students,
      maxVUs: opts.maxVus,
      requestTimeout: opts.requestTimeout,
      k6Path: opts.k6,
      echo: !opts.quiet,
      signal: controller.signal,
      hotCourses: opts.hotCourses,
      hotShare: opts.hotShare,
    });
    console.log(`\n${result.summaryText}\n`);
    console.log(
      `summary: ${result.files.summaryText}\njson:    ${result.files.summaryJson}\nchart:   ${result.files.chartHtml}`,
    );
    return result.passed ? 0 : 1;
  } catch (err) {
    console.error(`loadtest: ${(err as Error).message}`);
    return 2;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

async function runSite(opts: CliOptions, signal: AbortSignal): Promise<number> {
  if (!opts.plan) throw new Error('site needs --plan FILE (a load plan for your site, see docs/loadtest.md)');
  const result = await runSiteLoadTest({
    plan: opts.plan,
    targets: opts.target,
    peak: opts.peak,
    duration: opts.duration,
    outDir: opts.out,
    k6Path: opts.k6,
    echo: !opts.quiet,
    signal,
    ...(opts.db ? { countRows: mysqlRowCounter(opts.db) } : {}),
  });
  console.log(`\n${result.summaryText}\n`);
  console.log(
    `summary: ${result.files.summaryText}\njson:    ${result.files.summaryJson}\nchart:   ${result.files.chartHtml}`,
  );
  return result.verdict.passed ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
