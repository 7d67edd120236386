import * as mysql from 'mysql2/promise';
import { DbConfig, DEFAULT_LIMITS } from '../../app/config';
import { CourseStore, createPool } from '../../app/db';
import { runServer, RunningApp } from '../../app/main';
import { LocalMariaDb } from '../../src/local/mariadb';
import { freePort } from '../../src/local/ports';
import { csrfTokenOf, loginAs, postJson, startSeededDb } from '../app/support';

// Hostile input against the real app on a real MariaDB: ids that are not ids (issue 16, item 4) and what
// /readyz tells a client about the database (item 9).
//
// The routes that register act for a logged-in student (item 8), so these clients log in first: a 400 here
// comes from validation, for a client that has a session. Precedence (app/auth.ts hooks, then the route's zod
// schema): no session 401, whatever the body; then the CSRF token (forms, 403) or the JSON content type (415);
// then an invalid body 400, whichever student it names; then a valid id of another student 403.
let db: LocalMariaDb;
let config: DbConfig;
let app: RunningApp;
let base: string;

beforeAll(async () => {
  ({ db, config } = await startSeededDb({ courses: 43, students: 400 }));
  app = await runServer({
    port: await freePort(),
    db: config,
    limits: { ...DEFAULT_LIMITS, maxInFlight: 600, dbPoolSize: 8 },
    logLevel: 'silent',
  });
  base = `http://127.0.0.1:${app.port}`;
});

afterAll(async () => {
  await app?.close();
  await db?.stop();
});

