/**
 * Hostile tests of the login (issue 16, item 8): on a real MariaDB seeded by the app's own seed, against the real
 * app on loopback. Nobody acts for another student; cookies cannot be made up or edited; the HTML forms need
 * their CSRF token; cross-site requests are refused; the database holds scrypt hashes, not passwords.
 */
import { randomBytes } from 'node:crypto';
import { sessionCookieValue } from '../../app/auth';
import { DbConfig, DEFAULT_LIMITS } from '../../app/config';
import { runServer, RunningApp } from '../../app/main';
import { parsePasswordHash, SCRYPT_COST, verifyPassword } from '../../app/password';
import { seedPassword } from '../../app/seed-password';
import { LocalMariaDb } from '../../src/local/mariadb';
import { freePort } from '../../src/local/ports';
import { loginAs, postJson, startSeededDb } from '../app/support';

const STUDENTS = 30;
let db: LocalMariaDb;
let config: DbConfig;
let app: RunningApp;
let other: RunningApp;
let base: string;
const form = { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' };
const sql = (text: string) => db.sql(text, 'course_selection').trim();
const registrations = (student: number) =>
  Number(sql(`SELECT COUNT(*) FROM registrations WHERE student_id = ${student}`));

beforeAll(async () => {
  ({ db, config } = await startSeededDb({ courses: 10, students: STUDENTS }));
  app = await runServer({ port: await freePort(), db: config, limits: DEFAULT_LIMITS, logLevel: 'error' });
  other = await runServer({ port: await freePort(), db: config, limits: DEFAULT_LIMITS, logLevel: 'error' });
  base = `http://127.0.0.1:${app.port}`;
});

afterAll(async () => {
  await app?.close();
  await other?.close();
  await db?.stop();
});

/** The session key the app made in the database (what a forger would need and does not have). */
const dbKey = () => Buffer.from(sql("SELECT HEX(secret) FROM rushhour_keys WHERE name = 'session'"), 'hex');
const asCookie = (value: string) => `rh_session=${value}`;
const later = () => Math.floor(Date.now() / 1000) + 3600;

test('no session: the API answers 401 and the HTML forms a login page; nothing is written', async () => {
  const api = await postJson(`${base}/api/registrations`, { studentId: 3, courseId: 1 });
  expect([api.status, api.json.error]).toEqual([401, expect.stringMatching(/Log in first/)]);
  expect((await postJson(`${base}/api/registrations`, { studentId: 3, courseId: 1 }, 'DELETE')).status).toBe(401);
  const html = await fetch(`${base}/courses/1/register`, { method: 'POST', headers: form, body: 'studentId=3' });
  expect(html.status).toBe(401);
  expect(await html.text()).toContain('<form method="post" action="/login">');
  expect(registrations(3)).toBe(0);
});

test('a student acts only for themselves: 403 for another student on the API and the forms', async () => {
  const mine = await loginAs(base, 4);
  expect((await postJson(`${base}/api/registrations`, { studentId: 5, courseId: 1 }, 'POST', mine)).status).toBe(403);
  expect((await postJson(`${base}/api/registrations`, { studentId: 4, courseId: 1 }, 'POST', mine)).status).toBe(201);
  // Student 5 registered on their own; 4 cannot drop it for them.
  expect((await postJson(`${base}/api/registrations`, { courseId: 2 }, 'POST', await loginAs(base, 5))).status).toBe(
    201,
  );
  const drop = await postJson(`${base}/api/registrations`, { studentId: 5, courseId: 2 }, 'DELETE', mine);
  expect([drop.status, drop.json.error]).toEqual([
    403,
    'You are logged in as student 4 and can act only for yourself.',
  ]);
  expect(registrations(5)).toBe(1);
  // Text the body schema coerces to 5 ("5.0", " 5") is still student 5.
  for (const studentId of ['5', '5.0', ' 5', 5.0])
    expect((await postJson(`${base}/api/registrations`, { studentId, courseId: 3 }, 'POST', mine)).status).not.toBe(
      201,
    );
  const page = await (await fetch(`${base}/courses/3`, { headers: { cookie: mine } })).text();
  const csrf = /name="csrf" value="([\w-]+)"/.exec(page)![1];
  const res = await fetch(`${base}/courses/3/register`, {
    method: 'POST',
    headers: { ...form, cookie: mine },
    body: `csrf=${csrf}&studentId=5`,
  });
  expect(res.status).toBe(403);
  expect(await res.text()).toContain('can act only for yourself');
  expect(registrations(5)).toBe(1);
  expect(registrations(4)).toBe(1);
});

test('cookies cannot be edited or made up: another id, another signature, expired, another key', async () => {
  const good = (await loginAs(base, 6)).slice('rh_session='.length);
  const [, expires, mac] = good.split('.');
  const attempt = (value: string) =>
    postJson(`${base}/api/registrations`, { courseId: 4 }, 'POST', asCookie(value)).then((r) => r.status);
  expect(await attempt(`7.${expires}.${mac}`)).toBe(401); // student 7 with 6's signature
  expect(await attempt(`6.${Number(expires) + 86400}.${mac}`)).toBe(401); // a longer life
  expect(await attempt(`6.${expires}.${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`)).toBe(401);
  expect(await attempt(`6.${expires}`)).toBe(401);
  expect(await attempt('')).toBe(401);
  expect(await attempt('6')).toBe(401);
  // Signed with the database's key (what the app does, as the positive case shows) but expired: refused.
  expect(await attempt(sessionCookieValue(dbKey(), 8, Math.floor(Date.now() / 1000) - 1))).toBe(401);
  expect(await attempt(sessionCookieValue(randomBytes(32), 8, later()))).toBe(401);
  expect(await attempt(sessionCookieValue(dbKey(), 8, later()))).toBe(201);
  expect(registrations(7)).toBe(0);
  expect(registrations(6)).toBe(0);
});

test('the key is shared through the database: a cookie from one process works on another; a different key does not', async () => {
  const cookie = await loginAs(base, 9);
  const there = await postJson(`http://127.0.0.1:${other.port}/api/registrations`, { courseId: 5 }, 'POST', cookie);
  expect(there.status).toBe(201);
  expect(sql("SELECT COUNT(*) FROM rushhour_keys WHERE name = 'session'")).toBe('1');
  const ownKey = await runServer({
    port: await freePort(),
    db: config,
    limits: DEFAULT_LIMITS,
    logLevel: 'error',
    sessionKey: randomBytes(32).toString('hex'),
  });
  try {
    const url = `http://127.0.0.1:${ownKey.port}/api/registrations`;
    expect((await postJson(url, { courseId: 6 }, 'POST', cookie)).status).toBe(401);
  } finally {
    await ownKey.close();
  }
  await expect(
    runServer({ port: await freePort(), db: config, limits: DEFAULT_LIMITS, sessionKey: 'abcd' }),
  ).rejects.toThrow(/RUSHHOUR_SESSION_KEY must be at least 32 bytes/);
});

test('the HTML forms need the CSRF token of their own session', async () => {
  const mine = await loginAs(base, 10);
  const theirs = await loginAs(base, 11);
  const tokenOf = async (cookie: string) =>
    /name="csrf" value="([\w-]+)"/.exec(await (await fetch(`${base}/courses/7`, { headers: { cookie } })).text())![1];
  const post = (body: string) =>
    fetch(`${base}/courses/7/register`, { method: 'POST', headers: { ...form, cookie: mine }, body }).then(
      (r) => r.status,
    );
  expect(await post('')).toBe(403);
  expect(await post('csrf=')).toBe(403);
  expect(await post(`csrf=${await tokenOf(theirs)}`)).toBe(403);
  expect(await post(`csrf=${(await tokenOf(mine)).slice(1)}`)).toBe(403);
  expect(registrations(10)).toBe(0);
  expect(await post(`csrf=${await tokenOf(mine)}`)).toBe(201);
  // The form's logout needs it too, and clears the cookie.
  const out = await fetch(`${base}/logout`, {
    method: 'POST',
    headers: { ...form, cookie: mine },
    body: `csrf=${await tokenOf(mine)}`,
    redirect: 'manual',
  });
  expect(out.status).toBe(303);
  expect(out.headers.get('set-cookie')).toMatch(/^rh_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Lax$/);
});

test('cross-site requests are refused, with or without a cookie; the API wants JSON', async () => {
  const mine = await loginAs(base, 12);
  const api = (headers: Record<string, string>) =>
    fetch(`${base}/api/registrations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: mine, ...headers },
      body: JSON.stringify({ courseId: 8 }),
    }).then((r) => r.status);
  expect(await api({ origin: 'https://evil.example' })).toBe(403);
  expect(await api({ origin: 'null' })).toBe(403);
  expect(await api({ 'sec-fetch-site': 'cross-site' })).toBe(403);
  expect(await api({ 'sec-fetch-site': 'same-site' })).toBe(403);
  expect(await api({ 'content-type': 'application/x-www-form-urlencoded' })).toBe(415);
  expect(await api({ 'content-type': 'text/plain' })).not.toBe(201);
  expect(registrations(12)).toBe(0);
  // Login CSRF (logging the victim in as the attacker) is a cross-site POST too.
  const login = await fetch(`${base}/login`, {
    method: 'POST',
    headers: { ...form, origin: 'https://evil.example' },
    body: `studentId=12&password=${seedPassword(12)}`,
    redirect: 'manual',
  });
  expect(login.status).toBe(403);
  expect(login.headers.get('set-cookie')).toBeNull();
  // The same site's own page (Origin = this host) is fine.
  expect(await api({ origin: base, 'sec-fetch-site': 'same-origin' })).toBe(201);
});

test('wrong password, unknown student and malformed logins are refused without a cookie', async () => {
  const login = (body: unknown) => postJson(`${base}/api/login`, body);
  for (const body of [
    { studentId: 13, password: 'pw-14' },
    { studentId: 13, password: '' },
    { studentId: 13, password: seedPassword(13).toUpperCase() },
    { studentId: 99999, password: seedPassword(99999) },
    { studentId: 'x', password: 'pw-13' },
    { studentId: 13 },
    { studentId: 13, password: 'a'.repeat(10000) },
  ]) {
    const r = await login(body);
    expect([r.status, r.headers.get('set-cookie')]).toEqual([401, null]);
  }
  const ok = await login({ studentId: 13, password: seedPassword(13) });
  expect(ok.status).toBe(200);
  // Secure when the balancer says the client came over HTTPS.
  const https = await fetch(`${base}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' },
    body: JSON.stringify({ studentId: 13, password: seedPassword(13) }),
  });
  expect(https.headers.get('set-cookie')).toMatch(/; HttpOnly; SameSite=Lax; Secure$/);
});

