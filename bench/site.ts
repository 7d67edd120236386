/**
 * bench/site: the example PHP site (examples/lamp-site: its course list and its registration) on three stacks, side
 * by side in one run, on one MariaDB and the same PHP code:
 *
 *   (a) rushhour: the configs src/site renders for an instance (nginx front door with max_conns and the busy page,
 *       php-fpm `site` pool sized by src/site/sizing.ts, the `health` pool, sessions in the database), started with
 *       the argv of the rendered units;
 *   (b) the original study's stack: Apache 2.4 with mod_php, Debian's own /etc/apache2/apache2.conf (mpm_prefork,
 *       MaxRequestWorkers 150, KeepAlive On ...) with only its Listen and site lines replaced;
 *   (c) Debian's default nginx + php-fpm: /etc/nginx/nginx.conf and /etc/php/8.2/fpm/pool.d/www.conf as shipped
 *       (pm = dynamic, pm.max_children = 5 ...), with the default site's commented PHP block switched on.
 *
 *   npx tsx bench/site.ts [--stage-seconds 10] [--overload-seconds 30] [--students 48] [--start-rate 100]
 *                         [--only a,b,c] [--no-pin] [--rushhour-site JSON] [--rates R1,R2] [--keep]
 *
 * Method (bench/app.ts's): for each stack, step the arrival rate with k6 (doubling from --start-rate, then two
 * bisections; a failed stage is retried once), interleaved stack by stack so a noisy moment of this shared machine
 * hits all three alike; the capacity is the rate served (successful answers per second) at the highest stage with
 * p95 < 200 ms and < 1% errors. Then 2x that rate for --overload-seconds, with a separate 5/s probe of each stack's
 * health path: goodput (successful answers per second), p95 of the answers that were not successes (sheds, errors,
 * timeouts), and how many probes answered 200. k6's dropped iterations are printed for every stage, and a floor arm
 * (bare node:http serving the course list page from memory on the stacks' core) is driven at the highest rate used:
 * if k6 can drive the floor there, k6 was not the limit of any stack; if not, two bisections find the rate k6 can
 * drive (its own limit here, printed with the summary). Every stage also prints how busy each cpu was (all processes:
 * the machine is shared) and MariaDB's statement counters per request (selects, writes, pings: what a session
 * handler costs shows there).
 *
 * A bounded A/B run of one setting of (a) against (c) in the same minute: `--only a,c --rates 600,1000
 * --overload-seconds 0 --rushhour-site '{"phpWorkers":4}'` (fixed stages instead of the search; 0 skips the floor and
 * the 2x runs).
 *
 * The mix: 3 course-list views (GET /courses.php, 200 expected) to 1 registration (POST /register.php, 302 to
 * courses.php expected) per student session. Sessions are logged in before the measurement (bcrypt login costs
 * ~0.1 s of CPU per student here and is not what the week's rush repeats per page); (b) and (c) share their session
 * files (both use PHP's files handler, Debian's default), (a) keeps them in its sessions table as on an instance.
 *
 * CPU: the stacks under test and MariaDB run on cpu 0 (taskset), k6 and this script on cpu 1, so the load generator
 * has a core of its own. `--no-pin` shares both cores.
 */
