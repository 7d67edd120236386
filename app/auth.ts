/**
 * Login for the course-selection app: a student logs in with their password (scrypt, app/password.ts) and gets a
 * signed session cookie; routes that act for a student (config `actsForStudent`) need it and act only for the
 * student it names.
 *
 * - Session cookie `rh_session=<studentId>.<expires>.<HMAC-SHA256>`: HttpOnly, SameSite=Lax, Path=/, Secure when
 *   the request came over HTTPS (the balancer's X-Forwarded-Proto). Stateless, so any process on any instance
 *   checks it with no database round trip; logging out clears it in the browser, and the expiry (8 h) bounds a
 *   copied one.
 * - The signing key is one row of `rushhour_keys` (migration 3), made of random bytes by the first process that
 *   needs it (INSERT IGNORE: concurrent starters agree on one) and read once per process. Every process and
 *   instance behind the three balancers shares the database, so they share the key with no secret in the
 *   template, the bundle or the user data; whoever can read that row can already read and change every
 *   registration. `RUSHHOUR_SESSION_KEY` (hex or base64, 32 bytes or more) overrides it.
 * - CSRF: the HTML forms carry a synchronizer token, HMAC(csrf key, session cookie), checked on every form post.
 *   The JSON API takes no token (its request shapes stay as they were): a cross-site page cannot send
 *   `Content-Type: application/json` without a CORS preflight, which this app never grants, and SameSite=Lax
 *   keeps the cookie off cross-site POSTs anyway. Every unsafe request (login included, against login CSRF) whose
 *   `Origin` is another host, or whose `Sec-Fetch-Site` says cross-site or same-site, is refused.
 *
 * No @fastify/cookie: it is not among the dependencies, and reading one cookie and setting one takes a few lines.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { z } from 'zod';
import { DbUnavailableError, isDbUnavailable, withDeadline } from './db';
import { loginPage, messagePage, PageSession } from './html';
import { decoyHash, verifyPassword } from './password';

export const SESSION_COOKIE = 'rh_session';
/** The hidden form field that carries the CSRF token. */
export const CSRF_FIELD = 'csrf';
const DEFAULT_TTL_SECONDS = 8 * 3600;
const KEY_NAME = 'session';
const MAX_ID = 4294967295;

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route acts for a student: it needs a session (401), acts for the session's student only (403 if the body
     * names another; the body's `studentId` is filled in when left out), and `'form'` also needs the CSRF token.
     */
    actsForStudent?: 'form' | 'api';
  }
  interface FastifyRequest {
    /** The logged-in student (a valid session cookie), if any. */
    student: number | undefined;
    /** The CSRF token for this session's forms, if logged in. */
    csrfToken: string | undefined;
  }
}

export interface AuthOptions {
  readonly pool: Pool;
  readonly timeoutMs: number;
  /** Hex or base64, at least 32 bytes. @default the `rushhour_keys` row (made on first use) */
  readonly sessionKey?: string;
  /** Session lifetime. @default 8 hours */
  readonly ttlSeconds?: number;
}

/** The session key is missing or unusable (a configuration problem, not a client's). */
export class SessionKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SessionKeyError';
  }
}

interface Keys {
  readonly session: Buffer;
  readonly csrf: Buffer;
}

/** Separate keys per purpose from one secret, so a CSRF token can never pass as a cookie signature. */
function deriveKeys(secret: Buffer): Keys {
  const sub = (label: string) => createHmac('sha256', secret).update(`rushhour ${label} v1`).digest();
  return { session: sub('session cookie'), csrf: sub('csrf token') };
}

export function parseSessionKey(text: string): Buffer {
  const t = text.trim();
  const bytes = /^[0-9a-f]+$/i.test(t) && t.length % 2 === 0 ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (bytes.length < 32)
    throw new SessionKeyError(`RUSHHOUR_SESSION_KEY must be at least 32 bytes, hex or base64 (got ${bytes.length})`);
  return bytes;
}

function mac(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text).digest('base64url');
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A signed cookie value for `studentId`, valid until `expires` (Unix seconds). */
function signSession(keys: Keys, studentId: number, expires: number): string {
  const payload = `${studentId}.${expires}`;
  return `${payload}.${mac(keys.session, payload)}`;
}

/**
 * The cookie value the app would sign with `secret` (the `rushhour_keys` row or RUSHHOUR_SESSION_KEY): for tests
 * that need a cookie the app did not hand out (expired, or signed with another key).
 */
