/**
 * Each scenario, run by the real k6 against the real app on a real MariaDB, in short bounded runs on loopback:
 * the scripts work, the oversold check passes on a correct app and fails on an oversold database, and the
 * thresholds can fail.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { runLoadTest } from '../../loadtest/run';
import { freePort } from '../../src/local/ports';
import { LocalDeployment, startDeployment } from './support';

let dep: LocalDeployment;
/** Students the seed creates; the scenarios pick ids 1..STUDENTS (an id the seed did not create answers 404). */
const STUDENTS = 300;
/** The runs that must pass test the scripts, not this shared machine's speed: a p95 limit no loopback run misses. */
const P95_MS = 5000;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-loadtest-'));
const out = (name: string) => path.join(tmp, name);

beforeAll(async () => {
  dep = await startDeployment({ apps: 2, courses: 43, students: STUDENTS });
});

afterAll(async () => {
  await dep?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('browse: list and detail pages at a climbing rate, every answer 200, one access row per list view', async () => {
  const accessBefore = dep.count('SELECT COUNT(*) FROM access_log');
  const r = await runLoadTest({
    scenario: 'browse',
    targets: [dep.urls[0]],
    peak: 20,
    duration: '5s',
    p95Ms: P95_MS,
    outDir: out('browse'),
  });
  expect(r.failures).toEqual([]);
  expect(r.passed).toBe(true);
  expect(r.k6ExitCode).toBe(0);
  const a = r.analysis;
  expect(a.requests).toBeGreaterThan(30);
  expect(Object.keys(a.statusCounts)).toEqual(['200']);
  expect(Object.keys(a.byName).sort()).toEqual(['page: course detail', 'page: course list']);
  // The app records one row per course-list view: the requests really reached it.
  expect(dep.count('SELECT COUNT(*) FROM access_log') - accessBefore).toBe(a.byName['page: course list'].requests);
  expect(a.oversoldCourses).toBe(0);
  expect(r.oversold).toEqual({ checkedCourses: 43, courses: [] });
  expect(r.thresholds.map((t) => `${t.metric} ${t.threshold} ${t.ok}`)).toEqual([
    'http_req_duration p(95)<5000 true',
    'http_req_failed rate<0.01 true',
    'oversold_check_failed count<1 true',
    'oversold_courses count<1 true',
  ]);
  for (const f of [r.files.summaryText, r.files.summaryJson, r.files.chartHtml])
    expect(fs.statSync(f).size).toBeGreaterThan(100);
  expect(fs.readFileSync(r.files.chartHtml, 'utf8')).toContain('<polyline');
  expect(JSON.parse(fs.readFileSync(r.files.summaryJson, 'utf8')).analysis.requests).toBe(a.requests);
});

test('register: seat contention fills the popular course exactly, 409 counts as an answer, every 201 is a row', async () => {
  const courses = (await (await fetch(`${dep.urls[0]}/api/courses`)).json()) as Array<{ id: number; seats: number }>;
  const hot = courses[0];
  dep.db.sql(`UPDATE courses SET seats = 5 WHERE id = ${hot.id}`, 'course_selection');
  const before = dep.count('SELECT COUNT(*) FROM registrations');
  const r = await runLoadTest({
    scenario: 'register',
    targets: [dep.urls[0]],
    peak: 30,
    duration: '5s',
    mix: '50:50',
    students: STUDENTS,
    p95Ms: P95_MS,
    hotCourses: 1,
    hotShare: 0.8,
    outDir: out('register'),
  });
  expect(r.failures).toEqual([]);
  const a = r.analysis;
  expect(a.byName['api: register'].requests).toBeGreaterThan(20);
  expect(a.byName['api: course'].requests).toBeGreaterThan(20);
  expect(a.statusCounts['409']).toBeGreaterThan(0); // the full course answered "full"
  expect(a.failed).toBe(0);
  // Each VU logged in (once, as its own student) before it registered: no 401, no 403, fewer logins than writes.
  expect(a.byName['api: login'].requests).toBeGreaterThan(0);
  expect(a.byName['api: login'].requests).toBeLessThan(a.byName['api: register'].requests);
  expect(a.statusCounts['401'] ?? 0).toBe(0);
  expect(a.statusCounts['403'] ?? 0).toBe(0);
  expect(dep.count(`SELECT taken FROM courses WHERE id = ${hot.id}`)).toBe(5);
  expect(dep.count(`SELECT COUNT(*) FROM registrations WHERE course_id = ${hot.id}`)).toBe(5);
  expect(dep.count('SELECT COUNT(*) FROM registrations') - before).toBe(a.statusCounts['201']);
});

test('rush: ramps up and back across two weighted targets; the heavier one gets about its share', async () => {
  const r = await runLoadTest({
    scenario: 'rush',
    targets: [`${dep.urls[0]}=3`, `${dep.urls[1]}=1`],
    peak: 30,
    duration: '8s',
    mix: '60:40',
    students: STUDENTS,
    p95Ms: P95_MS,
    outDir: out('rush'),
  });
  expect(r.failures).toEqual([]);
  const a = r.analysis;
  const heavy = a.byTarget[dep.urls[0]].requests;
  const light = a.byTarget[dep.urls[1]].requests;
  expect(heavy + light).toBe(a.requests);
  expect(heavy / a.requests).toBeGreaterThan(0.6); // 0.75 expected; bounds wide enough for ~100 draws
  expect(heavy / a.requests).toBeLessThan(0.9);
  expect(a.byName['api: register'].requests).toBeGreaterThan(0);
  // The rate climbs to the peak and falls back: the busiest second is well above the first and the last.
  const rps = a.timeline.map((b) => b.rps);
  expect(Math.max(...rps)).toBeGreaterThanOrEqual(3 * Math.max(rps[0], rps[rps.length - 1]));
  expect(r.plan.stages.map((s) => s.target)).toEqual([2, 8, 8, 30, 30, 8, 2]);
});

test('soak: a steady rate with registrations and drops (404 for a drop not held is an answer)', async () => {
  const r = await runLoadTest({
    scenario: 'soak',
    targets: [dep.urls[1]],
    peak: 15,
    duration: '4s',
    mix: '20:80',
    students: STUDENTS,
    p95Ms: P95_MS,
    outDir: out('soak'),
  });
  expect(r.failures).toEqual([]);
  expect(r.analysis.byName['api: drop'].requests).toBeGreaterThan(0);
  expect(r.analysis.byName['api: register'].requests).toBeGreaterThan(0);
  expect(r.analysis.failed).toBe(0);
  expect(r.analysis.byName['api: login'].requests).toBeGreaterThan(0);
  expect(r.plan.stages).toEqual([{ target: 15, duration: '4s' }]);
});

test('an impossible p95 threshold fails the run: npm run loadtest exits 1 and says which threshold', async () => {
  // Asynchronous: the app under test runs in this process and must keep answering while the CLI runs.
  const res = await new Promise<{ status: number | null; stdout: string }>((resolve) => {
    execFile(
      'npx',
      [
        'tsx',
        'loadtest/run.ts',
        'browse',
        '--target',
        dep.urls[0],
        '--peak',
        '10',
        '--duration',
        '3s',
        '--p95',
        '0.001',
        '--out',
        out('p95'),
        '--quiet',
      ],
      { cwd: path.resolve(__dirname, '../..'), encoding: 'utf8', timeout: 90000 },
      (err, stdout) => resolve({ status: err ? ((err as { code?: number }).code ?? null) : 0, stdout }),
    );
  });
  expect(res.status).toBe(1);
  expect(res.stdout).toContain('result: FAILED — threshold crossed: http_req_duration p(95)<0.001');
  expect(res.stdout).toMatch(
    /p95 first broke 0\.001 ms \d+ s in, at [\d.]+ requests\/s reached \(planned arrivals [\d.]+\/s\)/,
  );
  const json = JSON.parse(fs.readFileSync(out('p95/summary.json'), 'utf8'));
  expect(json.passed).toBe(false);
  expect(json.k6ExitCode).toBe(99);
});

test('a target that answers 500s fails the error-rate threshold and shows the errors by status', async () => {
  // A real HTTP server on loopback that lists courses but fails every page: what a broken deployment looks like.
  const server = http.createServer((req, res) => {
    if (req.url === '/api/courses') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify([{ id: 1, code: 'ALG100', title: 'Algorithms', seats: 20, taken: 0 }]));
    } else {
      res.statusCode = 500;
      res.end('broken');
    }
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  try {
    const r = await runLoadTest({
      scenario: 'browse',
      targets: [`http://127.0.0.1:${port}`],
      peak: 10,
      duration: '3s',
      outDir: out('500'),
    });
    expect(r.passed).toBe(false);
    expect(r.k6ExitCode).toBe(99);
    expect(r.failures).toContain('threshold crossed: http_req_failed rate<0.01');
    expect(r.analysis.errorsByStatus['500']).toBe(r.analysis.requests);
    expect(r.analysis.errorRate).toBe(1);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('the oversold check fails when the database holds more registrations than seats', async () => {
  const courses = (await (await fetch(`${dep.urls[0]}/api/courses`)).json()) as Array<{
    id: number;
    code: string;
    seats: number;
  }>;
  const victim = courses[courses.length - 1];
  // What a broken app would leave behind; the CHECK constraint has to be switched off to write it.
  dep.db.sql(
    `SET SESSION check_constraint_checks = 0; UPDATE courses SET taken = seats + 2 WHERE id = ${victim.id};`,
    'course_selection',
  );
  try {
    const r = await runLoadTest({
      scenario: 'browse',
      targets: [dep.urls[0]],
      peak: 5,
      duration: '2s',
      outDir: out('oversold'),
    });
    expect(r.passed).toBe(false);
    expect(r.analysis.oversoldCourses).toBe(1);
    expect(r.thresholds.find((t) => t.metric === 'oversold_courses')?.ok).toBe(false);
    expect(r.oversold.courses).toEqual([
      { id: victim.id, code: victim.code, seats: victim.seats, taken: victim.seats + 2 },
    ]);
    expect(r.failures).toContain(
      `OVERSOLD: course ${victim.id} (${victim.code}) has ${victim.seats + 2} registrations for ${victim.seats} seats`,
    );
  } finally {
    dep.db.sql(
      `SET SESSION check_constraint_checks = 0; UPDATE courses SET taken = 0 WHERE id = ${victim.id};`,
      'course_selection',
    );
  }
});

test('a target where nothing listens: the run fails and says why (no course list in setup)', async () => {
  const r = await runLoadTest({
    scenario: 'rush',
    targets: [`http://127.0.0.1:${await freePort()}`],
    peak: 5,
    duration: '7s',
    outDir: out('down'),
  });
  expect(r.passed).toBe(false);
  expect(r.analysis.requests).toBe(0);
  expect(r.failures[0]).toMatch(
    /^k6 exited with 107 \(not a threshold failure\): Error: GET http:\/\/127\.0\.0\.1:\d+\/api\/courses answered .*is the app running and seeded/,
  );
  expect(r.oversold.error).toMatch(/fetch failed|ECONNREFUSED/);
});

test('bad input is refused before k6 starts, with a message that says what to change', async () => {
  await expect(runLoadTest({ scenario: 'rush', targets: ['127.0.0.1:8080'], outDir: out('bad') })).rejects.toThrow(
    /not an http\(s\) base URL/,
  );
  await expect(
    runLoadTest({ scenario: 'rush', targets: [dep.urls[0]], duration: '3s', outDir: out('bad') }),
  ).rejects.toThrow(/too short/);
  await expect(runLoadTest({ scenario: 'register', targets: [dep.urls[0]], hotShare: 2 })).rejects.toThrow(
    /between 0 and 1/,
  );
  await expect(runLoadTest({ scenario: 'nope' as never, targets: [dep.urls[0]] })).rejects.toThrow(
    /choose one of browse, register, rush, soak/,
  );
  await expect(runLoadTest({ scenario: 'browse', targets: [dep.urls[0]], k6Path: '/nonexistent/k6' })).rejects.toThrow(
    /go install go.k6.io\/k6@v1.4.2/,
  );
});