import { ChildProcess, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { SSM_KEYS, ssmParameterName } from '../lib/contracts';
import { findK6, runK6, tail } from '../loadtest/lib/runner';
import { LocalMariaDb, startMariaDb } from '../src/local/mariadb';
import { freePort, waitForPort } from '../src/local/ports';
import { requireTool, spawnOwned, stopProcess } from '../src/local/process';
import { writeRendered } from '../src/site/boot';
import { dbEnv } from '../src/site/env-file';
import { SiteLayout } from '../src/site/layout';
import { debianLayout } from '../src/local/site-instance';
import { SESSIONS_TABLE_SQL } from '../src/site/php-files';
import { renderSite } from '../src/site/render';
import { parseSite } from '../src/site/schema';
import { renderTemplate, wireDatabase } from '../src/site/wire-db';
import { APP_PRIVILEGES } from '../src/sql/app-user';
import { benchArgs, benchNumber } from './args';

const USAGE = `usage: npx tsx bench/site.ts [--stage-seconds 10] [--overload-seconds 30] [--students 48] [--start-rate 100]
                            [--only a,b,c] [--no-pin] [--rushhour-site JSON] [--rates R1,R2,...] [--keep]
  --rates: run these fixed stages (interleaved per stack) instead of the rate search; the highest passing one is the
           capacity for the 2x run (a bounded A/B run of a setting: --only a,c --rates 1000,1200 --overload-seconds 10)`;
const args = benchArgs(USAGE, {
  'stage-seconds': { type: 'string' },
  'overload-seconds': { type: 'string' },
  students: { type: 'string' },
  'start-rate': { type: 'string' },
  only: { type: 'string' },
  'no-pin': { type: 'boolean' },
  'rushhour-site': { type: 'string' },
  keep: { type: 'boolean' },
  rates: { type: 'string' },
});
const STAGE_S = benchNumber(USAGE, '--stage-seconds', args['stage-seconds'], 10);
/** 0 skips the 2x runs (and the floor), for a bounded A/B run of the capacity stages. */
const OVERLOAD_S = benchNumber(USAGE, '--overload-seconds', args['overload-seconds'], 30, true);
const STUDENTS = Math.min(300, benchNumber(USAGE, '--students', args.students, 48));
const START_RATE = benchNumber(USAGE, '--start-rate', args['start-rate'], 100);
const ONLY = (args.only ?? 'a,b,c').split(',');
const FIXED_RATES = args.rates?.split(',').map((r) => benchNumber(USAGE, '--rates', r, 0));
/** Fields merged into (a)'s web.site, to try a setting (e.g. '{"maxInFlight":16}') without editing src/site. */
const RUSHHOUR_SITE = parseJsonFlag(args['rushhour-site']);
const CORES = os.availableParallelism();
const PIN = !args['no-pin'] && CORES >= 2;
const SUT_CPUS = '0';
const DRIVER_CPUS = `1-${CORES - 1}`;
const P95_LIMIT_MS = 200;
const PROBE_RATE = 5;
const LAMP_DIR = path.resolve(__dirname, '..', 'examples', 'lamp-site');
const LAMP_DUMP = path.join(LAMP_DIR, 'course-selection-lamp.sql.gz');
const SITE_LOGIC = path.resolve(__dirname, '..', 'loadtest', 'lib', 'site-logic.ts');
const DB_NAME = 'courses';

/** One stack under test. */
interface Arm {
  readonly key: 'a' | 'b' | 'c';
  readonly name: string;
  readonly url: string;
  /** The path a balancer's health check would ask. */
  readonly healthPath: string;
  /** Processes whose CPU is the stack's (with their children). */
  readonly pids: number[];
  /** One line per setting that decides how it behaves under load. */
  readonly settings: string[];
  /** Logged-in sessions: cookie header and CSRF token. */
  sessions?: string;
  stop(): Promise<void>;
}

interface Stage {
  readonly rate: number;
  /** Successful answers per second. */
  readonly served: number;
  readonly requests: number;
  readonly p95: number;
  readonly errorRate: number;
  readonly dropped: number;
  readonly ok: boolean;
  readonly cpuPerReqUs: number;
  /** MariaDB's CPU per request (it serves one stack at a time). */
  readonly dbCpuPerReqUs: number;
  readonly failedP95: number;
  readonly answers: Record<string, number>;
  readonly notLoggedIn: number;
  readonly probe?: { ok: number; total: number; p95: number; max: number };
  /**
   * How busy each cpu was during the stage (%, every process on the machine): the stacks' core at ~100% means the
   * stack ran out of CPU; k6's core near 100% means the load generator may be the limit (the floor tells).
   */
  readonly cpuBusy: number[];
  /** MariaDB's statement counters per request (a session handler's cost shows here: selects, writes, pings). */
  readonly dbPerReq: Record<string, number>;
}

const K6_SCRIPT = `
import http from 'k6/http';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';
import { answerKind } from '${SITE_LOGIC}';

const rate = Number(__ENV.RATE);
const maxVUs = Number(__ENV.MAX_VUS);
const sessions = JSON.parse(open(__ENV.SESSIONS));
const scenarios = {
  load: { executor: 'constant-arrival-rate', rate, timeUnit: '1s', duration: __ENV.DURATION, gracefulStop: '2s',
    preAllocatedVUs: Number(__ENV.PRE_VUS), maxVUs, exec: 'load' },
};
if (__ENV.PROBE_PATH) scenarios.probe = { executor: 'constant-arrival-rate', rate: Number(__ENV.PROBE_RATE),
  timeUnit: '1s', duration: __ENV.DURATION, gracefulStop: '6s', preAllocatedVUs: 10, maxVUs: 40, exec: 'probe' };
export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'p(95)', 'max'],
  scenarios,
  // Thresholds that always pass: they make k6 report these sub-metrics.
  thresholds: { 'http_req_duration{scenario:load}': ['p(95)>=0'], 'dropped_iterations{scenario:load}': ['count>=0'] },
};
const answers = {};
for (const k of ['ok', 'shed', 'server_error', 'no_answer', 'other']) answers[k] = new Counter('answer_' + k);
const failedDuration = new Trend('failed_duration', true);
const notLoggedIn = new Counter('not_logged_in');
const probeOk = new Counter('probe_ok');
const probeFailed = new Counter('probe_failed');
const probeDuration = new Trend('probe_duration', true);
const LIST = http.expectedStatuses(200);
const REGISTER = http.expectedStatuses(302);

export function load() {
  const i = exec.scenario.iterationInTest;
  const s = sessions[(exec.vu.idInTest + i) % sessions.length];
  const params = { headers: { cookie: s.cookie }, redirects: 0, timeout: '10s' };
  let res, good;
  if (i % 4 === 3) {
    const course = 1 + (Math.floor(i / 4) % 43);
    res = http.post(__ENV.URL + '/register.php', { csrf: s.csrf, course_id: String(course) },
      Object.assign({ responseCallback: REGISTER, tags: { name: 'register' } }, params));
    // A registration that redirects to the login page was not made: the session was lost.
    good = res.status === 302 && res.headers['Location'] === 'courses.php';
    if (res.status === 302 && !good) notLoggedIn.add(1);
  } else {
    res = http.get(__ENV.URL + '/courses.php', Object.assign({ responseCallback: LIST, tags: { name: 'course list' } }, params));
    good = res.status === 200;
    if (res.status === 302) notLoggedIn.add(1);
  }
  const kind = good ? 'ok' : answerKind(res.status, res.headers);
  answers[kind === 'ok' && !good ? 'other' : kind].add(1);
  if (!good) failedDuration.add(res.timings.duration);
}

export function probe() {
  const res = http.get(__ENV.URL + __ENV.PROBE_PATH, { timeout: '5s', redirects: 0, tags: { name: 'health' } });
  (res.status === 200 ? probeOk : probeFailed).add(1);
  probeDuration.add(res.timings.duration);
}

export function handleSummary(data) { return { [__ENV.SUMMARY]: JSON.stringify(data.metrics) }; }
`;

const FLOOR_SERVER = `
const page = require('node:fs').readFileSync(process.argv[1]);
require('node:http').createServer((req, res) => {
  if (req.method === 'POST') { res.writeHead(302, { location: 'courses.php', 'content-length': 0 }); res.end(); return; }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': page.length });
  res.end(page);
}).listen(Number(process.argv[2]), '127.0.0.1');
`;

/** CPU seconds (user + system) used so far by a process and its live descendants, from /proc. */
function treeCpuSeconds(rootPids: number[]): number {
  const stats = new Map<number, { ppid: number; cpu: number }>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime + stime, and cutime + cstime: the CPU of children already reaped (php-fpm recycles workers, `pm =
      // dynamic` stops idle ones; without these their CPU left the count and per-request figures read low).
      const cpu = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      stats.set(Number(entry), { ppid: Number(f[1]), cpu: cpu / 100 });
    } catch {
      /* exited meanwhile */
    }
  }
  const roots = new Set(rootPids);
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 50; p = stats.get(p)?.ppid ?? 0, hops++) if (roots.has(p)) return true;
    return false;
  };
  let total = 0;
  for (const [pid, st] of stats) if (inTree(pid)) total += st.cpu;
  return total;
}

/** A process's parent and start time (to tell it from a later process with the same pid), from /proc. */
function procStat(pid: number | string): { ppid: number; start: string } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), start: f[19] };
  } catch {
    return undefined; // exited meanwhile
  }
}

