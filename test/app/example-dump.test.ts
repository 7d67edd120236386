import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { runServer } from '../../app/main';
import { DEFAULT_LIMITS } from '../../app/config';
import { startMariaDb } from '../../src/local/mariadb';
import { freePort } from '../../src/local/ports';
import { healthz, loginAs, postAs } from './support';

const DUMP = path.join(__dirname, '..', '..', 'examples', 'course-selection.sql.gz');

test('examples/course-selection.sql.gz is a real dump of the current schema that the app serves', async () => {
  const sql = zlib.gunzipSync(fs.readFileSync(DUMP)).toString('utf8');
  expect(sql).toMatch(/^\/\*M!999999\\- enable the sandbox mode \*\/|^-- MariaDB dump/);
  const db = await startMariaDb();
  try {
    db.sql('CREATE DATABASE imported');
    execFileSync('mariadb', [...db.clientArgs, 'imported'], { input: sql });
    expect(db.sql('SELECT COUNT(*), SUM(taken) FROM courses', 'imported').trim()).toBe('43\t0');
    expect(Number(db.sql('SELECT COUNT(*) FROM students', 'imported'))).toBeGreaterThanOrEqual(200);
    expect(db.sql('SELECT MAX(version) FROM schema_migrations', 'imported').trim()).toBe('3');
    // Every student has a scrypt hash; no session key travels in the dump (each deployment makes its own).
    expect(db.sql("SELECT COUNT(*) FROM student_credentials WHERE password_hash LIKE '$scrypt$%'", 'imported')).toBe(
      db.sql('SELECT COUNT(*) FROM students', 'imported'),
    );
    expect(db.sql('SELECT COUNT(*) FROM rushhour_keys', 'imported').trim()).toBe('0');
    expect(
      db
        .sql(
          "SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = 'imported' AND routine_name = 'rushhour_register_batch'",
        )
        .trim(),
    ).toBe('1');
    const password = randomBytes(12).toString('hex');
    db.createUser('rushhour_app', password, 'SELECT, INSERT, UPDATE, DELETE ON imported.*');
    const app = await runServer({
      port: await freePort(),
      db: { host: '127.0.0.1', port: db.port, user: 'rushhour_app', password, database: 'imported' },
      limits: DEFAULT_LIMITS,
      logLevel: 'error',
    });
    try {
      const courses = await (await fetch(`http://127.0.0.1:${app.port}/api/courses`)).json();
      expect(courses).toHaveLength(43);
      // The seed's password logs in; the DML-only app user makes the session key row on first use.
      const res = await postAs(`http://127.0.0.1:${app.port}/api/registrations`, { studentId: 1, courseId: 1 });
      expect(res.status).toBe(201);
      expect(db.sql('SELECT COUNT(*) FROM rushhour_keys', 'imported').trim()).toBe('1');
      // DML only, no EXECUTE: the app falls back to one transaction per registration.
      expect((await healthz(`http://127.0.0.1:${app.port}`)).registrations).toBe('per-request');
    } finally {
      await app.close();
    }
    // With EXECUTE (what the import grants when the dump has routines) registrations are group-committed.
    db.sql("GRANT EXECUTE ON imported.* TO 'rushhour_app'@'127.0.0.1'");
    const batched = await runServer({
      port: await freePort(),
      db: { host: '127.0.0.1', port: db.port, user: 'rushhour_app', password, database: 'imported' },
      limits: DEFAULT_LIMITS,
      logLevel: 'error',
    });
    try {
      await loginAs(`http://127.0.0.1:${batched.port}`, 1);
      const post = (studentId: number) =>
        postAs(`http://127.0.0.1:${batched.port}/api/registrations`, { studentId, courseId: 2 });
      expect((await post(1)).status).toBe(201);
      expect((await post(1)).status).toBe(409);
      expect((await healthz(`http://127.0.0.1:${batched.port}`)).registrations).toBe('batched');
    } finally {
      await batched.close();
    }
    expect(
      db.sql('SELECT course_id, COUNT(*) FROM registrations GROUP BY course_id ORDER BY course_id', 'imported').trim(),
    ).toBe('1\t1\n2\t1');
    expect(db.sql('SELECT id, taken FROM courses WHERE taken > 0 ORDER BY id', 'imported').trim()).toBe('1\t1\n2\t1');
  } finally {
    await db.stop();
  }
});
