import * as mysql from 'mysql2/promise';
import { DbConfig } from '../../app/config';
import { CourseStore, createPool, MIGRATIONS } from '../../app/db';
import { LocalMariaDb } from '../../src/local/mariadb';
import { startSeededDb } from './support';

// Group-committed registration (migration 2's routine) against a real MariaDB.
let db: LocalMariaDb;
let config: DbConfig;
let pool: mysql.Pool;

beforeAll(async () => {
  ({ db, config } = await startSeededDb({ courses: 43, students: 400 }));
  pool = createPool(config, { size: 8, queueLimit: 1000, timeoutMs: 10000 });
});

afterAll(async () => {
  await pool?.end();
  await db?.stop();
});

const value = (sql: string) => db.sql(sql, 'course_selection').trim();
const calls = () => Number(value("SHOW GLOBAL STATUS LIKE 'Com_call_procedure'").split('\t')[1]);

test("one batch answers every outcome in the callers' order, and each item keeps the single-transaction rules", async () => {
  db.sql(
    'UPDATE courses SET seats = 2, taken = 0 WHERE id IN (20, 21); UPDATE courses SET seats = 1, taken = 1 WHERE id = 22',
    'course_selection',
  );
  db.sql('INSERT INTO registrations (student_id, course_id) VALUES (7, 22)', 'course_selection');
  const store = new CourseStore(pool, 10000, true);
  const before = calls();
  const attempts: Array<[number, number]> = [
    [1, 21],
    [2, 20],
    [3, 20],
    [4, 20], // course 20 has 2 seats: two of 2, 3, 4 get it
    [1, 21], // the same student twice in one batch
    [7, 22], // already registered (and the course is full)
    [8, 9999], // no such course
    [99999, 21], // no such student
  ];
  const results = await Promise.all(attempts.map(([s, c]) => store.register(s, c)));
  expect(calls() - before).toBeLessThanOrEqual(2); // the first alone, the rest in one batch
  expect(results[0]).toBe('registered');
  expect(results.slice(1, 4).sort()).toEqual(['full', 'registered', 'registered']);
  expect(results[4]).toBe('duplicate');
  expect(results[5]).toBe('full');
  expect(results[6]).toBe('no-such-course');
  expect(results[7]).toBe('no-such-student');
  expect(value('SELECT id, taken FROM courses WHERE id IN (20, 21, 22) ORDER BY id')).toBe('20\t2\n21\t1\n22\t1');
  expect(value('SELECT COUNT(*) FROM registrations WHERE course_id IN (20, 21, 22)')).toBe('4');
});

test('a batch that fails half way leaves nothing behind, and every caller in it gets the error', async () => {
  db.sql('UPDATE courses SET seats = 100, taken = 0 WHERE id IN (30, 31)', 'course_selection');
  const short = createPool(config, { size: 2, queueLimit: 100, timeoutMs: 10000 });
  const blocker = await mysql.createConnection(config);
  try {
    // Course 31's row is locked elsewhere; with a 1 s lock wait the batch fails after course 30's item ran.
    db.sql('SET GLOBAL innodb_lock_wait_timeout = 1');
    await blocker.query('START TRANSACTION');
    await blocker.query('SELECT * FROM courses WHERE id = 31 FOR UPDATE');
    const store = new CourseStore(short, 10000, true);
    const first = store.register(1, 29); // runs alone; the two below go into one batch behind it
    const batch = [store.register(2, 30), store.register(3, 31)];
    await first;
    const settled = await Promise.allSettled(batch);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(String((settled[0] as PromiseRejectedResult).reason)).toMatch(/lock wait timeout|database unavailable/i);
    expect(value('SELECT COUNT(*) FROM registrations WHERE course_id IN (30, 31)')).toBe('0');
    expect(value('SELECT SUM(taken) FROM courses WHERE id IN (30, 31)')).toBe('0');
  } finally {
    await blocker.query('ROLLBACK');
    await blocker.end();
    await short.end();
    db.sql('SET GLOBAL innodb_lock_wait_timeout = 50');
  }
});

test('without the routine (a schema before migration 2) registration falls back to one transaction each', async () => {
  db.sql('DROP PROCEDURE rushhour_register_batch', 'course_selection');
  try {
    db.sql('UPDATE courses SET seats = 5, taken = 0 WHERE id = 40', 'course_selection');
    const store = new CourseStore(pool, 10000, true);
    expect(store.registrationMode).toBe('batched');
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => store.register(100 + i, 40)));
    expect(store.registrationMode).toBe('per-request');
    expect(results.filter((r) => r === 'registered')).toHaveLength(5);
    expect(results.filter((r) => r === 'full')).toHaveLength(25);
    expect(value('SELECT taken FROM courses WHERE id = 40')).toBe('5');
  } finally {
    // Put the routine back the way the migration made it, for any later test in this file.
    await pool.query(MIGRATIONS.find((m) => m.version === 2)!.statements[1]);
  }
});
