/**
 * bench/app: the reference app under k6 on loopback, next to the original study's stack (the same
 * page in PHP on nginx + php-fpm) and the database driven directly with the same statements.
 *
 *   npx tsx bench/app.ts [--quick] [--workers N|auto] [--only list,php,plain,floor,register] [--pin]
 *
 * For each target it steps up the arrival rate (doubling, then bisecting) and reports the highest
 * rate served with p95 < 200 ms and < 1% errors (requests k6 completed per second at the highest
 * arrival rate that passed), and the CPU the server and MariaDB spent per request. Iterations k6
 * could not start in time are printed but do not fail a stage: with p95 under 200 ms they mean k6
 * itself was short of CPU, and the served rate already leaves them out.
 *
 * A measurement is only as good as its load generator: the "floor" arm (bare node:http serving the
 * same page from memory) shows the highest rate k6 can drive and check here; a server measured near
 * the floor is limited by k6, not by itself, and the bench says so. By default every process shares
 * all cores, as on the machine's own workload. `--pin` puts the systems under test (MariaDB, app,
 * nginx + php-fpm) on the first half of the cores and the drivers (k6, the direct-DB loop) on the
 * rest; on 2 cores that leaves k6 one core, and the floor shows what that costs.
 */
import { ChildProcess, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import { authPlugin, sessionCookieValue } from '../app/auth';
import { bundleReferenceApp } from '../app/bundle';
import { DbConfig } from '../app/config';
import { CourseStore, createPool } from '../app/db';
import { hashPassword, SCRYPT_COST } from '../app/password';
import { seedPassword } from '../app/seed-password';
import { benchArgs } from './args';
import { seedCourseDatabase } from '../src/local/course-db';
import { LocalMariaDb, startMariaDb } from '../src/local/mariadb';
import { freePort, waitForPort } from '../src/local/ports';
import { requireTool, spawnOwned, stopProcess } from '../src/local/process';

const USAGE = 'usage: npx tsx bench/app.ts [--quick] [--workers N|auto] [--only list,php,plain,floor,register] [--pin]';
const args = benchArgs(USAGE, {
  quick: { type: 'boolean' },
  only: { type: 'string' },
  workers: { type: 'string' },
  pin: { type: 'boolean' },
});
const QUICK = args.quick ?? false;
const ONLY = args.only?.split(',') ?? ['list', 'php', 'plain', 'floor', 'register'];
// Same as the instance's unit (RUSHHOUR_WORKERS=auto): one app process per core.
const WORKERS = args.workers ?? 'auto';
const STAGE_S = QUICK ? 4 : 8;
const CORES = os.availableParallelism();
const PIN = (args.pin ?? false) && CORES >= 2;
/** cpu lists for taskset: systems under test on the first half, drivers on the rest. */
const SUT_CPUS = `0-${Math.floor(CORES / 2) - 1}`;
const DRIVER_CPUS = `${Math.floor(CORES / 2)}-${CORES - 1}`;
/**
 * Seeded students. Every one logs in once (POST /api/login, through the app, before the registration arm: that is
 * the login measurement) and the registration arm sends their cookies; 43 courses each gives 64,500 distinct
 * registrations, more than a stage sends at the rates this machine passes.
 */
const STUDENTS = 1500;
const P95_LIMIT_MS = 200;
const POOL = 16;
let DB_PID = 0;

interface Target {
  name: string;
  url: string;
  mode: 'list' | 'register';
  pids: number[];
}
interface StageResult {
  rate: number;
  achieved: number;
  p95: number;
  errorRate: number;
  dropped: number;
  ok: boolean;
  cpu: string;
}

/** CPU seconds (user + system) used so far by a process and its live descendants, from /proc. */
function treeCpuSeconds(rootPid: number): number {
  const tick = 100; // USER_HZ on Linux
  const stats = new Map<number, { ppid: number; cpu: number }>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(entry), { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / tick });
    } catch {
      /* exited meanwhile */
    }
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 50; p = stats.get(p)?.ppid ?? 0, hops++) if (p === rootPid) return true;
    return false;
  };
  let total = 0;
  for (const [pid, st] of stats) if (inTree(pid)) total += st.cpu;
  return total;
}

