import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as mysql from 'mysql2/promise';
import { bundleReferenceApp } from '../../app/bundle';
import { DbConfig, DEFAULT_LIMITS } from '../../app/config';
import { runServer, RunningApp } from '../../app/main';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';
import { freePort, waitForPort } from '../../src/local/ports';
import { healthz, loginAs, postAs, postJson, startSeededDb } from './support';

let db: LocalMariaDb;
let config: DbConfig;
let app: RunningApp;
let base: string;

beforeAll(async () => {
  ({ db, config } = await startSeededDb({ courses: 43, students: 400 }));
  // Room for the 300-way race below; the overload test uses its own, small limit.
  app = await runServer({
    port: await freePort(),
    db: config,
    limits: { ...DEFAULT_LIMITS, maxInFlight: 600, dbPoolSize: 16 },
    logLevel: 'error',
  });
  base = `http://127.0.0.1:${app.port}`;
});

afterAll(async () => {
  await app?.close();
  await db?.stop();
});

const count = (sql: string) => Number(db.sql(sql, 'course_selection').trim());

describe('pages and API render the seeded data', () => {
  test('course list page lists all 43 courses and records one access row per view', async () => {
    const before = count('SELECT COUNT(*) FROM access_log');
    const res = await fetch(`${base}/courses`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html.match(/<tr><td>/g)).toHaveLength(43);
    expect(html).toContain('Introduction to Algorithms');
    expect(html).toContain('href="/courses/1"');
    await fetch(`${base}/`).then((r) => r.text());
    expect(count('SELECT COUNT(*) FROM access_log')).toBe(before + 2);
  });

  test('course detail page has the course, a login link, and once logged in forms that work without JavaScript', async () => {
    const html = await (await fetch(`${base}/courses/3`)).text();
    const title = db.sql('SELECT title FROM courses WHERE id = 3', 'course_selection').trim();
    expect(html).toContain(title);
    expect(html).toContain('<a href="/login">Log in</a>');
    expect(html).not.toContain('<form');
    const mine = await (await fetch(`${base}/courses/3`, { headers: { cookie: await loginAs(base, 7) } })).text();
    expect(mine).toContain('<form method="post" action="/courses/3/register"><input type="hidden" name="csrf"');
    expect(mine).toContain('Logged in as student 7.');
    expect((await fetch(`${base}/courses/999`)).status).toBe(404);
  });

  test('HTML: log in with the form, register with the form (urlencoded, CSRF token) and get the page', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' };
    const login = await fetch(`${base}/login`, {
      method: 'POST',
      headers: form,
      body: 'studentId=8&password=pw-8',
      redirect: 'manual',
    });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/courses');
    const cookie = login.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^rh_session=8\.\d+\.[\w-]{43}; Path=\/; Max-Age=28800; HttpOnly; SameSite=Lax$/);
    const session = cookie.split(';')[0];
    const page = await (await fetch(`${base}/courses/4`, { headers: { cookie: session } })).text();
    const csrf = /name="csrf" value="([\w-]+)"/.exec(page)![1];
    const post = () =>
      fetch(`${base}/courses/4/register`, {
        method: 'POST',
        headers: { ...form, cookie: session },
        body: `csrf=${csrf}`,
      });
    const res = await post();
    expect(res.status).toBe(201);
    expect(await res.text()).toContain('You are registered for this course.');
    const again = await post();
    expect(again.status).toBe(409);
    expect(await again.text()).toContain('already registered');
    expect(count('SELECT COUNT(*) FROM registrations WHERE student_id = 8 AND course_id = 4')).toBe(1);
  });

  test('JSON API: list and detail with id, code, title, seats, taken', async () => {
    const list = (await (await fetch(`${base}/api/courses`)).json()) as Array<Record<string, unknown>>;
    expect(list).toHaveLength(43);
    expect(Object.keys(list[0]).sort()).toEqual(['code', 'id', 'seats', 'taken', 'title']);
    const one = await (await fetch(`${base}/api/courses/${list[0].id}`)).json();
    expect(one).toMatchObject(list[0]);
    expect((await fetch(`${base}/api/courses/12345`)).status).toBe(404);
    expect((await fetch(`${base}/api/courses/abc`)).status).toBe(400);
  });

  test('shared reads and shared rendering never answer older than the request', async () => {
    const takenOf = async (id: number) =>
      ((await (await fetch(`${base}/api/courses`)).json()) as Array<{ id: number; taken: number }>).find(
        (c) => c.id === id,
      )!.taken;
    const seatsOn15 = (html: string) => /\/courses\/15">[^<]*<\/a><\/td><td>(\d+) \//.exec(html)?.[1];
    const before = await takenOf(15);
    // Many concurrent readers (shared reads), then a registration, then a read: it must see the seat.
    await Promise.all(Array.from({ length: 50 }, () => fetch(`${base}/courses`).then((r) => r.text())));
    expect((await postAs(`${base}/api/registrations`, { studentId: 77, courseId: 15 })).status).toBe(201);
    const pages = await Promise.all(Array.from({ length: 20 }, () => fetch(`${base}/courses`).then((r) => r.text())));
    for (const html of pages) expect(seatsOn15(html)).toBe(String(before + 1));
    expect(await takenOf(15)).toBe(before + 1);
  });

  test('a page and the JSON list that share one read each get their own rendering', async () => {
    // Concurrent /courses and /api/courses share one coalesced read (the same array): each must still get
    // its own format, not the bytes rendered for the other.
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const api = i % 2 === 1;
        return fetch(`${base}/${api ? 'api/courses' : 'courses'}`).then(async (r) => ({ api, body: await r.text() }));
      }),
    );
    for (const { api, body } of answers) {
      if (api) expect(JSON.parse(body)).toHaveLength(43);
      else expect(body.match(/<tr><td>/g)).toHaveLength(43);
    }
  });
});