export function sessionCookieValue(secret: Buffer, studentId: number, expires: number): string {
  return signSession(deriveKeys(secret), studentId, expires);
}

/** The student a cookie value names, if its signature is good and it has not expired. */
function verifySession(keys: Keys, value: string, now: number): number | undefined {
  const m = /^([1-9]\d{0,9})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value);
  if (!m || !equal(m[3], mac(keys.session, `${m[1]}.${m[2]}`))) return undefined;
  const student = Number(m[1]);
  return Number(m[2]) > now && student <= MAX_ID ? student : undefined;
}

/** One cookie's value from a Cookie header (RFC 6265 syntax; the first one of that name wins). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function isHttps(req: FastifyRequest): boolean {
  return req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https';
}

function setSessionCookie(req: FastifyRequest, reply: FastifyReply, value: string, maxAge: number): void {
  reply.header(
    'set-cookie',
    `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${isHttps(req) ? '; Secure' : ''}`,
  );
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A browser request made by another site's page: refused for every unsafe method. */
function crossSite(req: FastifyRequest): string | undefined {
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return `Sec-Fetch-Site: ${site}`;
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return `Origin ${origin} is not a URL`;
  }
  return host === req.headers.host ? undefined : `Origin ${origin} is not this site`;
}

const loginBody = z.object({
  studentId: z
    .union([
      z.number(),
      z
        .string()
        .regex(/^[1-9]\d{0,9}$/, 'a student number')
        .transform(Number),
    ])
    .pipe(z.number().int().min(1).max(MAX_ID)),
  password: z.string().min(1).max(256),
});

function wantsJson(req: FastifyRequest): boolean {
  return req.url.startsWith('/api/');
}

/**
 * The login plugin: session parsing on every request, the checks on routes that act for a student, and the
 * login and logout routes. Registered on the root instance before the route plugins (skip-override, as
 * fastify-plugin does), so its hooks cover every route.
 */
