import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';
import { LocalMoto, startMoto } from '../../src/local/moto';
import { sitePaths } from '../../src/site/layout';
import { PHP_QUEUE_PER_WORKER } from '../../src/site/render';
import {
  Browser,
  TestInstance,
  childPids,
  killTree,
  loadLampDatabase,
  putDbParameters,
  readLogs,
  startInstance,
} from './support';

// The example LAMP site on two "instances" (nginx + php-fpm each, Debian binaries, rendered configs)
// sharing one MariaDB, wired in from SSM + Secrets Manager on moto by the bundled boot step.

let db: LocalMariaDb;
let moto: LocalMoto;
let a: TestInstance;
let b: TestInstance;
const PREFIX = '/rushhour/lamp/db';
const SLOW = '<?php usleep((int) ($_GET["ms"] ?? 1500) * 1000); echo "slept\\n";';
// Pages of the same site for the sessions table's costs: one that starts no session, one that starts the site's
// session and only reads it (use_strict_mode on or off, by query string).
const NO_SESSION = '<?php echo "no session\\n";';
const PEEK =
  "<?php if (isset($_GET['strict'])) ini_set('session.use_strict_mode', '1'); session_name('coursesel'); " +
  "session_start(); echo 'student ', $_SESSION['student_id'] ?? 'none', \"\\n\";";
const site = {
  runtime: 'php',
  documentRoot: 'public',
  configFiles: [{ path: 'config.php', template: 'deploy/config.php.tmpl' }],
  // Two workers: small enough to fill in a test, the shedding is the same at 16.
  phpWorkers: 2,
  retryAfterSeconds: 7,
};

beforeAll(async () => {
  [db, moto] = await Promise.all([startMariaDb(), startMoto()]);
  const app = loadLampDatabase(db, 'courses');
  await putDbParameters(moto, PREFIX, { host: '127.0.0.1', port: db.port, name: 'courses', ...app });
  [a, b] = await Promise.all([
    startInstance({
      site,
      moto,
      ssmPrefix: PREFIX,
      extraFiles: { 'public/slow.php': SLOW, 'public/nosession.php': NO_SESSION, 'public/peek.php': PEEK },
    }),
    startInstance({ site, moto, ssmPrefix: PREFIX }),
  ]);
}, 90000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await Promise.all([db?.stop(), moto?.stop()]);
});

test('the boot step wrote the env file (root, 0600) and config.php (site group only) from SSM + Secrets Manager', () => {
  const p = sitePaths(a.layout);
  const env = fs.statSync(p.envFile);
  expect([env.uid, env.mode & 0o777]).toEqual([0, 0o600]);
  const text = fs.readFileSync(p.envFile, 'utf8');
  for (const name of ['DB_HOST', 'DB_PORT', 'DB_NAME', 'DB_USER', 'DB_PASSWORD', 'RDS_HOSTNAME', 'RDS_PASSWORD'])
    expect(text).toMatch(new RegExp(`^${name}='`, 'm'));
  const config = path.join(a.layout.siteDir, 'config.php');
  const st = fs.statSync(config);
  expect([st.uid, st.mode & 0o777]).toEqual([0, 0o640]);
  expect(fs.readFileSync(config, 'utf8')).toContain(`'db_name' => 'courses'`);
  expect(fs.readFileSync(config, 'utf8')).not.toContain('{{');
  // What an instance's configs hold: no password anywhere but the env file and config.php.
  const password = /^DB_PASSWORD='(.*)'$/m.exec(text)![1];
  for (const f of fs.readdirSync(a.layout.etcDir).filter((f) => f !== 'site.env'))
    expect(fs.readFileSync(path.join(a.layout.etcDir, f), 'utf8')).not.toContain(password);
});