describe('registration', () => {
  test('300 parallel attempts for a 20-seat course give exactly 20 registrations', async () => {
    db.sql('UPDATE courses SET seats = 20, taken = 0 WHERE id = 10', 'course_selection');
    const callsBefore = count(
      "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'COM_CALL_PROCEDURE'",
    );
    // Logged in first, so that the 300 registrations race each other, not the logins.
    await Promise.all(Array.from({ length: 300 }, (_, i) => loginAs(base, i + 1)));
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) => postAs(`${base}/api/registrations`, { studentId: i + 1, courseId: 10 })),
    );
    // Group commit: fewer round trips than registrations (how many fewer depends on arrival timing).
    expect((await healthz(base)).registrations).toBe('batched');
    expect(
      count("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'COM_CALL_PROCEDURE'") -
        callsBefore,
    ).toBeLessThan(300);
    const byStatus = results.reduce<Record<number, number>>(
      (acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }),
      {},
    );
    expect(byStatus).toEqual({ 201: 20, 409: 280 });
    expect(results.filter((r) => r.status === 409).every((r) => r.json.result === 'full')).toBe(true);
    expect(count('SELECT taken FROM courses WHERE id = 10')).toBe(20);
    expect(count('SELECT COUNT(*) FROM registrations WHERE course_id = 10')).toBe(20);
  });

  test('with batching off, one transaction per registration: 300 attempts for 20 seats still give exactly 20', async () => {
    db.sql('UPDATE courses SET seats = 20, taken = 0 WHERE id = 16', 'course_selection');
    const plain = await runServer({
      port: await freePort(),
      db: config,
      limits: { ...DEFAULT_LIMITS, maxInFlight: 600, dbPoolSize: 16 },
      logLevel: 'error',
      coalesce: false,
    });
    try {
      const url = `http://127.0.0.1:${plain.port}/api/registrations`;
      const results = await Promise.all(
        Array.from({ length: 300 }, (_, i) => postAs(url, { studentId: i + 1, courseId: 16 })),
      );
      expect((await healthz(`http://127.0.0.1:${plain.port}`)).registrations).toBe('per-request');
      expect(results.filter((r) => r.status === 201)).toHaveLength(20);
      expect(results.filter((r) => r.status === 409 && r.json.result === 'full')).toHaveLength(280);
    } finally {
      await plain.close();
    }
    expect(count('SELECT taken FROM courses WHERE id = 16')).toBe(20);
    expect(count('SELECT COUNT(*) FROM registrations WHERE course_id = 16')).toBe(20);
  });

  test('the same student racing for one course 50 times gets it once', async () => {
    db.sql('UPDATE courses SET seats = 100, taken = 0 WHERE id = 11', 'course_selection');
    await loginAs(base, 42);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => postAs(`${base}/api/registrations`, { studentId: 42, courseId: 11 })),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409 && r.json.result === 'duplicate')).toHaveLength(49);
    expect(count('SELECT taken FROM courses WHERE id = 11')).toBe(1);
  });

  test('duplicate refused with 409, drop gives the seat back, bad input is a 4xx with a message', async () => {
    const taken = () => count('SELECT taken FROM courses WHERE id = 12');
    const t0 = taken();
    expect((await postAs(`${base}/api/registrations`, { studentId: 5, courseId: 12 })).status).toBe(201);
    const dup = await postAs(`${base}/api/registrations`, { studentId: 5, courseId: 12 });
    expect(dup.status).toBe(409);
    expect(dup.json.result).toBe('duplicate');
    expect(taken()).toBe(t0 + 1);
    expect((await postAs(`${base}/api/registrations`, { studentId: 5, courseId: 12 }, 'DELETE')).status).toBe(200);
    expect(taken()).toBe(t0);
    expect((await postAs(`${base}/api/registrations`, { studentId: 5, courseId: 12 }, 'DELETE')).status).toBe(404);

    const five = await loginAs(base, 5);
    const bad = await postJson(`${base}/api/registrations`, { studentId: 'x', courseId: 12 }, 'POST', five);
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/studentId/);
    expect((await postJson(`${base}/api/registrations`, { studentId: 5 }, 'POST', five)).status).toBe(400);
    // Left out, the student is the session's (the same request shape, minus what the session already says).
    const implicit = await postJson(`${base}/api/registrations`, { courseId: 12 }, 'POST', five);
    expect([implicit.status, implicit.json.studentId]).toEqual([201, 5]);
    expect((await postJson(`${base}/api/registrations`, { courseId: 12 }, 'DELETE', five)).status).toBe(200);
    expect((await postAs(`${base}/api/registrations`, { studentId: 1, courseId: 9999 })).json.result).toBe(
      'no-such-course',
    );
    // A student that does not exist cannot log in, so "no such student" is now only the store's answer
    // (test/app/register-batch.test.ts); naming one while logged in is acting for someone else.
    expect((await postJson(`${base}/api/registrations`, { studentId: 99999, courseId: 12 }, 'POST', five)).status).toBe(
      403,
    );
    expect(taken()).toBe(t0);
  });
});

