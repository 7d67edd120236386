import * as fs from 'node:fs';
import * as mysql from 'mysql2/promise';
import { DbConfig, DEFAULT_LIMITS } from '../../app/config';
import { runServer, RunningApp } from '../../app/main';
import { LocalMariaDb } from '../../src/local/mariadb';
import { freePort } from '../../src/local/ports';
import { loginAs, postJson, startSeededDb } from '../app/support';

// Issue 16, item 7: a 503 must mean "not registered". The database stalls while registrations are on their
// way to it; afterwards every answer is checked against the rows that were stored.
let db: LocalMariaDb;
let config: DbConfig;

beforeAll(async () => {
  ({ db, config } = await startSeededDb({ courses: 43, students: 400 }));
});

afterAll(async () => {
  await db?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stored = (courses: number[]) =>
  new Set(
    db
      .sql(
        `SELECT student_id, course_id FROM registrations WHERE course_id IN (${courses.join(',')})`,
        'course_selection',
      )
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => l.replace('\t', '/')),
  );

type Answer = { key: string; status: number; json: { outcome?: string; advice?: string } };

/** Registrations for `courses`, one every `gapMs`, while `stall` runs; all answers, once every request ended. */
async function registerDuring(
  url: string,
  courses: number[],
  count: number,
  gapMs: number,
  stall: () => Promise<void>,
): Promise<Answer[]> {
  // Each student logs in once, before the stall (a login reads the database too) and outside the timed gaps.
  const cookies = await Promise.all(Array.from({ length: count }, (_, i) => loginAs(url, 1 + i)));
  const answers: Array<Promise<Answer>> = [];
  const sending = (async () => {
    for (let i = 0; i < count; i++) {
      const studentId = 1 + i;
      const courseId = courses[i % courses.length];
      answers.push(
        postJson(`${url}/api/registrations`, { studentId, courseId }, 'POST', cookies[i]).then((r) => ({
          key: `${studentId}/${courseId}`,
          status: r.status,
          json: r.json,
        })),
      );
      await sleep(gapMs);
    }
  })();
  await stall();
  await sending;
  return Promise.all(answers);
}

/** Every 503 is a registration that is not stored, every 201 one that is; 504 says "unknown" and how to check. */
function checkAnswers(answers: Answer[], rows: Set<string>): Record<number, number> {
  const byStatus: Record<number, number> = {};
  for (const a of answers) {
    byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
    if (a.status === 503)
      expect({ answered: 503, key: a.key, stored: rows.has(a.key) }).toMatchObject({ stored: false });
    if (a.status === 201)
      expect({ answered: 201, key: a.key, stored: rows.has(a.key) }).toMatchObject({ stored: true });
    if (a.status === 504) {
      expect(a.json.outcome).toBe('unknown');
      expect(a.json.advice).toMatch(/duplicate/);
    }
  }
  expect(Object.keys(byStatus).every((s) => ['201', '503', '504'].includes(s))).toBe(true);
  return byStatus;
}

test('a row lock held past the deadline: no 503 answer was stored, the unconfirmed ones say "unknown" (504)', async () => {
  db.sql('UPDATE courses SET seats = 1000, taken = 0 WHERE id IN (7, 8)', 'course_selection');
  // Student 41 holds a registration for course 14, whose drop will wait for the lock below.
  db.sql('DELETE FROM registrations WHERE course_id = 14', 'course_selection');
  db.sql('INSERT INTO registrations (student_id, course_id) VALUES (41, 14)', 'course_selection');
  db.sql('UPDATE courses SET seats = 1000, taken = 1 WHERE id = 14', 'course_selection');
  // One pool connection, so that a request holding it keeps the first batch from going out in time.
  const app: RunningApp = await runServer({
    port: await freePort(),
    db: config,
    limits: { ...DEFAULT_LIMITS, dbTimeoutMs: 1000, dbPoolSize: 1 },
    logLevel: 'silent',
  });
  const url = `http://127.0.0.1:${app.port}`;
  const blocker = await mysql.createConnection(config);
  try {
    // Registrations for course 7 wait for this lock inside the batch routine, after the CALL was sent; those
    // arriving meanwhile wait behind that batch. The lock goes after 2.5 s, when every caller has given up.
    await blocker.query('START TRANSACTION');
    await blocker.query('SELECT * FROM courses WHERE id IN (7, 14) FOR UPDATE');
    // Everyone logs in first (registerDuring finds the cookies), so the timing below is the registrations'.
    await Promise.all(Array.from({ length: 41 }, (_, i) => loginAs(url, 1 + i)));
    // The drop waits for the lock on course 14 on the pool's only connection until its deadline (1 s): the
    // first batch waits for that connection, so the registrations arriving meanwhile wait behind a batch that
    // is sent late and then stalls; the early ones' deadlines pass before a second batch can take them: 503,
    // never sent. (With a connection to spare their deadlines and the batch's ran out together, a race.)
    const drop = postJson(
      `${url}/api/registrations`,
      { studentId: 41, courseId: 14 },
      'DELETE',
      await loginAs(url, 41),
    );
    await sleep(300);
    const answers = await registerDuring(url, [7, 8], 40, 25, async () => {
      await sleep(2500);
      await blocker.query('COMMIT');
    });
    expect((await drop).status).toBe(503);
    await sleep(500); // the routine that waited for the lock has committed by now
    // The 503 of the drop means "not dropped" too: its transaction never reached COMMIT.
    expect(db.sql('SELECT COUNT(*) FROM registrations WHERE course_id = 14', 'course_selection').trim()).toBe('1');
    const rows = stored([7, 8]);
    const byStatus = checkAnswers(answers, rows);
    // The stall hit both kinds: batches sent (unknown, and in fact stored) and items that never went out.
    expect(byStatus[504]).toBeGreaterThan(0);
    expect(byStatus[503]).toBeGreaterThan(0);
    expect(rows.size).toBeGreaterThan(0);
    expect(rows.size).toBeLessThan(40);
  } finally {
    await blocker.end();
    await app.close();
  }
});

test('a stopped database (SIGSTOP) past the deadline: no 503 answer was stored', async () => {
  db.sql('UPDATE courses SET seats = 1000, taken = 0 WHERE id IN (9, 10)', 'course_selection');
  db.sql('DELETE FROM registrations WHERE course_id IN (9, 10)', 'course_selection');
  const app: RunningApp = await runServer({
    port: await freePort(),
    db: config,
    limits: { ...DEFAULT_LIMITS, dbTimeoutMs: 1000 },
    logLevel: 'silent',
  });
  const pid = db.pid;
  try {
    const answers = await registerDuring(`http://127.0.0.1:${app.port}`, [9, 10], 80, 10, async () => {
      await sleep(200); // registrations are flowing
      process.kill(pid, 'SIGSTOP');
      try {
        for (let i = 0; i < 100 && !/^\d+ \(.*\) T /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')); i++)
          await sleep(20);
        await sleep(2000);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
    });
    await sleep(1000); // whatever the server had received and runs after SIGCONT is committed by now
    checkAnswers(answers, stored([9, 10]));
  } finally {
    process.kill(pid, 'SIGCONT');
    await app.close();
  }
});