test('log in, list courses, register and drop; the session survives a hop to another instance', async () => {
  const browser = new Browser(a.url);
  const login = await browser.request('/');
  expect(login.status).toBe(200);
  expect(login.text).toContain('Student number');
  const wrong = await browser.request('/index.php', {
    form: { csrf: browser.csrf(login.text), student_no: 'S0000007', password: 'nope' },
  });
  expect(wrong.text).toContain('Wrong student number or password');
  const courses = await browser.go('/index.php', {
    form: { csrf: browser.csrf(wrong.text), student_no: 'S0000007', password: 'pw-S0000007' },
  });
  expect(courses.status).toBe(200);
  expect(courses.text).toContain('Courses for Student 7');
  expect(courses.text.match(/<tr><td>/g)).toHaveLength(43);
  const before = Number(db.sql('SELECT taken FROM courses WHERE id = 5', 'courses'));
  const registered = await browser.go('/register.php', { form: { csrf: browser.csrf(courses.text), course_id: '5' } });
  expect(registered.text).toContain('Registered.');
  expect(Number(db.sql('SELECT taken FROM courses WHERE id = 5', 'courses'))).toBe(before + 1);
  expect(db.sql('SELECT COUNT(*) FROM registrations WHERE student_id = 7 AND course_id = 5', 'courses').trim()).toBe(
    '1',
  );
  const twice = await browser.go('/register.php', { form: { csrf: browser.csrf(courses.text), course_id: '5' } });
  expect(twice.text).toContain('already registered');

  // Same cookie, other instance: the session lives in the database (rushhour's PHP session handler).
  const onB = new Browser(b.url);
  onB.cookies = browser.cookies;
  const there = await onB.request('/courses.php');
  expect(there.status).toBe(200);
  expect(there.text).toContain('Logged in as S0000007 (1 registered)');
  const dropped = await onB.go('/drop.php', { form: { csrf: onB.csrf(there.text), course_id: '5' } });
  expect(dropped.text).toContain('Dropped.');
  expect(Number(db.sql('SELECT taken FROM courses WHERE id = 5', 'courses'))).toBe(before);
  expect(Number(db.sql('SELECT COUNT(*) FROM rushhour_sessions', 'courses'))).toBeGreaterThanOrEqual(1);
});

/** The app user's statements while `fn` runs (MariaDB's general log; root's own statements are left out). */
async function appStatements(fn: () => Promise<unknown>): Promise<Array<[string, string]>> {
  db.sql("SET GLOBAL log_output = 'TABLE'; TRUNCATE mysql.general_log; SET GLOBAL general_log = 1;");
  try {
    await fn();
  } finally {
    db.sql('SET GLOBAL general_log = 0');
  }
  return db
    .sql(
      "SELECT command_type, CONVERT(argument USING utf8mb4) FROM mysql.general_log WHERE user_host LIKE 'lamp\\_app%' ORDER BY event_time",
    )
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t') as [string, string]);
}
const onSessions = (rows: Array<[string, string]>) => rows.filter(([, q]) => q.includes('rushhour_sessions'));