const FLOOR_SERVER = `
const fs = require('node:fs');
const page = fs.readFileSync(process.argv[1]);
require('node:http').createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': page.length });
  res.end(page);
}).listen(Number(process.argv[2]), '127.0.0.1');
`;

const K6_SCRIPT = `
import http from 'k6/http';
import exec from 'k6/execution';
const rate = Number(__ENV.RATE);
export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'p(95)', 'p(99)', 'max'],
  scenarios: { s: { executor: 'constant-arrival-rate', rate, timeUnit: '1s', duration: __ENV.DURATION,
    preAllocatedVUs: Math.min(1000, Math.max(50, Math.ceil(rate / 4))), maxVUs: 2000 } },
};
http.setResponseCallback(http.expectedStatuses(200, 201));
const students = Number(__ENV.STUDENTS);
// Session cookies of students 1..STUDENTS, logged in by the bench before the run (one login per student).
const cookies = __ENV.MODE === 'register' ? JSON.parse(open(__ENV.COOKIES)) : [];
export default function () {
  if (__ENV.MODE === 'register') {
    const i = exec.scenario.iterationInTest;
    const s = Math.floor(i / 43) % students;
    const body = JSON.stringify({ studentId: 1 + s, courseId: 1 + (i % 43) });
    http.post(__ENV.URL, body, { headers: { 'content-type': 'application/json', cookie: cookies[s] } });
  } else {
    http.get(__ENV.URL, { headers: { accept: 'text/html' } });
  }
}
export function handleSummary(data) { return { [__ENV.SUMMARY]: JSON.stringify(data.metrics) }; }
`;