const authPlugin: FastifyPluginAsync<AuthOptions> = async (app, options) => {
  const ttl = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  let keys: Keys | undefined = options.sessionKey ? deriveKeys(parseSessionKey(options.sessionKey)) : undefined;
  let loading: Promise<Keys> | undefined;
  /** The keys, read from the database once per process (a failed read is retried by the next request). */
  const getKeys = async (): Promise<Keys> => {
    if (keys) return keys;
    loading ??= loadKey(options.pool, options.timeoutMs).then(
      (secret) => (keys = deriveKeys(secret)),
      (err) => {
        loading = undefined;
        throw err;
      },
    );
    return loading;
  };
  const query = async (sql: string, params: number[]): Promise<RowDataPacket[]> => {
    try {
      const [rows] = await withDeadline(
        options.pool.execute<RowDataPacket[]>({ sql, timeout: options.timeoutMs }, params),
        options.timeoutMs,
      );
      return rows;
    } catch (err) {
      if (isDbUnavailable(err) && !(err instanceof DbUnavailableError))
        throw new DbUnavailableError(`database unavailable: ${(err as Error).message}`, err);
      throw err;
    }
  };

  app.decorateRequest('student', undefined);
  app.decorateRequest('csrfToken', undefined);

  app.addHook('onRequest', async (req, reply) => {
    if (UNSAFE.has(req.method)) {
      const why = crossSite(req);
      if (why) return deny(req, reply, 403, `Cross-site request refused (${why}).`);
    }
    const value = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (value === undefined) return;
    let k: Keys;
    try {
      k = await getKeys();
    } catch (err) {
      // A public page still answers, logged out; a route that needs the session gets the error (503 or 500).
      if (req.routeOptions.config?.actsForStudent) throw err;
      return;
    }
    req.student = verifySession(k, value, Math.floor(Date.now() / 1000));
    if (req.student !== undefined) req.csrfToken = mac(k.csrf, value);
  });

  app.addHook('preValidation', async (req, reply) => {
    const kind = req.routeOptions.config?.actsForStudent;
    if (!kind) return;
    if (req.student === undefined)
      return deny(req, reply, 401, 'Log in first: this needs your student number and password.');
    const body = req.body as Record<string, unknown> | undefined;
    if (kind === 'form') {
      const token = body?.[CSRF_FIELD];
      if (typeof token !== 'string' || !equal(token, req.csrfToken!))
        return deny(req, reply, 403, 'The form expired or did not come from this site: reload the page and try again.');
    } else if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      return deny(req, reply, 415, 'Send the body as application/json.');
    }
    // Left out: the session's student (checked again, after validation, below).
    if (body && typeof body === 'object' && (body.studentId === undefined || body.studentId === ''))
      body.studentId = req.student;
  });

  // After validation, on the value the handler will use (whatever coercion made of the text): only yourself.
  app.addHook('preHandler', async (req, reply) => {
    if (!req.routeOptions.config?.actsForStudent) return;
    const named = (req.body as { studentId?: unknown } | undefined)?.studentId;
    if (named !== req.student)
      return deny(req, reply, 403, `You are logged in as student ${req.student} and can act only for yourself.`);
  });

  /** Checks a student number and password; the cookie value on success. */
  const login = async (req: FastifyRequest, reply: FastifyReply): Promise<number | undefined> => {
    const parsed = loginBody.safeParse(req.body);
    if (!parsed.success) return undefined;
    const { studentId, password } = parsed.data;
    const k = await getKeys();
    const rows = await query('SELECT password_hash FROM student_credentials WHERE student_id = ?', [studentId]);
    const stored = rows[0]?.password_hash as string | undefined;
    const ok = await verifyPassword(password, stored ?? (await decoyHash()));
    if (!ok || !stored) return undefined;
    const expires = Math.floor(Date.now() / 1000) + ttl;
    setSessionCookie(req, reply, signSession(k, studentId, expires), ttl);
    return studentId;
  };
  const refused = 'Wrong student number or password.';

  app.get('/login', async (req, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .send(loginPage(req.student ? `You are logged in as student ${req.student}.` : undefined)),
  );
  app.post('/login', async (req, reply) => {
    const student = await login(req, reply);
    if (student === undefined) return reply.code(401).type('text/html; charset=utf-8').send(loginPage(refused));
    return reply.code(303).header('location', '/courses').send();
  });
  app.post('/api/login', async (req, reply) => {
    const student = await login(req, reply);
    if (student === undefined) return reply.code(401).send({ error: refused });
    return { studentId: student, expiresInSeconds: ttl };
  });
  app.post('/logout', { config: { actsForStudent: 'form' } }, async (req, reply) => {
    setSessionCookie(req, reply, '', 0);
    return reply.code(303).header('location', '/courses').send();
  });
  app.post('/api/logout', async (req, reply) => {
    setSessionCookie(req, reply, '', 0);
    return reply.send({ loggedOut: true });
  });
};
// Hooks and decorators on the root instance, not in an encapsulated child: what fastify-plugin does.
(authPlugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
export { authPlugin };

function deny(req: FastifyRequest, reply: FastifyReply, status: number, message: string): FastifyReply {
  reply.header('cache-control', 'no-store');
  if (wantsJson(req)) return reply.code(status).send({ error: message });
  const page = status === 401 ? loginPage(message) : messagePage(status === 403 ? 'Refused' : 'Bad request', message);
  return reply.code(status).type('text/html; charset=utf-8').send(page);
}

/** The session secret from `rushhour_keys`, made by whichever process asks first. */
async function loadKey(pool: Pool, timeoutMs: number): Promise<Buffer> {
  try {
    await withDeadline(
      pool.query('INSERT IGNORE INTO rushhour_keys (name, secret) VALUES (?, ?)', [KEY_NAME, randomBytes(32)]),
      timeoutMs,
    );
    const [rows] = await withDeadline(
      pool.query<RowDataPacket[]>('SELECT secret FROM rushhour_keys WHERE name = ?', [KEY_NAME]),
      timeoutMs,
    );
    const secret = rows[0]?.secret as Buffer | undefined;
    if (!secret || secret.length < 32) throw new SessionKeyError('rushhour_keys has no usable session key');
    return Buffer.from(secret);
  } catch (err) {
    if ((err as { code?: string }).code === 'ER_NO_SUCH_TABLE')
      throw new SessionKeyError(
        'the database has no rushhour_keys table (a schema before migration 3): run the app once with ' +
          'RUSHHOUR_MIGRATE=true, or set RUSHHOUR_SESSION_KEY (the same on every instance)',
      );
    if (isDbUnavailable(err) && !(err instanceof DbUnavailableError))
      throw new DbUnavailableError(`database unavailable: ${(err as Error).message}`, err);
    throw err;
  }
}

/** The session a page shows (the student and the token its forms carry), if logged in. */
export function pageSession(req: FastifyRequest): PageSession | undefined {
  return req.student !== undefined && req.csrfToken ? { studentId: req.student, csrfToken: req.csrfToken } : undefined;
}