test('sessions cost what they must: nothing without session_start, one SELECT and no write for a read-only page', async () => {
  const browser = new Browser(a.url);
  const login = await browser.request('/');
  await browser.go('/index.php', {
    form: { csrf: browser.csrf(login.text), student_no: 'S0000011', password: 'pw-S0000011' },
  });
  // The first list clears the login's leftovers (a changed session is written, as it must be).
  expect((await browser.request('/courses.php')).text).toContain('Courses for Student 11');
  const rowsBefore = db.sql('SELECT id, data, expires_at FROM rushhour_sessions ORDER BY id', 'courses');

  // A PHP page that starts no session does not connect for sessions (nor at all: the page uses no database).
  const plain = await appStatements(async () => expect((await browser.request('/nosession.php')).status).toBe(200));
  expect(plain).toEqual([]);

  // A logged-in, read-only page: one SELECT of the session by its primary key, no write.
  let page = '';
  const list = await appStatements(async () => (page = (await browser.request('/courses.php')).text));
  expect(page).toContain('Courses for Student 11');
  expect(onSessions(list)).toEqual([
    ['Query', expect.stringMatching(/^SELECT data, expires_at FROM rushhour_sessions WHERE id = '[^']+' AND /)],
  ]);
  expect(list.filter(([, q]) => /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i.test(q) && q.includes('rushhour'))).toEqual([]);
  // With session.use_strict_mode PHP validates the id and then reads it: still one SELECT.
  let strict = '';
  const strictRows = await appStatements(async () => (strict = (await browser.request('/peek.php?strict=1')).text));
  expect(strict).toBe('student 11\n');
  expect(onSessions(strictRows)).toHaveLength(1);
  expect(db.sql('SELECT id, data, expires_at FROM rushhour_sessions ORDER BY id', 'courses')).toBe(rowsBefore);

  // A new visitor on a page that starts a session and stores nothing: a SELECT, no row, no commit.
  const visitor = new Browser(a.url);
  const anon = await appStatements(async () =>
    expect((await visitor.request('/peek.php')).text).toBe('student none\n'),
  );
  expect(onSessions(anon).map(([, q]) => q.split(' ')[0])).toEqual(['SELECT']);
  expect(db.sql('SELECT id, data, expires_at FROM rushhour_sessions ORDER BY id', 'courses')).toBe(rowsBefore);
});

test('nginx serves static files itself, hides dotfiles and everything outside the document root', async () => {
  const css = await fetch(`${a.url}/style.css`);
  expect(css.status).toBe(200);
  expect(css.headers.get('content-type')).toContain('text/css');
  expect((await fetch(`${a.url}/.htaccess`)).status).toBe(404);
  expect((await fetch(`${a.url}/config.php`)).status).toBe(404);
  expect((await fetch(`${a.url}/../deploy/config.php.tmpl`)).status).toBe(404);
  const log = fs.readFileSync(path.join(a.layout.logDir, 'nginx-access.log'), 'utf8');
  expect(log).toMatch(/"GET \/style.css HTTP\/1.1" 200 \d+ rt=\d+\.\d{3} ut=-/);
});

test('beyond capacity: 503 + Retry-After at once with a self-refreshing page, while admitted requests finish', async () => {
  // The front door admits the 2 workers' requests and PHP_QUEUE_PER_WORKER more per worker (they wait in php-fpm's
  // backlog); the next one is shed.
  const admitted = 2 * (1 + PHP_QUEUE_PER_WORKER);
  const slow = Array.from({ length: admitted }, () =>
    fetch(`${a.url}/slow.php?ms=1000`).then(async (r) => [r.status, await r.text()]),
  );
  await new Promise((r) => setTimeout(r, 400));
  const t0 = Date.now();
  const shed = await fetch(`${a.url}/slow.php?ms=10`);
  const elapsed = Date.now() - t0;
  expect(shed.status).toBe(503);
  expect(shed.headers.get('retry-after')).toBe('7');
  expect(await shed.text()).toContain('<meta http-equiv="refresh" content="7">');
  expect(elapsed).toBeLessThan(300);
  // The health check is not shed: its own pool answers while the site pool is full.
  expect((await fetch(`${a.url}/healthz`)).status).toBe(200);
  expect(await Promise.all(slow)).toEqual(Array.from({ length: admitted }, () => [200, 'slept\n']));
  expect((await fetch(`${a.url}/slow.php?ms=10`)).status).toBe(200);
});

test('slow-body clients take no worker and are cut off, while real requests are served', async () => {
  // 20 clients send headers and a trickle of a declared 1000-byte body (slowloris-style). With request
  // buffering nginx holds them itself; the 2 php-fpm workers stay free for real requests.
  const sockets = await Promise.all(
    Array.from(
      { length: 20 },
      () =>
        new Promise<net.Socket>((resolve) => {
          const s = net.connect(a.port, '127.0.0.1', () => {
            s.write(
              'POST /slow.php?ms=10 HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nab',
            );
            resolve(s);
          });
          s.on('error', () => undefined);
        }),
    ),
  );
  const closed = sockets.map((s) => new Promise<number>((r) => s.once('close', () => r(Date.now()))));
  const t0 = Date.now();
  for (let i = 0; i < 5; i++) expect((await fetch(`${a.url}/slow.php?ms=10`)).status).toBe(200);
  // client_body_timeout (10 s) closes every slow client.
  const times = await Promise.all(closed);
  expect(Math.max(...times) - t0).toBeLessThan(13000);
  expect(Math.min(...times) - t0).toBeGreaterThan(8000);
}, 30000);

test('the health path answers while the database is hung, and fails once php-fpm is dead', async () => {
  process.kill(db.pid, 'SIGSTOP');
  try {
    const t0 = Date.now();
    const r = await fetch(`${b.url}/healthz`);
    expect(r.status).toBe(200);
    expect(await r.text()).toMatch(/^ok php 8\./);
    expect(Date.now() - t0).toBeLessThan(1000);
  } finally {
    process.kill(db.pid, 'SIGCONT');
  }
  const fpm = b.processes['rushhour-site'];
  // The sizing rule's per-worker budget (src/site/sizing.ts) against what the example site's workers use.
  const rss = childPids(fpm.pid!)
    .filter((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('pool site'))
    .map((p) => Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))![1]) / 1024);
  console.log(`php-fpm site pool workers after the example pages: RSS ${rss.map((r) => r.toFixed(1)).join(', ')} MiB`);
  expect(Math.max(...rss)).toBeLessThan(48);
  // SIGKILL the master and its workers (what a crash leaves: no PHP answering the socket).
  await killTree(fpm);
  const down = await fetch(`${b.url}/healthz`);
  expect(down.status).not.toBe(200);
  if (down.status === 200) console.log(readLogs(b.layout.logDir));
});
