import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { runServer } from '../../app/main';
import { DEFAULT_LIMITS } from '../../app/config';
import { startMariaDb } from '../../src/local/mariadb';
import { freePort } from '../../src/local/ports';

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
    expect(db.sql('SELECT MAX(version) FROM schema_migrations', 'imported').trim()).toBe('1');
    const password = randomBytes(12).toString('hex');
    db.createUser('rushhour_app', password, 'SELECT, INSERT, UPDATE, DELETE ON imported.*');
    const app = await runServer({
      port: await freePort(), db: { host: '127.0.0.1', port: db.port, user: 'rushhour_app', password, database: 'imported' },
      limits: DEFAULT_LIMITS, logLevel: 'error',
    });
    try {
      const courses = await (await fetch(`http://127.0.0.1:${app.port}/api/courses`)).json();
      expect(courses).toHaveLength(43);
      const res = await fetch(`http://127.0.0.1:${app.port}/api/registrations`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ studentId: 1, courseId: 1 }),
      });
      expect(res.status).toBe(201);
    } finally {
      await app.close();
    }
  } finally {
    await db.stop();
  }
});
