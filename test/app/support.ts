import { randomBytes } from 'node:crypto';
import { DbConfig } from '../../app/config';
import { createPool, seed } from '../../app/db';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';

/** A private MariaDB with the reference schema seeded and an app user whose password is made up per run. */
export async function startSeededDb(opts: { courses?: number; students?: number } = {}): Promise<{ db: LocalMariaDb; config: DbConfig }> {
  const db = await startMariaDb();
  const password = randomBytes(12).toString('hex');
  db.sql('CREATE DATABASE course_selection');
  db.createUser('rushhour_app', password, 'SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, REFERENCES ON course_selection.*');
  const config: DbConfig = { host: '127.0.0.1', port: db.port, user: 'rushhour_app', password, database: 'course_selection' };
  const pool = createPool(config, { size: 2, queueLimit: 10, timeoutMs: 10000 });
  try {
    await seed(pool, { courses: opts.courses ?? 43, students: opts.students ?? 400 });
  } finally {
    await pool.end();
  }
  return { db, config };
}

export async function postJson(url: string, body: unknown, method = 'POST'): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  let json: unknown;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, json, headers: res.headers };
}