const value = (sql: string) => db.sql(sql, 'course_selection').trim();
const form = { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' };
const NOT_IDS = ['Infinity', '-Infinity', '1e400', '1e2', '0x10', ' 5', '5 ', '007', '-1', '0', '4294967296', true];

describe('ids are validated strictly (no type coercion)', () => {
  test('a non-id among 100 concurrent registrations is refused with 400, and all 100 legitimate ones are stored', async () => {
    db.sql('UPDATE courses SET seats = 1000, taken = 0 WHERE id IN (1, 2)', 'course_selection');
    const legit: Array<{ studentId: unknown; courseId: number }> = Array.from({ length: 100 }, (_, i) => ({
      studentId: i + 1,
      courseId: 1 + (i % 2),
    }));
    const hostile: Array<{ studentId: unknown; courseId: number }> = NOT_IDS.map((studentId) => ({
      studentId,
      courseId: 1,
    }));
    // Interleaved, so hostile items land in the same group-commit batches as legitimate ones. Every client is
    // logged in beforehand (once per student), so the registrations still arrive together; the hostile ones
    // come from student 200's session: a non-id is a 400, not the 403 of "another student".
    const cookies = await Promise.all(legit.map((b) => loginAs(base, b.studentId as number)));
    const hostileCookie = await loginAs(base, 200);
    const bodies = legit.flatMap((b, i) => (i % 8 === 0 && hostile[i / 8] ? [hostile[i / 8], b] : [b]));
    const results = await Promise.all(
      bodies.map((b) =>
        postJson(
          `${base}/api/registrations`,
          b,
          'POST',
          hostile.includes(b) ? hostileCookie : cookies[legit.indexOf(b)],
        ),
      ),
    );
    for (const [i, b] of bodies.entries()) {
      if (hostile.includes(b)) {
        expect({ body: b, status: results[i].status }).toEqual({ body: b, status: 400 });
        expect(results[i].json.error).toMatch(/body\/studentId must be an integer from 1 to 4294967295/);
      } else expect({ body: b, status: results[i].status }).toEqual({ body: b, status: 201 });
    }
    expect(value('SELECT COUNT(*) FROM registrations WHERE course_id IN (1, 2)')).toBe('100');
    expect(value('SELECT SUM(taken) FROM courses WHERE id IN (1, 2)')).toBe('100');
  });

  test('without a session: 401 for a valid body and for a non-id alike (the session is checked first)', async () => {
    db.sql('UPDATE courses SET seats = 1000, taken = 0 WHERE id = 11', 'course_selection');
    for (const studentId of [101, 'Infinity']) {
      const res = await postJson(`${base}/api/registrations`, { studentId, courseId: 11 });
      expect({ studentId, status: res.status }).toEqual({ studentId, status: 401 });
      expect(res.json.error).toMatch(/Log in first/);
    }
    expect(value('SELECT COUNT(*) FROM registrations WHERE course_id = 11')).toBe('0');
  });

  test('JSON numbers that are not safe integers are refused; a canonical decimal string is an id', async () => {
    db.sql('UPDATE courses SET seats = 1000, taken = 0 WHERE id = 3', 'course_selection');
    const cookie = await loginAs(base, 7);
    for (const raw of [
      '{"studentId":1e400,"courseId":3}',
      '{"studentId":1.5,"courseId":3}',
      '{"studentId":"Infinity","courseId":3}',
      '{"studentId":7,"courseId":3,"x":1}',
    ]) {
      const res = await fetch(`${base}/api/registrations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie },
        body: raw,
      });
      expect({ raw, status: res.status }).toEqual({ raw, status: 400 });
    }
    expect(
      (await postJson(`${base}/api/registrations`, { studentId: '150', courseId: 3 }, 'POST', await loginAs(base, 150)))
        .status,
    ).toBe(201);
    expect(value('SELECT COUNT(*) FROM registrations WHERE course_id = 3')).toBe('1');
  });

  test('form posts and path ids: Infinity and friends are 400, not a 500 or a stored row', async () => {
    db.sql('UPDATE courses SET seats = 1000, taken = 0 WHERE id = 4', 'course_selection');
    const cookie = await loginAs(base, 300);
    const csrf = await csrfTokenOf(base, cookie);
    const post = (path: string, body: string) =>
      fetch(`${base}${path}`, { method: 'POST', headers: { ...form, cookie }, body });
    for (const bad of ['Infinity', '-Infinity', '1e400', '0x10', '']) {
      // An empty studentId is "left out", which the login reads as the session's own student (app/auth.ts):
      // only the others are non-ids in a form field.
      if (bad) {
        const res = await post('/courses/4/register', `csrf=${csrf}&studentId=${encodeURIComponent(bad)}`);
        expect({ bad, status: res.status }).toEqual({ bad, status: 400 });
      }
      const path = encodeURIComponent(bad || ' ');
      expect((await fetch(`${base}/api/courses/${path}`)).status).toBe(400);
      expect({ bad, status: (await post(`/courses/${path}/register`, `csrf=${csrf}`)).status }).toEqual({
        bad,
        status: 400,
      });
    }
    expect(value('SELECT COUNT(*) FROM registrations WHERE course_id = 4')).toBe('0');
  });
});

describe('validation and "only for yourself" agree on what a decimal string means', () => {
  // The schema accepts the canonical decimal string ("301") and hands the route a number; the login's check
  // (preHandler, after validation) compares that value strictly with the session's student, a number. Were
  // the validated value left a string, the own student's "301" would be refused as another student.
  const registered = (student: number, course: number) =>
    value(`SELECT COUNT(*) FROM registrations WHERE student_id = ${student} AND course_id = ${course}`);

  test('a form post: the own student as a string is 201, another student as a string is 403', async () => {
    db.sql('UPDATE courses SET seats = 1000, taken = 0 WHERE id = 12', 'course_selection');
    const cookie = await loginAs(base, 301);
    const csrf = await csrfTokenOf(base, cookie);
    const post = (studentId: string) =>
      fetch(`${base}/courses/12/register`, {
        method: 'POST',
        headers: { ...form, cookie },
        body: `csrf=${csrf}&studentId=${studentId}`,
      });
    const other = await post('302');
    expect(other.status).toBe(403);
    expect(await other.text()).toContain('can act only for yourself');
    expect((await post('301')).status).toBe(201);
    expect([registered(301, 12), registered(302, 12)]).toEqual(['1', '0']);
  });

  test('a JSON post: the own student as a string is 201, another student as a string is 403', async () => {
    db.sql('UPDATE courses SET seats = 1000, taken = 0 WHERE id = 13', 'course_selection');
    const cookie = await loginAs(base, 303);
    const post = (studentId: string) =>
      postJson(`${base}/api/registrations`, { studentId, courseId: 13 }, 'POST', cookie);
    const other = await post('304');
    expect([other.status, other.json.error]).toEqual([
      403,
      'You are logged in as student 303 and can act only for yourself.',
    ]);
    const mine = await post('303');
    expect(mine.status).toBe(201);
    // The answer echoes the id the handler used: a number, as validated.
    expect(mine.json.studentId).toBe(303);
    expect([registered(303, 13), registered(304, 13)]).toEqual(['1', '0']);
  });
});

describe('a batch the database refuses falls back to one transaction per item', () => {
  test('one value the routine cannot store fails only its own item', async () => {
    // Past the HTTP validation (a caller of the store, a future route): Infinity reaches the routine as null.
    db.sql('UPDATE courses SET seats = 1000, taken = 0 WHERE id IN (5, 6)', 'course_selection');
    const pool = createPool(config, { size: 4, queueLimit: 1000, timeoutMs: 10000 });
    try {
      const store = new CourseStore(pool, 10000, true);
      const first = store.register(1, 5); // runs alone; everything below waits for it and goes into one batch
      const batch = Array.from({ length: 40 }, (_, i) => store.register(10 + i, 5 + (i % 2)));
      const bad = store.register(Infinity, 6);
      const more = Array.from({ length: 10 }, (_, i) => store.register(100 + i, 6));
      expect(await first).toBe('registered');
      const settled = await Promise.allSettled([...batch, bad, ...more]);
      expect(settled.filter((s) => s.status === 'rejected')).toHaveLength(1);
      expect(settled[40].status).toBe('rejected');
      expect(settled.filter((s) => s.status === 'fulfilled' && s.value === 'registered')).toHaveLength(50);
      expect(value('SELECT COUNT(*) FROM registrations WHERE course_id IN (5, 6)')).toBe('51');
      expect(value('SELECT SUM(taken) FROM courses WHERE id IN (5, 6)')).toBe('51');
    } finally {
      await pool.end();
    }
  });
});

describe('/readyz names no database detail', () => {
  test.each([
    ['a wrong password', (c: DbConfig) => ({ ...c, password: `${c.password}-wrong` })],
    ['a closed port', (c: DbConfig) => ({ ...c, port: 1 })],
  ])('with %s: 503 and a generic reason, not the driver message', async (_name, broken) => {
    const bad = await runServer({
      port: await freePort(),
      db: broken(config),
      limits: { ...DEFAULT_LIMITS, dbTimeoutMs: 2000 },
      logLevel: 'silent',
    });
    try {
      const res = await fetch(`http://127.0.0.1:${bad.port}/readyz`);
      expect(res.status).toBe(503);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({ status: 'not ready', reason: 'database unavailable' });
      for (const leak of [config.user, config.host, 'Access denied', 'ECONNREFUSED', String(config.port), ':1'])
        expect(text).not.toContain(leak);
    } finally {
      await bad.close();
    }
  });

  test('a reachable database is ready', async () => {
    // The same check through a plain connection, so the test above fails for the leak, not for a broken setup.
    const conn = await mysql.createConnection(config);
    await conn.end();
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ status: 'ready' });
  });
});