async function main(): Promise<void> {
  const k6 = requireTool('k6', 'bash scripts/setup.sh (go install go.k6.io/k6@v1.4.2)');
  const nginx = requireTool('nginx', 'apt-get install -y nginx');
  const fpm = requireTool('php-fpm8.2', 'apt-get install -y php-fpm php-mysql');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-bench-app-'));
  const scriptPath = path.join(work, 'bench.js');
  fs.writeFileSync(scriptPath, K6_SCRIPT);
  const started: Array<() => Promise<void>> = [];
  const loadAtStart = os.loadavg()[0];
  try {
    const auth = await authOverhead();
    const db = await startMariaDb();
    started.push(() => db.stop());
    DB_PID = db.pid;
    if (PIN) {
      // -a: every thread, and the threads MariaDB starts later inherit it.
      execFileSync('taskset', ['-a', '-p', '-c', SUT_CPUS, String(db.pid)], { stdio: 'ignore' });
      execFileSync('taskset', ['-a', '-p', '-c', DRIVER_CPUS, String(process.pid)], { stdio: 'ignore' });
    }
    const config = await prepareDb(db);
    console.log(
      PIN
        ? `MariaDB on ${db.port}; app workers: ${WORKERS}; systems under test (MariaDB, app, nginx + php-fpm) on cpus ${SUT_CPUS}, drivers (k6, the direct-DB loop) on cpus ${DRIVER_CPUS}; stages of ${STAGE_S} s`
        : `MariaDB on ${db.port}; app workers: ${WORKERS}; ${CORES} cores shared by k6, app, MariaDB, nginx and php-fpm (--pin splits them); stages of ${STAGE_S} s`,
    );

    const bundle = path.join(work, 'app.js');
    bundleReferenceApp(bundle);
    /** One reference app process on the systems-under-test cpus, on `config`'s database; `extraEnv` on top. */
    const startApp = async (extraEnv: Record<string, string> = {}): Promise<{ port: number; child: ChildProcess }> => {
      const port = await freePort();
      const child = spawnOwned(...onCpus(SUT_CPUS, process.execPath, [bundle]), {
        env: {
          PATH: process.env.PATH,
          PORT: String(port),
          DB_HOST: config.host,
          DB_PORT: String(config.port),
          DB_USER: config.user,
          DB_PASSWORD: config.password,
          DB_NAME: config.database,
          RUSHHOUR_WORKERS: WORKERS,
          RUSHHOUR_DB_POOL: String(POOL),
          ...extraEnv,
        },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      started.push(() => stopProcess(child));
      await waitForPort(port);
      return { port, child };
    };
    const { port: appPort, child: app } = await startApp();
    // The same app with coalescing off: per view the same statements as PHP and the direct loop.
    const { port: plainPort, child: plain } = await startApp({ RUSHHOUR_COALESCE: 'false' });
    const php = await startPhp(nginx, fpm, work, config);
    started.push(php.stop);
    // The floor: bare node:http answering the app's own course-list page from memory, no database,
    // no framework. No Node app on this core can beat it; its CPU per request is Node's HTTP cost.
    fs.writeFileSync(path.join(work, 'page.html'), await (await fetch(`http://127.0.0.1:${appPort}/courses`)).text());
    const floorPort = await freePort();
    const floor = spawnOwned(
      ...onCpus(SUT_CPUS, process.execPath, ['-e', FLOOR_SERVER, path.join(work, 'page.html'), String(floorPort)]),
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    started.push(() => stopProcess(floor));
    await waitForPort(floorPort);

    /** Runs one k6 stage; `pids` are the server's processes, whose CPU per request is reported beside MariaDB's. */
    const k6run = (url: string, mode: string, rate: number, pids: number[], duration = `${STAGE_S}s`): StageResult => {
      const cpu = () => [pids.reduce((sum, pid) => sum + treeCpuSeconds(pid), 0), treeCpuSeconds(db.pid)];
      const cpuBefore = cpu();
      const summary = path.join(work, `summary-${mode}-${rate}.json`);
      execFileSync(...onCpus(DRIVER_CPUS, k6, ['run', '--quiet', '--no-usage-report', scriptPath]), {
        env: {
          ...process.env,
          URL: url,
          MODE: mode,
          RATE: String(rate),
          DURATION: duration,
          SUMMARY: summary,
          STUDENTS: String(STUDENTS),
          COOKIES: cookiesPath,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 120000,
      });
      const cpuAfter = cpu();
      const m = JSON.parse(fs.readFileSync(summary, 'utf8'));
      const requests = m.http_reqs?.values.count ?? 0;
      const dropped = m.dropped_iterations?.values.count ?? 0;
      const p95 = m.http_req_duration?.values['p(95)'] ?? Infinity;
      const errorRate = m.http_req_failed?.values.rate ?? 1;
      const ok = requests > 0 && p95 < P95_LIMIT_MS && errorRate < 0.01;
      const perReq = (i: number) => (((cpuAfter[i] - cpuBefore[i]) * 1e6) / Math.max(1, requests)).toFixed(0);
      return {
        rate,
        achieved: requests / parseFloat(duration),
        p95,
        errorRate,
        dropped,
        ok,
        cpu: `cpu/req: server ${perReq(0)} us, MariaDB ${perReq(1)} us`,
      };
    };
    // The login measurement: every student logs in once through the app (scrypt per login); the registration arm
    // then sends these cookies, so what it measures is a logged-in student's registration (cookie check included).
    const cookiesPath = path.join(work, 'cookies.json');
    const logins = ONLY.includes('register') ? await loginAll(`http://127.0.0.1:${appPort}`, [app.pid!]) : undefined;
    fs.writeFileSync(cookiesPath, JSON.stringify(logins?.cookies ?? []));
    const resetRegistrations = () =>
      db.sql('DELETE FROM registrations; UPDATE courses SET taken = 0;', config.database);

    /**
     * Rate search for several targets at once, interleaved step by step, so a noisy moment on this
     * shared machine hits the app and the PHP page alike. Doubling from 200/s until a stage fails
     * (a failed stage is retried once: a single noise spike does not end the search), then three
     * bisection steps between the last passing and the first failing rate.
     */
    const findMaxInterleaved = (targets: Target[]): Array<StageResult | undefined> => {
      const state = targets.map((t) => ({
        ...t,
        best: undefined as StageResult | undefined,
        failed: undefined as number | undefined,
        next: 200 as number | undefined,
        bisections: 0,
      }));
      for (const t of targets) {
        if (t.mode === 'register') resetRegistrations();
        k6run(t.url, t.mode, 50, t.pids, '2s');
      } // warm-up
      while (state.some((t) => t.next !== undefined)) {
        for (const t of state) {
          if (t.next === undefined) continue;
          const rate = t.next;
          let r = step(t, rate);
          if (!r.ok) r = step(t, rate, ' (retry)');
          if (r.ok) t.best = r;
          else t.failed = rate;
          if (t.failed === undefined) t.next = rate * 2 <= 25600 ? rate * 2 : undefined;
          else {
            const lo = t.best?.rate ?? 0;
            const mid = Math.round((lo + t.failed) / 2 / 50) * 50;
            t.next = t.bisections < 3 && mid > lo && mid < t.failed ? mid : undefined;
            t.bisections++;
          }
        }
      }
      return state.map((t) => t.best);
    };
    const step = (t: Target, rate: number, label = '') => {
      if (t.mode === 'register') resetRegistrations();
      const r = k6run(t.url, t.mode, rate, t.pids);
      console.log(
        `  ${(t.name + label).padEnd(30)} ${String(rate).padStart(6)}/s -> ${r.achieved.toFixed(0).padStart(6)}/s  p95 ${r.p95.toFixed(1).padStart(7)} ms  errors ${(r.errorRate * 100).toFixed(2)}%  dropped ${r.dropped}  ${r.ok ? 'ok  ' : 'FAIL'}  ${r.cpu}`,
      );
      return r;
    };

    // The direct DB limit is measured before and after the HTTP runs and the higher value is kept:
    // other work on this shared machine only lowers a measurement, so the max is the fairer baseline.
    resetRegistrations();
    const dbBefore = {
      list: await directLoop(config, 'list'),
      reg: (resetRegistrations(), await directLoop(config, 'register')),
    };
    const allListTargets: Array<Target & { key: string }> = [
      {
        key: 'list',
        name: 'app course list',
        url: `http://127.0.0.1:${appPort}/courses`,
        mode: 'list',
        pids: [app.pid!],
      },
      {
        key: 'php',
        name: 'php course list',
        url: `http://127.0.0.1:${php.port}/courses.php`,
        mode: 'list',
        pids: php.pids,
      },
      {
        key: 'plain',
        name: 'app list, no coalescing',
        url: `http://127.0.0.1:${plainPort}/courses`,
        mode: 'list',
        pids: [plain.pid!],
      },
      {
        key: 'floor',
        name: 'node:http static page',
        url: `http://127.0.0.1:${floorPort}/courses`,
        mode: 'list',
        pids: [floor.pid!],
      },
    ];
    const listTargets = allListTargets.filter((t) => ONLY.includes(t.key));
    const listResults = findMaxInterleaved(listTargets);
    const pick = (name: string) => listResults[listTargets.findIndex((t) => t.name === name)];
    const appList = pick('app course list');
    const phpList = pick('php course list');
    const plainList = pick('app list, no coalescing');
    const floorList = pick('node:http static page');
    const appReg = ONLY.includes('register')
      ? findMaxInterleaved([
          {
            name: 'app registration',
            url: `http://127.0.0.1:${appPort}/api/registrations`,
            mode: 'register',
            pids: [app.pid!],
          },
        ])[0]
      : undefined;
    type Health = {
      shed: number;
      dbUnavailable: number;
      registrations: string;
      registrationBatches: number;
      registrationsBatched: number;
    };
    const health = await getJson<Health>(`http://127.0.0.1:${appPort}/healthz`);
    if (typeof health === 'string') console.log(`  app counters: /healthz did not answer (${health})`);
    else {
      console.log(
        `  app counters: shed ${health.shed} (in-flight limit), dbUnavailable ${health.dbUnavailable}, registrations ${health.registrations}: ` +
          `${health.registrationsBatched} in ${health.registrationBatches} batches (${(health.registrationsBatched / Math.max(1, health.registrationBatches)).toFixed(1)} per round trip)`,
      );
    }
    await stopProcess(app); // the direct loop gets the machine the apps had
    await stopProcess(plain);
    await stopProcess(floor);
    await php.stop();
    resetRegistrations();
    const dbListAfter = await directLoop(config, 'list');
    resetRegistrations();
    const dbRegAfter = await directLoop(config, 'register');
    resetRegistrations();
    const dbRegBatched = await directLoop(config, 'register-batched');
    const dbList = dbListAfter.rate >= dbBefore.list.rate ? dbListAfter : dbBefore.list;
    const dbReg = dbRegAfter.rate >= dbBefore.reg.rate ? dbRegAfter : dbBefore.reg;

    const served = (r?: StageResult) => (r ? Math.round(r.achieved) : undefined);
    const note = (r?: StageResult) =>
      r
        ? `p95 ${r.p95.toFixed(1)} ms, errors ${(r.errorRate * 100).toFixed(2)}% at ${r.rate}/s offered (${r.dropped} iterations k6 could not start)`
        : 'no passing rate';
    const rows: Array<[string, number | undefined, string]> = [
      ['app: course list page (HTML, 1 access row per view)', served(appList), note(appList)],
      ['PHP on nginx + php-fpm: same page', served(phpList), note(phpList)],
      ['app, coalescing off (per view 1 SELECT + 1 INSERT, like PHP)', served(plainList), note(plainList)],
      [
        'floor: bare node:http serving the same page from memory (no DB, no framework)',
        served(floorList),
        floorList ? `${note(floorList)}, ${floorList.cpu}` : 'no passing rate',
      ],
      [
        'DB direct: same list statements per view (mysql2, 16 conns, no HTTP)',
        Math.round(dbList.rate),
        `p95 ${dbList.p95.toFixed(1)} ms`,
      ],
      [
        `app: login (POST /api/login, scrypt N=2^${SCRYPT_COST.ln} r=${SCRYPT_COST.r} p=${SCRYPT_COST.p}), ${LOGIN_CALLERS} callers`,
        logins ? Math.round(logins.rate) : undefined,
        logins
          ? `p95 ${logins.p95.toFixed(1)} ms, ${logins.cpu}; one hash in this process ${logins.oneHashMs.toFixed(1)} ms`
          : 'not run',
      ],
      ['app: registration, logged in (POST /api/registrations with the session cookie)', served(appReg), note(appReg)],
      ['DB direct: same registration transaction', Math.round(dbReg.rate), `p95 ${dbReg.p95.toFixed(1)} ms`],
      [
        "DB direct: the app's group-committed registration routine",
        Math.round(dbRegBatched.rate),
        `p95 ${dbRegBatched.p95.toFixed(1)} ms`,
      ],
    ];
    console.log(
      '\n| target | highest rate served with p95 < 200 ms, < 1% errors (req/s) | at that rate |\n|---|---:|---|',
    );
    for (const [name, rate, note] of rows) console.log(`| ${name} | ${rate ?? '-'} | ${note} |`);
    const ratio = (a?: number, b?: number) => (a && b ? (a / b).toFixed(2) : 'n/a');
    console.log(
      `\nthe login layer on a logged-in request (in process, no HTTP, no DB): ${auth.withAuth.toFixed(1)} us with it, ` +
        `${auth.without.toFixed(1)} us without: ${(auth.withAuth - auth.without).toFixed(1)} us per request ` +
        `(best of ${AUTH_ROUNDS} interleaved rounds of ${AUTH_REQUESTS})`,
    );
    console.log(
      `\nload average (1 min) at start ${loadAtStart.toFixed(1)}, at end ${os.loadavg()[0].toFixed(1)} on ${CORES} cores`,
    );
    // A rate within 10% of the floor says more about k6 than about the server.
    const capped = (r?: StageResult) =>
      r && floorList && r.achieved >= 0.9 * floorList.achieved
        ? '  [within 10% of the floor: limited by k6, not by the server]'
        : '';
    console.log(
      `\napp / PHP, course list:               ${ratio(served(appList), served(phpList))}x  (target >= 2)${capped(appList)}`,
    );
    console.log(
      `app / DB direct, course list:         ${ratio(served(appList), dbList.rate)}  (target >= 0.60)${capped(appList)}`,
    );
    console.log(
      `floor / DB direct, course list:       ${ratio(served(floorList), dbList.rate)}  (the most k6 can show here)`,
    );
    console.log(`app without coalescing / PHP:         ${ratio(served(plainList), served(phpList))}x`);
    console.log(`app without coalescing / DB direct:   ${ratio(served(plainList), dbList.rate)}`);
    console.log(
      `app / DB direct, registration:        ${ratio(served(appReg), dbReg.rate)}  (target >= 0.60)${capped(appReg)}`,
    );
  } finally {
    for (const stop of started.reverse()) await stop().catch(() => undefined);
  }
}

const LOGIN_CALLERS = 16;
const AUTH_ROUNDS = 5;
const AUTH_REQUESTS = 20000;

/**
 * What the login layer adds to one request that acts for a student, isolated from HTTP, the database and this
 * machine's noise: the same trivial route on two Fastify instances, one with app/auth.ts (cookie parse, two HMACs,
 * the hooks), called with app.inject, interleaved rounds, best round each. The k6 arms include it but cannot
 * resolve a few microseconds on a loaded shared machine.
 */
async function authOverhead(): Promise<{ withAuth: number; without: number }> {
  const secret = randomBytes(32);
  const cookie = `rh_session=${sessionCookieValue(secret, 1, Math.floor(Date.now() / 1000) + 3600)}`;
  const make = async (withAuth: boolean) => {
    const app = Fastify({ logger: false });
    if (withAuth)
      // The pool is never used: with sessionKey given, checking a cookie needs no database.
      await app.register(authPlugin, { pool: undefined as never, timeoutMs: 1000, sessionKey: secret.toString('hex') });
    app.post('/api/registrations', { config: { actsForStudent: 'api' } }, async (req) => ({
      result: 'registered',
      ...(req.body as object),
    }));
    await app.ready();
    return app;
  };
  const apps = { withAuth: await make(true), without: await make(false) };
  const best = { withAuth: Infinity, without: Infinity };
  for (let round = 0; round < AUTH_ROUNDS; round++) {
    for (const name of ['withAuth', 'without'] as const) {
      const start = performance.now();
      for (let i = 0; i < AUTH_REQUESTS; i++) {
        const res = await apps[name].inject({
          method: 'POST',
          url: '/api/registrations',
          headers: { 'content-type': 'application/json', cookie },
          payload: '{"studentId":1,"courseId":1}',
        });
        if (res.statusCode !== 200) throw new Error(`auth overhead: ${name} answered ${res.statusCode}`);
      }
      best[name] = Math.min(best[name], ((performance.now() - start) * 1000) / AUTH_REQUESTS);
    }
  }
  await apps.withAuth.close();
  await apps.without.close();
  return best;
}

/**
 * Logs every seeded student in once through the app, LOGIN_CALLERS at a time (a closed loop from this process,
 * not k6: the cookies are wanted for the registration arm), and reports logins per second, p95, the app's CPU per
 * login and what one scrypt hash costs in this process right now (the machine's load shows in it).
 */
async function loginAll(
  base: string,
  pids: number[],
): Promise<{ cookies: string[]; rate: number; p95: number; cpu: string; oneHashMs: number }> {
  const t0 = performance.now();
  await hashPassword('reference');
  const oneHashMs = performance.now() - t0;
  const cookies: string[] = new Array(STUDENTS);
  const latencies: number[] = [];
  let next = 0;
  const cpu = () => pids.reduce((sum, pid) => sum + treeCpuSeconds(pid), 0) + treeCpuSeconds(DB_PID);
  const appCpu = () => pids.reduce((sum, pid) => sum + treeCpuSeconds(pid), 0);
  const [cpuBefore, appBefore] = [cpu(), appCpu()];
  const start = performance.now();
  const worker = async () => {
    for (let i = next++; i < STUDENTS; i = next++) {
      const t = performance.now();
      const res = await fetch(`${base}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ studentId: i + 1, password: seedPassword(i + 1) }),
      });
      await res.arrayBuffer();
      const cookie = res.headers.get('set-cookie');
      if (res.status !== 200 || !cookie) throw new Error(`login of student ${i + 1} answered ${res.status}`);
      cookies[i] = cookie.split(';')[0];
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: LOGIN_CALLERS }, worker));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const perLogin = (cpuSeconds: number) => ((cpuSeconds * 1e6) / STUDENTS).toFixed(0);
  const r = {
    cookies,
    rate: STUDENTS / seconds,
    p95: latencies[Math.floor(latencies.length * 0.95)],
    cpu: `cpu/login: app ${perLogin(appCpu() - appBefore)} us, MariaDB ${perLogin(cpu() - cpuBefore - (appCpu() - appBefore))} us`,
    oneHashMs,
  };
  console.log(
    `  app login ${STUDENTS} students, ${LOGIN_CALLERS} callers: ${r.rate.toFixed(0)}/s  p95 ${r.p95.toFixed(1)} ms  ${r.cpu}  (one hash here: ${oneHashMs.toFixed(1)} ms)`,
  );
  return r;
}

/**
 * GET and parse JSON, with three tries a second apart; the error text when all fail (the counters are extra, not worth
 * losing the run).
 */
async function getJson<T>(url: string): Promise<T | string> {
  let last = '';
  for (let i = 0; i < 3; i++) {
    try {
      return (await (await fetch(url)).json()) as T;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      last = `${e.message}: ${e.cause?.code ?? e.cause?.message ?? 'no cause'}`;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  return last;
}

/** The command line that runs `cmd` on the given cpus (unchanged without --pin). */
function onCpus(cpus: string, cmd: string, cmdArgs: string[]): [string, string[]] {
  return PIN ? ['taskset', ['-c', cpus, cmd, ...cmdArgs]] : [cmd, cmdArgs];
}

async function prepareDb(db: LocalMariaDb): Promise<DbConfig> {
  // Seats large enough that the registration benchmark measures the write path, not "course full".
  return seedCourseDatabase(db, { courses: 43, students: STUDENTS, seats: 1_000_000, privileges: 'ALL PRIVILEGES' });
}

/**
 * The same statements as the app, straight from mysql2 with no HTTP: the database's own limit as one Node client sees
 * it.
 */
async function directLoop(
  config: DbConfig,
  mode: 'list' | 'register' | 'register-batched',
): Promise<{ rate: number; p95: number }> {
  const pool = createPool(config, { size: POOL, queueLimit: 1000, timeoutMs: 10000 });
  // Coalescing off: one SELECT and one single-row INSERT per view, exactly what the PHP page runs,
  // and one transaction per registration. 'register-batched' drives the app's group commit instead.
  const store = new CourseStore(pool, 10000, mode === 'register-batched');
  const latencies: number[] = [];
  let counter = 0;
  const until = Date.now() + STAGE_S * 1000;
  const worker = async () => {
    while (Date.now() < until) {
      const t = performance.now();
      if (mode === 'list') await store.listCoursesAndRecordView('courses');
      else {
        const i = counter++;
        await store.register(1 + (Math.floor(i / 43) % STUDENTS), 1 + (i % 43));
      }
      latencies.push(performance.now() - t);
    }
  };
  const cpuBefore = treeCpuSeconds(DB_PID);
  const start = performance.now();
  await Promise.all(Array.from({ length: POOL * 2 }, worker));
  const dbCpu = treeCpuSeconds(DB_PID) - cpuBefore;
  const seconds = (performance.now() - start) / 1000;
  await pool.end();
  latencies.sort((a, b) => a - b);
  const r = { rate: latencies.length / seconds, p95: latencies[Math.floor(latencies.length * 0.95)] };
  console.log(
    `  DB direct ${mode.padEnd(16)} ${r.rate.toFixed(0).padStart(6)}/s  p95 ${r.p95.toFixed(1)} ms  (${POOL} connections, ${POOL * 2} callers, ${STAGE_S} s)  cpu/req: MariaDB ${((dbCpu * 1e6) / latencies.length).toFixed(0)} us`,
  );
  return r;
}

/** nginx + php-fpm on free loopback ports with config in a temp dir (no systemd). */
async function startPhp(
  nginx: string,
  fpm: string,
  work: string,
  db: DbConfig,
): Promise<{ port: number; pids: number[]; stop: () => Promise<void> }> {
  const dir = path.join(work, 'php');
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const sock = path.join(dir, 'fpm.sock');
  const port = await freePort();
  const docroot = path.resolve(__dirname, 'php');
  const fpmConf = path.join(dir, 'php-fpm.conf');
  fs.writeFileSync(
    fpmConf,
    `[global]
pid = ${dir}/fpm.pid
error_log = ${dir}/fpm.log
daemonize = no
[bench]
listen = ${sock}
listen.mode = 0666
pm = static
pm.max_children = ${POOL}
clear_env = yes
env[DB_HOST] = ${db.host}
env[DB_PORT] = ${db.port}
env[DB_USER] = ${db.user}
env[DB_PASSWORD] = ${db.password}
env[DB_NAME] = ${db.database}
`,
    { mode: 0o600 },
  );
  const nginxConf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(
    nginxConf,
    `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
${os.userInfo().uid === 0 ? 'user root;' : ''}
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body; fastcgi_temp_path ${dir}/tmp/fastcgi; proxy_temp_path ${dir}/tmp/proxy;
  uwsgi_temp_path ${dir}/tmp/uwsgi; scgi_temp_path ${dir}/tmp/scgi;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:${port};
    root ${docroot};
    location ~ \\.php$ {
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
      fastcgi_pass unix:${sock};
    }
  }
}
`,
  );
  const fpmProc = spawnOwned(
    ...onCpus(SUT_CPUS, fpm, [
      '--nodaemonize',
      '--fpm-config',
      fpmConf,
      ...(os.userInfo().uid === 0 ? ['--allow-to-run-as-root'] : []),
    ]),
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
  const nginxProc: ChildProcess = spawnOwned(...onCpus(SUT_CPUS, nginx, ['-p', dir, '-c', nginxConf]), {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitForPort(port);
  const res = await fetch(`http://127.0.0.1:${port}/courses.php`);
  const body = await res.text();
  if (res.status !== 200 || !body.includes('43 courses'))
    throw new Error(`PHP page check failed: ${res.status} ${body.slice(0, 300)}`);
  return {
    port,
    pids: [fpmProc.pid!, nginxProc.pid!],
    stop: async () => {
      await stopProcess(nginxProc);
      await stopProcess(fpmProc);
    },
  };
}

main().catch((err) => {
  console.error(`bench/app: ${err.stack ?? err}`);
  process.exit(1);
});