test('the database holds scrypt hashes with their own salts, never the passwords', async () => {
  const rows = sql('SELECT student_id, password_hash FROM student_credentials ORDER BY student_id')
    .split('\n')
    .map((line) => line.split('\t'));
  expect(rows).toHaveLength(STUDENTS);
  expect(new Set(rows.map((r) => parsePasswordHash(r[1]).salt.toString('hex'))).size).toBe(STUDENTS);
  for (const [id, hash] of rows) {
    expect(hash).toMatch(/^\$scrypt\$ln=11,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(hash).not.toContain(seedPassword(Number(id)));
    expect(parsePasswordHash(hash).cost).toEqual(SCRYPT_COST);
  }
  expect(await verifyPassword(seedPassword(1), rows[0][1])).toBe(true);
  expect(await verifyPassword(seedPassword(2), rows[0][1])).toBe(false);
  // No table or column anywhere in the database holds a seed password as text.
  const dump = db.sql(
    "SELECT CONCAT_WS(',', student_no, name) FROM students UNION ALL SELECT password_hash FROM student_credentials",
    'course_selection',
  );
  expect(dump).not.toMatch(/pw-\d/);
});

test('a schema without the key table: public pages still answer (logged out), writes and logins answer 500', async () => {
  const cookie = await loginAs(base, 14);
  sql('RENAME TABLE rushhour_keys TO rushhour_keys_away');
  const fresh = await runServer({ port: await freePort(), db: config, limits: DEFAULT_LIMITS, logLevel: 'fatal' });
  try {
    const url = `http://127.0.0.1:${fresh.port}`;
    const page = await fetch(`${url}/courses/1`, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<a href="/login">Log in</a>');
    const write = await postJson(`${url}/api/registrations`, { courseId: 9 }, 'POST', cookie);
    expect([write.status, write.json.error]).toEqual([500, 'internal error']);
    expect((await postJson(`${url}/api/login`, { studentId: 14, password: seedPassword(14) })).status).toBe(500);
  } finally {
    sql('RENAME TABLE rushhour_keys_away TO rushhour_keys');
    await fresh.close();
  }
  expect(registrations(14)).toBe(0);
});
