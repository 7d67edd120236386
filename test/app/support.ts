import { DbConfig } from '../../app/config';
import { seedCourseDatabase } from '../../src/local/course-db';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';

/** A private MariaDB with the reference schema seeded and an app user whose password is made up per run. */
export async function startSeededDb(
  opts: { courses?: number; students?: number } = {},
): Promise<{ db: LocalMariaDb; config: DbConfig }> {
  const db = await startMariaDb();
  return { db, config: await seedCourseDatabase(db, { courses: opts.courses ?? 43, students: opts.students ?? 400 }) };
}

export async function postJson(
  url: string,
  body: unknown,
  method = 'POST',
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers of several shapes, checked by expect
): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

/** The app's /healthz body: counters and how registrations reach the database. */
export async function healthz(
  base: string,
): Promise<{ status: string; shed: number; dbUnavailable: number; registrations: 'batched' | 'per-request' }> {
  return (await fetch(`${base}/healthz`)).json() as never;
}
