import { DbConfig } from '../../app/config';
import { seedPassword } from '../../app/seed-password';
import { seedCourseDatabase } from '../../src/local/course-db';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';

/** A private MariaDB with the reference schema seeded and an app user whose password is made up per run. */
export async function startSeededDb(
  opts: { courses?: number; students?: number } = {},
): Promise<{ db: LocalMariaDb; config: DbConfig }> {
  const db = await startMariaDb();
  return { db, config: await seedCourseDatabase(db, { courses: opts.courses ?? 43, students: opts.students ?? 400 }) };
}

/** An HTTP answer with its body parsed as JSON (or the text): tests read whichever fields the route answers. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers of several shapes, checked by expect
export type JsonAnswer = { status: number; json: any; headers: Headers };

export async function postJson(url: string, body: unknown, method = 'POST', cookie?: string): Promise<JsonAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (cookie) headers.cookie = cookie;
  const res = await fetch(url, { method, headers, body: JSON.stringify(body) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

/**
 * Cookies by student: a session is signed with the database's key, so it is good on every app process sharing the
 * database (which the tests rely on: one login, then requests to other processes).
 */
const sessions = new Map<number, Promise<string>>();

/** The `Cookie` header value of a session for `studentId`, logged in once at `base` with the seed's password. */
export function loginAs(base: string, studentId: number): Promise<string> {
  let cookie = sessions.get(studentId);
  if (!cookie) {
    cookie = (async () => {
      const res = await postJson(`${new URL(base).origin}/api/login`, { studentId, password: seedPassword(studentId) });
      const set = res.headers.get('set-cookie');
      if (res.status !== 200 || !set)
        throw new Error(`login as ${studentId} answered ${res.status}: ${res.json.error}`);
      return set.split(';')[0];
    })();
    cookie.catch(() => sessions.delete(studentId));
    sessions.set(studentId, cookie);
  }
  return cookie;
}

/** The CSRF token the HTML forms of this session carry (read from a course page, as a browser would). */
export async function csrfTokenOf(base: string, cookie: string, courseId = 1): Promise<string> {
  const page = await (await fetch(`${base}/courses/${courseId}`, { headers: { cookie } })).text();
  const m = /name="csrf" value="([\w-]+)"/.exec(page);
  if (!m) throw new Error(`no CSRF token on /courses/${courseId} for this cookie (not logged in?)`);
  return m[1];
}

/** postJson as the student the body names: logged in first (once per student, see loginAs). */
export async function postAs(
  url: string,
  body: { studentId: number; courseId?: number },
  method = 'POST',
): Promise<JsonAnswer> {
  return postJson(url, body, method, await loginAs(url, body.studentId));
}

/** The app's /healthz body: counters and how registrations reach the database. */
export async function healthz(
  base: string,
): Promise<{ status: string; shed: number; dbUnavailable: number; registrations: 'batched' | 'per-request' }> {
  return (await fetch(`${base}/healthz`)).json() as never;
}