/** Live descendants of a process with their start times, from /proc. */
function descendants(root: number): Array<{ pid: number; start: string }> {
  const all = new Map<number, { ppid: number; start: string }>();
  for (const entry of fs.readdirSync('/proc')) {
    const st = /^\d+$/.test(entry) ? procStat(entry) : undefined;
    if (st) all.set(Number(entry), st);
  }
  const out: Array<{ pid: number; start: string }> = [];
  for (const [pid, st] of all)
    for (let p = st.ppid, hops = 0; p > 1 && hops < 50; p = all.get(p)?.ppid ?? 0, hops++)
      if (p === root) {
        out.push({ pid, start: st.start });
        break;
      }
  return out;
}

/**
 * Stops a server and then its workers: a php-fpm master that is SIGKILLed after the grace time (seen once on a
 * machine at load 22) leaves its pool's workers running, orphaned, on the next run's core. Only the same processes
 * (pid and start time) are killed, never a later one that got a freed pid.
 */
async function stopTree(child: ChildProcess): Promise<void> {
  const kids = child.pid ? descendants(child.pid) : [];
  await stopProcess(child, 5000);
  for (const k of kids) {
    if (procStat(k.pid)?.start !== k.start) continue;
    try {
      process.kill(k.pid, 'SIGKILL');
    } catch {
      /* gone with its master */
    }
  }
}

/** Busy and total jiffies per cpu (all processes on the machine, not only ours), from /proc/stat. */
function cpuJiffies(): Array<{ busy: number; total: number }> {
  return fs
    .readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .filter((l) => /^cpu\d+ /.test(l))
    .map((l) => {
      const f = l.split(/\s+/).slice(1).map(Number);
      const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
      return { busy: total - f[3] - f[4], total };
    });
}

/** The command line that runs `cmd` on `cpus` (unchanged with --no-pin). */
function onCpus(cpus: string, cmd: string, cmdArgs: string[]): [string, string[]] {
  return PIN ? ['taskset', ['-c', cpus, cmd, ...cmdArgs]] : [cmd, cmdArgs];
}

