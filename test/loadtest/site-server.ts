/**
 * A small site shaped like a PHP one, for the site scenario's tests: a session cookie, a CSRF token in every
 * form, log in, a course page, register and drop as form posts answered by a redirect to the course page
 * with a flash message, on a real MariaDB. Faults on request: lose every n-th acknowledged registration
 * (acknowledge it, write nothing), shed every n-th request at a "front door" (503 with Retry-After), or
 * answer every n-th with a bare 500.
 */
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as mysql from 'mysql2/promise';
import { LocalMariaDb } from '../../src/local/mariadb';
import { freePort } from '../../src/local/ports';

export interface SiteFaults {
  /** Acknowledge every n-th registration without writing it. */
  loseEvery?: number;
  /** Shed every n-th request (503 + Retry-After) before it reaches the "application". */
  shedEvery?: number;
  /** Answer every n-th request with a 500 (no Retry-After). */
  failEvery?: number;
}

export interface TestSite {
  readonly url: string;
  readonly faults: SiteFaults;
  count(sql: string): Promise<number>;
  stop(): Promise<void>;
}

export const STUDENTS = 50;
export const COURSES = 10;

export async function startTestSite(db: LocalMariaDb, database: string): Promise<TestSite> {
  db.sql(`CREATE DATABASE ${database}`);
  db.sql(
    `CREATE TABLE registrations (student_id INT NOT NULL, course_id INT NOT NULL, PRIMARY KEY (student_id, course_id));
     CREATE TABLE feedback (id INT AUTO_INCREMENT PRIMARY KEY, author VARCHAR(80) NOT NULL, topic VARCHAR(40) NOT NULL)`,
    database,
  );
  const password = randomBytes(9).toString('hex');
  db.createUser(`${database}_app`, password, `SELECT, INSERT, DELETE ON ${database}.*`);
  const pool = mysql.createPool({
    host: '127.0.0.1',
    port: db.port,
    user: `${database}_app`,
    password,
    database,
    connectionLimit: 8,
  });
  const sessions = new Map<string, { csrf: string; student?: number; flash?: string }>();
  const faults: SiteFaults = {};
  let requests = 0;
  let registrations = 0;

  const page = (res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
    res.end(`<!doctype html><html><body>${body}</body></html>\n`);
  };
  const redirect = (res: http.ServerResponse, to: string) => {
    res.writeHead(302, { location: to });
    res.end();
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, body: string) => {
    requests += 1;
    if (faults.shedEvery && requests % faults.shedEvery === 0) return page(res, 503, 'busy', { 'retry-after': '2' });
    if (faults.failEvery && requests % faults.failEvery === 0) return page(res, 500, 'internal error');
    const url = new URL(req.url ?? '/', 'http://x');
    const sid = /(?:^|;\s*)sid=([0-9a-f]+)/.exec(req.headers.cookie ?? '')?.[1];
    let session = sid ? sessions.get(sid) : undefined;
    const headers: Record<string, string> = {};
    if (!session) {
      const id = randomBytes(8).toString('hex');
      session = { csrf: randomBytes(8).toString('hex') };
      sessions.set(id, session);
      headers['set-cookie'] = `sid=${id}; Path=/; HttpOnly`;
    }
    const form = new URLSearchParams(body);
    const csrfOk = req.method === 'POST' && form.get('csrf') === session.csrf;
    const csrfField = `<input type="hidden" name="csrf" value="${session.csrf}">`;
    if (url.pathname === '/login') {
      if (req.method === 'POST') {
        if (!csrfOk) return page(res, 400, 'bad request', headers);
        const m = /^S(\d{4})$/.exec(form.get('student_no') ?? '');
        if (m && Number(m[1]) >= 1 && Number(m[1]) <= STUDENTS && form.get('password') === `pw-${m[0]}`) {
          session.student = Number(m[1]);
          res.setHeader('set-cookie', headers['set-cookie'] ?? []);
          return redirect(res, 'courses');
        }
        return page(res, 200, '<p>Wrong student number or password.</p>', headers);
      }
      return page(res, 200, `<form method="post">${csrfField}<input name="student_no"></form>`, headers);
    }
    if (!session.student) return redirect(res, '/login');
    const me = session.student;
    if (url.pathname === '/courses') {
      const [rows] = await pool.query('SELECT course_id FROM registrations WHERE student_id = ?', [me]);
      const mine = (rows as { course_id: number }[]).map((r) => r.course_id);
      const flash = session.flash ? `<p class="flash">${session.flash}</p>` : '';
      session.flash = undefined;
      const drops = mine.map((c) => `<form action="/drop">${csrfField}<input name="course_id" value="${c}"></form>`);
      return page(res, 200, `${flash}<h1>Courses for S${me}</h1>${drops.join('')}`, headers);
    }
    if (url.pathname === '/register' || url.pathname === '/drop' || url.pathname === '/feedback') {
      if (!csrfOk) return page(res, 400, 'bad request', headers);
      if (url.pathname === '/feedback') {
        await pool.query('INSERT INTO feedback (author, topic) VALUES (?, ?)', [form.get('author'), form.get('topic')]);
        return page(res, 201, 'Thanks for your feedback.', headers);
      }
      const course = Number(form.get('course_id'));
      if (url.pathname === '/register') {
        registrations += 1;
        if (faults.loseEvery && registrations % faults.loseEvery === 0) session.flash = 'Registered.';
        else {
          const [r] = await pool.query('INSERT IGNORE INTO registrations VALUES (?, ?)', [me, course]);
          session.flash =
            (r as mysql.ResultSetHeader).affectedRows === 1 ? 'Registered.' : 'You are already registered.';
        }
      } else {
        const [r] = await pool.query('DELETE FROM registrations WHERE student_id = ? AND course_id = ?', [me, course]);
        session.flash = (r as mysql.ResultSetHeader).affectedRows === 1 ? 'Dropped.' : 'You were not registered.';
      }
      return redirect(res, '/courses');
    }
    return page(res, 404, 'not found', headers);
  };

  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      handle(req, res, body).catch((err: Error) => page(res, 500, `error: ${err.message}`));
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    faults,
    count: async (sql) => {
      const [rows] = await pool.query({ sql, rowsAsArray: true });
      return Number((rows as unknown[][])[0][0]);
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}