describe('resilience', () => {
  test('survives a database restart: 503 during the outage, recovers without a process restart', async () => {
    expect((await fetch(`${base}/api/courses`)).status).toBe(200);
    const { dir, port } = db;
    await db.stop({ keepData: true });
    const t = Date.now();
    const during = await fetch(`${base}/api/courses`);
    expect(during.status).toBe(503);
    expect(during.headers.get('retry-after')).toBe('1');
    expect(Date.now() - t).toBeLessThan(DEFAULT_LIMITS.dbTimeoutMs + 500);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    db = await startMariaDb({ dir, port, removeDirOnStop: true });
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await fetch(`${base}/api/courses`)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await postAs(`${base}/api/registrations`, { studentId: 300, courseId: 13 })).status).toBe(201);
  });

  test('a hung database (SIGSTOP) gives 503 after the deadline, not a hang, and recovers on SIGCONT', async () => {
    const pid = db.pid;
    const fast = await runServer({
      port: await freePort(),
      db: { ...config, port: db.port },
      limits: { ...DEFAULT_LIMITS, dbTimeoutMs: 1000 },
      logLevel: 'error',
    });
    const url = `http://127.0.0.1:${fast.port}`;
    try {
      expect((await fetch(`${url}/api/courses`)).status).toBe(200);
      process.kill(pid, 'SIGSTOP');
      try {
        // The signal is delivered asynchronously: wait until the kernel reports the server stopped ("T").
        for (let i = 0; i < 100 && !/^\d+ \(.*\) T /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')); i++)
          await new Promise((r) => setTimeout(r, 20));
        const t = Date.now();
        const res = await fetch(`${url}/api/courses`);
        expect(res.status).toBe(503);
        expect(Date.now() - t).toBeLessThan(2500);
        expect((await fetch(`${url}/healthz`)).status).toBe(200);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        status = (await fetch(`${url}/api/courses`)).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 200));
      }
      expect(status).toBe(200);
    } finally {
      await fast.close();
    }
  });

  test('overload: beyond the in-flight limit 503 + Retry-After at once, /healthz stays 200', async () => {
    const small = await runServer({
      port: await freePort(),
      db: config,
      limits: { ...DEFAULT_LIMITS, maxInFlight: 4, dbPoolSize: 4, dbTimeoutMs: 20000 },
      logLevel: 'error',
    });
    const url = `http://127.0.0.1:${small.port}`;
    // Hold course 14's row lock so registrations for it stay in flight.
    const blocker = await mysql.createConnection({ ...config });
    try {
      await blocker.query('START TRANSACTION');
      await blocker.query('SELECT * FROM courses WHERE id = 14 FOR UPDATE');
      // Logged in at the roomy app: logins here would take the small app's few slots.
      await Promise.all(Array.from({ length: 4 }, (_, i) => loginAs(base, 200 + i)));
      const stuck = Array.from({ length: 4 }, (_, i) =>
        postAs(`${url}/api/registrations`, { studentId: 200 + i, courseId: 14 }),
      );
      await new Promise((r) => setTimeout(r, 300));
      const t = Date.now();
      const shed = await Promise.all(Array.from({ length: 20 }, () => fetch(`${url}/api/courses`)));
      expect(Date.now() - t).toBeLessThan(1000);
      expect(shed.map((r) => r.status)).toEqual(Array(20).fill(503));
      expect(shed[0].headers.get('retry-after')).toBe('1');
      const page = await fetch(`${url}/courses`, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(503);
      expect(await page.text()).toContain('<meta http-equiv="refresh" content="1; url=/courses">');
      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(200);
      expect(((await health.json()) as { shed: number }).shed).toBeGreaterThanOrEqual(21);
      await blocker.query('COMMIT');
      expect((await Promise.all(stuck)).map((r) => r.status)).toEqual([201, 201, 201, 201]);
      expect((await fetch(`${url}/api/courses`)).status).toBe(200);
    } finally {
      await blocker.end();
      await small.close();
    }
  });

  test('SIGTERM drains in-flight requests, refuses new ones and exits 0 (bundle as deployed)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-app-'));
    const bundle = path.join(dir, 'app.js');
    bundleReferenceApp(bundle);
    const port = await freePort();
    const child: ChildProcess = spawn(process.execPath, [bundle], {
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        DB_HOST: config.host,
        DB_PORT: String(db.port),
        DB_USER: config.user,
        DB_PASSWORD: config.password,
        DB_NAME: config.database,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d) => {
      output += d;
    });
    child.stderr!.on('data', (d) => {
      output += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const blocker = await mysql.createConnection({ ...config, port: db.port });
    try {
      await waitForPort(port);
      await blocker.query('START TRANSACTION');
      await blocker.query('SELECT * FROM courses WHERE id = 15 FOR UPDATE');
      await loginAs(base, 250);
      const inFlight = postAs(`http://127.0.0.1:${port}/api/registrations`, { studentId: 250, courseId: 15 });
      await new Promise((r) => setTimeout(r, 300));
      const stopAt = Date.now();
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
      await blocker.query('COMMIT');
      expect((await inFlight).status).toBe(201);
      expect(await exited).toBe(0);
      // Well inside the 25 s drain timeout: the drained keep-alive socket did not hold shutdown open.
      expect(Date.now() - stopAt).toBeLessThan(5000);
      expect(output).toContain('SIGTERM, draining');
    } finally {
      await blocker.end();
      child.kill('SIGKILL');
    }
  });
});