/** Starts a server process whose output is kept (last 4000 chars) for the error when it does not come up. */
function startServer(name: string, cmd: string, cmdArgs: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string }) {
  const child = spawnOwned(...onCpus(SUT_CPUS, cmd, cmdArgs), { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (b: Buffer) => (log = (log + b.toString()).slice(-4000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('exit', (code, sig) => {
    if (!stopping) console.error(`${name} exited (${code ?? sig}): ${log}`);
  });
  return child;
}
let stopping = false;
let dbCounters: () => Record<string, number> = () => ({});

async function waitHealthy(url: string, what: string, logs: () => string): Promise<void> {
  const deadline = Date.now() + 20000;
  for (;;) {
    const status = await fetch(url, { redirect: 'manual' })
      .then((r) => r.status)
      .catch(() => 0);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`${what} did not answer 200 at ${url} (last ${status}): ${logs()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Copies the example site without its dump and generator (what pull-web would bring), readable by everyone. */
function copySite(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.cpSync(LAMP_DIR, dir, { recursive: true, filter: (src) => !src.endsWith('.sql.gz') && !src.endsWith('.ts') });
  execFileSync('chmod', ['-R', 'a+rX,go-w', dir]);
}

// (a) --------------------------------------------------------------------------------------------------------------

/**
 * rushhour's PHP runtime: renderSite() for a 1-vCPU instance (the one core the stacks get here), written with the
 * boot step's writeRendered(), the database wired by wireDatabase() (its SSM/Secrets Manager edge answered from
 * memory: the values an import would have written), then every rendered unit's ExecStart argv.
 */
async function startRushhour(work: string, db: LocalMariaDb, app: { user: string; password: string }): Promise<Arm> {
  const root = path.join(work, 'a');
  fs.mkdirSync(root, { recursive: true, mode: 0o755 });
  fs.chmodSync(root, 0o755);
  const port = await freePort();
  const layout: SiteLayout = {
    ...debianLayout(root, port, await freePort()),
    // The instance's facts as the boot step reads them, for the one core the stacks run on here.
    vcpus: PIN ? 1 : CORES,
    memoryMiB: Math.floor(os.totalmem() / 1048576),
  };
  copySite(layout.siteDir);
  for (const d of ['etc', 'run', 'var']) fs.mkdirSync(path.join(root, d), { recursive: true, mode: 0o755 });
  const site = {
    runtime: 'php',
    documentRoot: 'public',
    configFiles: [{ path: 'config.php', template: 'deploy/config.php.tmpl' }],
    ...RUSHHOUR_SITE,
  };
  const rendered = renderSite({
    site: parseSite(site),
    ssmPrefix: '/bench/db',
    region: 'us-east-1',
    healthCheckPath: '/healthz',
    layout,
    unitDir: path.join(root, 'etc/systemd/system'),
    // One nginx worker per vCPU, as `auto` gives an instance of this size.
    nginxWorkers: layout.vcpus,
  });
  writeRendered(rendered, layout.siteUser, layout.siteGroup);
  const values: Record<string, string> = {
    host: '127.0.0.1',
    port: String(db.port),
    name: DB_NAME,
    user: app.user,
    'password-secret-arn': 'bench-secret',
  };
  const params = Object.fromEntries(SSM_KEYS.map((k) => [ssmParameterName('/bench/db', k), values[k]]));
  await wireDatabase({
    edge: {
      getParameters: async (names) => Object.fromEntries(names.filter((n) => n in params).map((n) => [n, params[n]])),
      getSecretString: async () => JSON.stringify({ password: app.password }),
    },
    ssmPrefix: '/bench/db',
    site: parseSite(site),
    layout,
    siteGid: Number(execFileSync('getent', ['group', layout.siteGroup], { encoding: 'utf8' }).split(':')[2]),
  });
  const children: ChildProcess[] = [];
  const logs = () => children.map((c) => `pid ${c.pid}`).join(' ') + '\n' + readDir(layout.logDir);
  // php-fpm first, then the front door (the instance's unit order).
  for (const s of [...rendered.services].reverse())
    children.push(
      startServer(s.unit, s.argv[0], s.argv.slice(1), {
        cwd: layout.siteDir,
        env: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', ...s.environment },
      }),
    );
  await waitForPort(port, '127.0.0.1', 20000);
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(`${url}/healthz`, '(a) rushhour', logs);
  const fpmConf = fs.readFileSync(path.join(layout.etcDir, 'php-fpm.conf'), 'utf8');
  const nginxConf = fs.readFileSync(path.join(layout.etcDir, 'nginx.conf'), 'utf8');
  const grab = (text: string, re: RegExp) => re.exec(text)?.[0].trim() ?? '?';
  return {
    key: 'a',
    name: '(a) rushhour: nginx front door + php-fpm',
    url,
    healthPath: '/healthz',
    pids: children.map((c) => c.pid!),
    settings: [
      `php-fpm site pool: ${grab(fpmConf, /pm = static/)}, ${grab(fpmConf, /pm\.max_children = \d+/)} (src/site/sizing.ts for ${layout.vcpus} vCPU), health pool of 1`,
      `front door: ${grab(nginxConf, /worker_processes \d+;/)} ${grab(nginxConf, /server unix:\S+ max_conns=\d+;/).replace(/unix:\S+ /, '')} then 503 + Retry-After, sessions in the database`,
    ],
    async stop() {
      for (const c of children) await stopTree(c);
    },
  };
}

function parseJsonFlag(raw: string | undefined): Record<string, unknown> {
  if (raw === undefined) return {};
  try {
    const v = JSON.parse(raw) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* reported below */
  }
  process.stderr.write(`--rushhour-site must be a JSON object, got ${raw}\n${USAGE}\n`);
  process.exit(2);
}

function readDir(dir: string): string {
  if (!fs.existsSync(dir)) return '';
  return fs
    .readdirSync(dir)
    .map((f) => `== ${f}\n${tail(path.join(dir, f), 1500)}`)
    .join('\n');
}

// (b) and (c) ------------------------------------------------------------------------------------------------------

/** The one docroot (b) and (c) serve, with config.php as the origin had it, and their shared session directory. */
function prepareOriginSite(work: string, db: LocalMariaDb, app: { user: string; password: string }) {
  const siteDir = path.join(work, 'origin-site');
  copySite(siteDir);
  const env = dbEnv({ host: '127.0.0.1', port: db.port, database: DB_NAME, ...app });
  const template = fs.readFileSync(path.join(siteDir, 'deploy/config.php.tmpl'), 'utf8');
  fs.writeFileSync(path.join(siteDir, 'config.php'), renderTemplate(template, env, 'config.php.tmpl'), {
    mode: 0o644,
  });
  // Like Debian's /var/lib/php/sessions (1733 root): workers create files but cannot list them.
  const sessions = path.join(work, 'php-sessions');
  fs.mkdirSync(sessions, { recursive: true });
  fs.chmodSync(sessions, 0o1733);
  return { docroot: path.join(siteDir, 'public'), sessions };
}

/** Replaces a line of a distribution config that must match, so a changed default fails loudly instead of silently. */
function replaceLine(text: string, file: string, re: RegExp, replacement: string): string {
  if (!re.test(text)) throw new Error(`${file}: no line matching ${re}; the bench's edit of Debian's default is stale`);
  return text.replace(re, replacement);
}

/**
 * Debian's Apache as shipped: /etc/apache2/apache2.conf read as it is (its mods-enabled: mpm_prefork with
 * mods-enabled/mpm_prefork.conf, php8.2, dir, mime, deflate, reqtimeout, status ...; its conf-enabled), with the
 * variables /etc/apache2/envvars sets pointed at a temp dir, `Include ports.conf` replaced by a loopback Listen and
 * `sites-enabled/*.conf` by a copy of 000-default.conf whose DocumentRoot is the site (plus the Directory block
 * apache2.conf gives /var/www/, and session.save_path, the one PHP setting changed: a private directory).
 */
async function startApache(work: string, site: { docroot: string; sessions: string }): Promise<Arm> {
  const dir = path.join(work, 'b');
  for (const d of ['run', 'lock', 'log']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const port = await freePort();
  const src = '/etc/apache2/apache2.conf';
  let conf = fs.readFileSync(src, 'utf8');
  conf = replaceLine(conf, src, /^Include ports\.conf$/m, `Listen 127.0.0.1:${port}\nServerName 127.0.0.1`);
  conf = replaceLine(
    conf,
    src,
    /^IncludeOptional sites-enabled\/\*\.conf$/m,
    `<Directory ${site.docroot}>
	Options Indexes FollowSymLinks
	AllowOverride None
	Require all granted
</Directory>
<VirtualHost 127.0.0.1:${port}>
	ServerAdmin webmaster@localhost
	DocumentRoot ${site.docroot}
	ErrorLog \${APACHE_LOG_DIR}/error.log
	CustomLog \${APACHE_LOG_DIR}/access.log combined
	php_admin_value session.save_path ${site.sessions}
</VirtualHost>`,
  );
  const confFile = path.join(dir, 'apache2.conf');
  fs.writeFileSync(confFile, conf);
  // What /etc/apache2/envvars exports, with the paths moved to the temp dir.
  const env = {
    PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
    APACHE_RUN_USER: 'www-data',
    APACHE_RUN_GROUP: 'www-data',
    APACHE_PID_FILE: path.join(dir, 'run/apache2.pid'),
    APACHE_RUN_DIR: path.join(dir, 'run'),
    APACHE_LOCK_DIR: path.join(dir, 'lock'),
    APACHE_LOG_DIR: path.join(dir, 'log'),
    LANG: 'C',
  };
  const child = startServer('apache2', '/usr/sbin/apache2', ['-d', '/etc/apache2', '-f', confFile, '-DFOREGROUND'], {
    env,
  });
  await waitForPort(port, '127.0.0.1', 20000);
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(`${url}/index.php`, '(b) Apache', () => readDir(path.join(dir, 'log')));
  const prefork = fs.readFileSync('/etc/apache2/mods-enabled/mpm_prefork.conf', 'utf8');
  const keep = (re: RegExp) => re.exec(conf)?.[0].replace(/\s+/g, ' ') ?? '?';
  return {
    key: 'b',
    name: "(b) Apache + mod_php, Debian's defaults",
    url,
    healthPath: '/index.php',
    pids: [child.pid!],
    settings: [
      `mpm_prefork: ${[...prefork.matchAll(/^\s*(\w+)\s+(\d+)/gm)].map((m) => `${m[1]} ${m[2]}`).join(', ')}`,
      `${keep(/^Timeout \d+/m)}, ${keep(/^KeepAlive \w+/m)}, ${keep(/^MaxKeepAliveRequests \d+/m)}, ${keep(/^KeepAliveTimeout \d+/m)}; sessions: PHP files handler`,
    ],
    async stop() {
      await stopTree(child);
    },
  };
}

/**
 * Debian's nginx + php-fpm as shipped: /etc/nginx/nginx.conf with its pid, log and sites-enabled lines pointed at a
 * temp dir (temp paths added there too), the default site (sites-available/default) on a loopback port with the
 * site's docroot, `index.php` added and its commented `location ~ \.php$` block switched on; php-fpm with
 * /etc/php/8.2/fpm/pool.d/www.conf as shipped but for its socket path (and the session directory).
 */
async function startDefaultNginx(work: string, site: { docroot: string; sessions: string }): Promise<Arm> {
  const dir = path.join(work, 'c');
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const sock = path.join(dir, 'php8.2-fpm.sock');
  const wwwSrc = '/etc/php/8.2/fpm/pool.d/www.conf';
  let www = fs.readFileSync(wwwSrc, 'utf8');
  www = replaceLine(www, wwwSrc, /^listen = .*$/m, `listen = ${sock}`);
  www += `\nphp_admin_value[session.save_path] = ${site.sessions}\n`;
  fs.writeFileSync(path.join(dir, 'www.conf'), www);
  const fpmConf = path.join(dir, 'php-fpm.conf');
  // /etc/php/8.2/fpm/php-fpm.conf's three lines, with its paths moved (systemd runs it with --nodaemonize).
  fs.writeFileSync(
    fpmConf,
    `[global]\npid = ${dir}/php-fpm.pid\nerror_log = ${dir}/php-fpm.log\ninclude=${dir}/www.conf\n`,
  );
  const port = await freePort();
  const src = '/etc/nginx/nginx.conf';
  let conf = fs.readFileSync(src, 'utf8');
  conf = replaceLine(conf, src, /^pid \/run\/nginx\.pid;$/m, `pid ${dir}/nginx.pid;`);
  conf = replaceLine(conf, src, /^error_log \/var\/log\/nginx\/error\.log;$/m, `error_log ${dir}/error.log;`);
  conf = replaceLine(
    conf,
    src,
    /^(\s*)access_log \/var\/log\/nginx\/access\.log;$/m,
    `$1access_log ${dir}/access.log;\n$1client_body_temp_path ${dir}/tmp/body; fastcgi_temp_path ${dir}/tmp/fastcgi;\n$1proxy_temp_path ${dir}/tmp/proxy; uwsgi_temp_path ${dir}/tmp/uwsgi; scgi_temp_path ${dir}/tmp/scgi;`,
  );
  conf = replaceLine(
    conf,
    src,
    /^(\s*)include \/etc\/nginx\/sites-enabled\/\*;$/m,
    `$1server {
		listen 127.0.0.1:${port} default_server;
		root ${site.docroot};
		index index.php index.html index.htm index.nginx-debian.html;
		server_name _;
		location / {
			try_files $uri $uri/ =404;
		}
		location ~ \\.php$ {
			include snippets/fastcgi-php.conf;
			fastcgi_pass unix:${sock};
		}
	}`,
  );
  const confFile = path.join(dir, 'nginx.conf');
  fs.writeFileSync(confFile, conf);
  // nginx resolves relative includes from the config file's directory: the default site's snippet and the
  // fastcgi.conf it includes come from /etc/nginx as they are.
  for (const f of ['snippets', 'fastcgi.conf']) fs.symlinkSync(path.join('/etc/nginx', f), path.join(dir, f));
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' };
  const fpm = startServer('php-fpm (c)', '/usr/sbin/php-fpm8.2', ['--nodaemonize', '--fpm-config', fpmConf], { env });
  for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
  const nginx = startServer('nginx (c)', '/usr/sbin/nginx', ['-p', dir, '-c', confFile, '-g', 'daemon off;'], { env });
  await waitForPort(port, '127.0.0.1', 20000);
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(`${url}/index.php`, '(c) default nginx + php-fpm', () =>
    [tail(path.join(dir, 'error.log')), tail(path.join(dir, 'php-fpm.log'))].join('\n'),
  );
  const pm = [...www.matchAll(/^(pm(?:\.\w+)?) = (\S+)$/gm)].map((m) => `${m[1]} = ${m[2]}`).join(', ');
  return {
    key: 'c',
    name: "(c) nginx + php-fpm, Debian's defaults",
    url,
    healthPath: '/index.php',
    pids: [fpm.pid!, nginx.pid!],
    settings: [
      `www pool: ${pm}`,
      `nginx: ${/^worker_processes \S+;/m.exec(conf)?.[0]} ${/worker_connections \d+;/.exec(conf)?.[0]}, no upstream limit; sessions: PHP files handler`,
    ],
    async stop() {
      await stopTree(nginx);
      await stopTree(fpm);
    },
  };
}

// The measurement ---------------------------------------------------------------------------------------------------

/** Logs students in through the site's own login form; their cookie and CSRF token, as a JSON file for k6. */
async function logIn(base: string, students: number, file: string): Promise<void> {
  const one = async (n: number) => {
    const studentNo = `S${String(n).padStart(7, '0')}`;
    let cookie = '';
    const keep = (res: Response) => {
      for (const c of res.headers.getSetCookie()) cookie = c.split(';')[0];
    };
    const first = await fetch(`${base}/index.php`, { redirect: 'manual' });
    keep(first);
    const csrf1 = /name="csrf" value="([0-9a-f]+)"/.exec(await first.text())?.[1];
    const login = await fetch(`${base}/index.php`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: csrf1 ?? '', student_no: studentNo, password: `pw-${studentNo}` }),
    });
    keep(login);
    await login.text();
    const list = await fetch(`${base}/courses.php`, { redirect: 'manual', headers: { cookie } });
    const html = await list.text();
    const csrf = /name="csrf" value="([0-9a-f]+)"/.exec(html)?.[1];
    if (list.status !== 200 || !csrf || !html.includes('Courses for'))
      throw new Error(
        `login of ${studentNo} at ${base} failed: ${login.status}, then ${list.status} ${html.slice(0, 200)}`,
      );
    return { cookie, csrf };
  };
  const out: Array<{ cookie: string; csrf: string }> = [];
  for (let n = 1; n <= students; n += 2)
    out.push(...(await Promise.all([n, n + 1].filter((i) => i <= students).map(one))));
  fs.writeFileSync(file, JSON.stringify(out));
}

async function main(): Promise<void> {
  const k6 = findK6();
  for (const [tool, hint] of [
    ['nginx', 'apt-get install -y nginx'],
    ['php-fpm8.2', 'apt-get install -y php-fpm php-mysql'],
    ['apache2', 'apt-get install -y apache2 libapache2-mod-php'],
    ['taskset', 'apt-get install -y util-linux'],
  ])
    requireTool(tool, hint);
  if (!fs.existsSync('/usr/lib/apache2/modules/libphp8.2.so'))
    throw new Error('mod_php is missing: apt-get install -y libapache2-mod-php');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-bench-site-'));
  fs.chmodSync(work, 0o755);
  const scriptPath = path.join(work, 'site.js');
  fs.writeFileSync(scriptPath, K6_SCRIPT);
  const started: Array<() => Promise<void>> = [];
  const t0 = Date.now();
  const loadAtStart = os.loadavg();
  try {
    if (PIN) execFileSync('taskset', ['-a', '-p', '-c', DRIVER_CPUS, String(process.pid)], { stdio: 'ignore' });
    const db = await startMariaDb();
    started.push(() => db.stop());
    if (PIN) execFileSync('taskset', ['-a', '-p', '-c', SUT_CPUS, String(db.pid)], { stdio: 'ignore' });
    db.sql(`CREATE DATABASE ${DB_NAME} CHARACTER SET utf8mb4`);
    execFileSync('mariadb', [...db.clientArgs, DB_NAME], { input: zlib.gunzipSync(fs.readFileSync(LAMP_DUMP)) });
    db.sql(SESSIONS_TABLE_SQL, DB_NAME);
    // Seats nobody can fill: the registrations measure the write path, not "course full".
    db.sql('UPDATE courses SET seats = 1000000', DB_NAME);
    const app = { user: 'lamp_app', password: `B${Math.random().toString(36).slice(2)}${Date.now().toString(36)}` };
    db.createUser(app.user, app.password, `${APP_PRIVILEGES.join(', ')} ON ${DB_NAME}.*`);
    // Counters of what the stacks ask MariaDB (Com_admin_commands counts COM_PING: PDO pings a persistent
    // connection each time a request takes it up).
    const DB_COUNTERS = {
      Com_select: 'sel',
      Com_insert: 'ins',
      Com_update: 'upd',
      Com_delete: 'del',
      Com_commit: 'commit',
      Connections: 'conn',
      Com_admin_commands: 'ping',
    } as const;
    dbCounters = () => {
      const out: Record<string, number> = {};
      for (const row of db
        .sql(
          `SHOW GLOBAL STATUS WHERE Variable_name IN (${Object.keys(DB_COUNTERS)
            .map((k) => `'${k}'`)
            .join(',')})`,
        )
        .trim()
        .split('\n')) {
        const [k, v] = row.split('\t');
        if (k in DB_COUNTERS) out[DB_COUNTERS[k as keyof typeof DB_COUNTERS]] = Number(v);
      }
      return out;
    };
    const reset = () => db.sql('DELETE FROM registrations; UPDATE courses SET taken = 0;', DB_NAME);

    const arms: Arm[] = [];
    const origin = prepareOriginSite(work, db, app);
    if (ONLY.includes('a')) arms.push(await startRushhour(work, db, app));
    if (ONLY.includes('b')) arms.push(await startApache(work, origin));
    if (ONLY.includes('c')) arms.push(await startDefaultNginx(work, origin));
    for (const a of arms) started.push(() => a.stop());
    started.push(async () => {
      stopping = true;
    });
    const tLogin = Date.now();
    // (b) and (c) share the session files: one login serves both.
    let originSessions: string | undefined;
    for (const a of arms) {
      if (a.key !== 'a' && originSessions) {
        a.sessions = originSessions;
        continue;
      }
      a.sessions = path.join(work, `sessions-${a.key}.json`);
      await logIn(a.url, STUDENTS, a.sessions);
      if (a.key !== 'a') originSessions = a.sessions;
    }
    console.log(
      `MariaDB 10.11 and the stacks on cpu ${PIN ? SUT_CPUS : 'any'}, k6 on cpus ${PIN ? DRIVER_CPUS : 'any'} of ${CORES}; ` +
        `stages of ${STAGE_S} s, 2x for ${OVERLOAD_S} s; ${STUDENTS} logged-in students (${((Date.now() - tLogin) / 1000).toFixed(0)} s of logins); ` +
        `load average at start ${loadAtStart.map((l) => l.toFixed(1)).join(' ')} (the machine is shared with other sessions)`,
    );
    for (const a of arms) console.log(`  ${a.name}\n${a.settings.map((s) => `      ${s}`).join('\n')}`);

    let runNo = 0;
    const k6run = async (
      arm: Pick<Arm, 'url' | 'pids' | 'healthPath' | 'sessions'>,
      rate: number,
      seconds: number,
      probe: boolean,
      again = true,
    ): Promise<Stage> => {
      reset();
      const summary = path.join(work, `summary-${++runNo}.json`);
      const maxVUs = probe ? Math.min(6000, Math.ceil(rate * 11)) : Math.min(3000, Math.max(100, rate * 2));
      const cpuBefore = treeCpuSeconds(arm.pids);
      const dbCpuBefore = treeCpuSeconds([db.pid]);
      const jiffiesBefore = cpuJiffies();
      const dbBefore = dbCounters();
      const env = {
        URL: arm.url,
        RATE: String(rate),
        DURATION: `${seconds}s`,
        MAX_VUS: String(maxVUs),
        PRE_VUS: String(probe ? Math.min(maxVUs, rate * 2) : Math.max(20, Math.ceil(rate / 4))),
        SESSIONS: arm.sessions!,
        SUMMARY: summary,
        ...(probe ? { PROBE_PATH: arm.healthPath, PROBE_RATE: String(PROBE_RATE) } : {}),
      };
      const [cmd, cmdArgs] = onCpus(DRIVER_CPUS, k6, [
        'run',
        '--quiet',
        '--no-usage-report',
        ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
        scriptPath,
      ]);
      const log = path.join(work, `k6-${runNo}.log`);
      const code = await runK6(cmd, cmdArgs, log, (seconds + 90) * 1000, false);
      if (!fs.existsSync(summary)) throw new Error(`k6 exited ${code} without a summary: ${tail(log)}`);
      const cpu = treeCpuSeconds(arm.pids) - cpuBefore;
      const dbCpu = treeCpuSeconds([db.pid]) - dbCpuBefore;
      const dbAfter = dbCounters();
      const cpuBusy = cpuJiffies().map(
        (j, i) => (100 * (j.busy - jiffiesBefore[i].busy)) / Math.max(1, j.total - jiffiesBefore[i].total),
      );
      const m = JSON.parse(fs.readFileSync(summary, 'utf8')) as Record<string, { values: Record<string, number> }>;
      const count = (name: string) => m[name]?.values.count ?? 0;
      const answers = Object.fromEntries(
        ['ok', 'shed', 'server_error', 'no_answer', 'other'].map((k) => [k, count(`answer_${k}`)]),
      );
      const requests = Object.values(answers).reduce((s, n) => s + n, 0);
      const errorRate = requests ? 1 - answers.ok / requests : 1;
      const p95 = m['http_req_duration{scenario:load}']?.values['p(95)'] ?? Infinity;
      const notLoggedIn = count('not_logged_in');
      const probeTotal = count('probe_ok') + count('probe_failed');
      const dropped = count('dropped_iterations{scenario:load}');
      // A stage where k6 neither sent nor dropped most arrivals did not run as asked (seen once on this loaded
      // machine: one request in a 3 s stage): run it again rather than read it.
      if (requests + dropped < 0.5 * rate * seconds) {
        console.log(
          `  k6 ran ${requests} + ${dropped} dropped of ${rate * seconds} arrivals; again. k6: ${tail(log, 600)}`,
        );
        if (again) return k6run(arm, rate, seconds, probe, false);
      }
      return {
        rate,
        served: answers.ok / seconds,
        requests,
        p95,
        errorRate,
        dropped,
        ok: requests > 0 && p95 < P95_LIMIT_MS && errorRate < 0.01 && notLoggedIn === 0,
        cpuPerReqUs: (cpu * 1e6) / Math.max(1, requests),
        dbCpuPerReqUs: (dbCpu * 1e6) / Math.max(1, requests),
        failedP95: m.failed_duration?.values['p(95)'] ?? 0,
        answers,
        notLoggedIn,
        cpuBusy,
        dbPerReq: Object.fromEntries(
          Object.entries(dbAfter).map(([k, v]) => [k, (v - (dbBefore[k] ?? 0)) / Math.max(1, requests)]),
        ),
        probe: probe
          ? {
              ok: count('probe_ok'),
              total: probeTotal,
              p95: m.probe_duration?.values['p(95)'] ?? 0,
              max: m.probe_duration?.values.max ?? 0,
            }
          : undefined,
      };
    };
    const line = (name: string, r: Stage, label = '') =>
      console.log(
        `  ${(name + label).padEnd(14)} ${String(r.rate).padStart(5)}/s -> ${r.served.toFixed(0).padStart(5)}/s ok  p95 ${r.p95.toFixed(1).padStart(7)} ms  ` +
          `errors ${(r.errorRate * 100).toFixed(2).padStart(6)}%  dropped ${String(r.dropped).padStart(5)}  ${r.ok ? 'ok  ' : 'FAIL'}  ` +
          `cpu/req ${r.cpuPerReqUs.toFixed(0)} us + MariaDB ${r.dbCpuPerReqUs.toFixed(0)} us  cpus busy ${r.cpuBusy.map((b) => b.toFixed(0)).join('/')}%  db/req ${Object.entries(
            r.dbPerReq,
          )
            .map(([k, v]) => `${v.toFixed(2)} ${k}`)
            .join(' ')}${r.notLoggedIn ? `  NOT LOGGED IN ${r.notLoggedIn}` : ''}`,
      );

    for (const a of arms) await k6run(a, 20, 2, false); // warm-up: opcache, connections, workers

    // The rate search, interleaved: each round runs one stage per arm still searching.
    const state = arms.map((a) => ({
      arm: a,
      best: undefined as Stage | undefined,
      failed: undefined as Stage | undefined,
      next: START_RATE as number | undefined,
      bisections: 0,
    }));
    if (FIXED_RATES) {
      console.log(`\nfixed stages ${FIXED_RATES.join(', ')}/s (p95 < 200 ms, < 1% errors), instead of the search:`);
      for (const rate of FIXED_RATES)
        for (const s of state) {
          let r = await k6run(s.arm, rate, STAGE_S, false);
          line(`(${s.arm.key})`, r);
          if (!r.ok) {
            r = await k6run(s.arm, rate, STAGE_S, false);
            line(`(${s.arm.key})`, r, ' retry');
          }
          if (r.ok && r.rate >= (s.best?.rate ?? 0)) s.best = r;
          if (!r.ok && r.rate < (s.failed?.rate ?? Infinity)) s.failed = r;
        }
      for (const s of state) s.next = undefined;
    } else console.log('\nrate search (p95 < 200 ms, < 1% errors):');
    while (state.some((s) => s.next !== undefined)) {
      for (const s of state) {
        if (s.next === undefined) continue;
        const rate = s.next;
        let r = await k6run(s.arm, rate, STAGE_S, false);
        line(`(${s.arm.key})`, r);
        if (!r.ok) {
          r = await k6run(s.arm, rate, STAGE_S, false);
          line(`(${s.arm.key})`, r, ' retry');
        }
        if (r.ok) s.best = r;
        else s.failed = r;
        if (s.failed === undefined) s.next = rate * 2;
        else {
          const lo = s.best?.rate ?? 0;
          const step = s.failed.rate - lo > 200 ? 50 : 10;
          const mid = Math.round((lo + s.failed.rate) / 2 / step) * step;
          s.next = s.bisections < 2 && mid > lo && mid < s.failed.rate ? mid : undefined;
          s.bisections++;
        }
      }
    }

    if (OVERLOAD_S === 0) return;
    // The floor: can k6 drive the highest rate this bench asks for, with the answers checked the same way?
    const maxRate = Math.max(...state.map((s) => 2 * (s.best?.rate ?? 0)), START_RATE);
    const page = path.join(work, 'page.html');
    const sample = JSON.parse(fs.readFileSync(arms[0].sessions!, 'utf8'))[0] as { cookie: string };
    fs.writeFileSync(
      page,
      await (await fetch(`${arms[0].url}/courses.php`, { headers: { cookie: sample.cookie } })).text(),
    );
    const floorPort = await freePort();
    const floorProc = spawnOwned(...onCpus(SUT_CPUS, process.execPath, ['-e', FLOOR_SERVER, page, String(floorPort)]), {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    started.push(() => stopProcess(floorProc));
    await waitForPort(floorPort);
    const floorArm = {
      url: `http://127.0.0.1:${floorPort}`,
      pids: [floorProc.pid!],
      healthPath: '/',
      sessions: arms[0].sessions,
    };
    console.log("\nfloor (bare node:http, the same page from memory, on the stacks' core):");
    const floor = await k6run(floorArm, maxRate, STAGE_S, false);
    line('floor', floor);
    // Short at the top rate: find k6's own limit here (bench/app.ts's method: the floor's own passing rate, two
    // bisections), so a stack's figure at or above it is read as k6's as much as the stack's.
    // The floor passes when it meets the stage rule and k6 sent (nearly) every arrival: dropped iterations are k6's.
    const floorOk = (r: Stage) => r.ok && r.dropped <= 0.01 * r.rate * STAGE_S;
    let floorLimit: Stage | undefined = floorOk(floor) ? floor : undefined;
    let floorShort = maxRate;
    if (!floorLimit) {
      let lo = 0;
      for (let i = 0; i < 2; i++) {
        const mid = Math.round((lo + floorShort) / 2 / 50) * 50;
        if (mid <= lo || mid >= floorShort) break;
        const r = await k6run(floorArm, mid, STAGE_S, false);
        line('floor', r);
        if (floorOk(r)) [lo, floorLimit] = [mid, r];
        else floorShort = mid;
      }
    }
    await stopProcess(floorProc);

    console.log(`\n2x the capacity for ${OVERLOAD_S} s, health path probed at ${PROBE_RATE}/s:`);
    const overload = new Map<string, Stage>();
    for (const s of state) {
      if (!s.best) continue;
      const r = await k6run(s.arm, 2 * s.best.rate, OVERLOAD_S, true);
      overload.set(s.arm.key, r);
      line(`(${s.arm.key}) 2x`, r);
      console.log(
        `      answers ${JSON.stringify(r.answers)}; p95 of the non-successes ${r.failedP95.toFixed(0)} ms; ` +
          `health ${s.arm.healthPath}: ${r.probe!.ok}/${r.probe!.total} answered 200 (p95 ${r.probe!.p95.toFixed(0)} ms, max ${r.probe!.max.toFixed(0)} ms)`,
      );
      // Let a stack that queued work drain before the next one is measured.
      await new Promise((res) => setTimeout(res, 3000));
    }

    const capacity = (k: string) => state.find((s) => s.arm.key === k)?.best?.served;
    console.log(
      '\n| stack | capacity: served at p95 < 200 ms, < 1% errors (ok/s) | first failing stage | at 2x: goodput (ok/s) | goodput / capacity | p95 of non-successes | health path 200 |\n|---|---:|---|---:|---:|---:|---|',
    );
    for (const s of state) {
      const o = overload.get(s.arm.key);
      const f = s.failed;
      console.log(
        `| ${s.arm.name} | ${s.best ? `${s.best.served.toFixed(0)} (${s.best.rate}/s offered, p95 ${s.best.p95.toFixed(0)} ms)` : '-'} | ` +
          `${f ? `${f.rate}/s: p95 ${f.p95.toFixed(0)} ms, errors ${(f.errorRate * 100).toFixed(1)}%` : '-'} | ` +
          `${o ? `${o.served.toFixed(0)} of ${o.rate}/s offered` : '-'} | ${o && s.best ? `${((100 * o.served) / s.best.served).toFixed(0)}%` : '-'} | ` +
          `${
            o
              ? `${o.failedP95.toFixed(0)} ms (${o.requests - o.answers.ok} answers: ${Object.entries(o.answers)
                  .filter(([k, n]) => k !== 'ok' && n > 0)
                  .map(([k, n]) => `${n} ${k}`)
                  .join(', ')})`
              : '-'
          } | ` +
          `${o?.probe ? `${o.probe.ok}/${o.probe.total} (max ${o.probe.max.toFixed(0)} ms)` : '-'} |`,
      );
    }
    const ratio = (x?: number, y?: number) => (x && y ? x / y : undefined);
    const fmt = (r?: number) => (r === undefined ? 'n/a' : `${r.toFixed(2)}x`);
    const ab = ratio(capacity('a'), capacity('b'));
    const ac = ratio(capacity('a'), capacity('c'));
    const oa = overload.get('a');
    const hold = oa && capacity('a') ? oa.served / capacity('a')! : undefined;
    console.log(
      `\nfloor: ${floor.served.toFixed(0)} ok/s of ${floor.rate}/s offered, p95 ${floor.p95.toFixed(1)} ms, dropped ${floor.dropped}` +
        (floorLimit === floor
          ? ' -> k6 drives every rate used here'
          : ` -> k6 itself is short at the top rate (its limit here: ${floorLimit ? `${floorLimit.rate}/s passed` : `below ${floorShort}/s`}, ` +
            `k6's core ${floor.cpuBusy
              .slice(1)
              .map((b) => b.toFixed(0))
              .join('/')}% busy): read figures at or above it as a lower bound`),
    );
    console.log(`(a)/(b) capacity: ${fmt(ab)} (target >= 1.5x) ${ab !== undefined && ab >= 1.5 ? 'met' : 'MISSED'}`);
    console.log(`(a)/(c) capacity: ${fmt(ac)} (target >= 1.0x) ${ac !== undefined && ac >= 1.0 ? 'met' : 'MISSED'}`);
    console.log(
      `(a) at 2x: goodput ${hold === undefined ? 'n/a' : `${(hold * 100).toFixed(0)}%`} of capacity (target >= 90%), health ${oa?.probe ? `${oa.probe.ok}/${oa.probe.total}` : 'n/a'} (target: all 200) ` +
        (hold !== undefined && hold >= 0.9 && oa?.probe && oa.probe.ok === oa.probe.total ? 'met' : 'MISSED'),
    );
    console.log(
      `\nload average at end ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}; wall time ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    );
  } finally {
    stopping = true;
    for (const stop of started.reverse()) await stop().catch(() => undefined);
    if (args.keep) console.log(`kept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench/site: ${err.stack ?? err}`);
  process.exit(1);
});
