import * as http from 'node:http';
import Fastify, { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Pool } from 'mysql2/promise';
import { z } from 'zod';
import { authPlugin, pageSession } from './auth';
import { AppLimits, DEFAULT_LIMITS } from './config';
import { Course, CourseStore, DbUnavailableError, isDbUnavailable, OutcomeUnknownError, RegisterResult } from './db';
import { courseDetailPage, courseListPage, messagePage, queuePage } from './html';
import { busyResponder, LagShedder, retryUrlFor, wantsHtmlRaw } from './shed';

export interface AppOptions {
  readonly pool: Pool;
  readonly limits?: Partial<AppLimits>;
  /**
   * Share course-list reads among concurrent views and group access rows into multi-row INSERTs
   * (no staleness: see app/coalesce.ts). @default true
   */
  readonly coalesce?: boolean;
  /** Fastify/pino log level. @default 'warn' */
  readonly logLevel?: string;
  /** Session signing key (RUSHHOUR_SESSION_KEY). @default the database's `rushhour_keys` row (app/auth.ts) */
  readonly sessionKey?: string;
}

/** Counters exposed on /healthz, so a load test can see shedding without scraping logs. */
export interface AppStats {
  inFlight: number;
  shed: number;
  dbUnavailable: number;
  /** Answers 504 `outcome: "unknown"`: the commit was sent, its answer did not come in time. */
  outcomeUnknown: number;
  /** Of `shed`, those shed for event-loop lag (the process short of CPU). */
  shedForLag: number;
}

/** Answered even when the app is saturated: a load balancer must not take a busy instance out of service. */
const HEALTHZ = '/healthz';
const READYZ = '/readyz';
const HEALTH_PATHS: ReadonlySet<string> = new Set([HEALTHZ, READYZ]);

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Route answers even when the app is saturated (not counted by the in-flight limit). */
    unlimited?: boolean;
  }
}

/** Row ids are INT UNSIGNED; 0 is never an id. */
const MAX_ID = 4294967295;

/**
 * A database id: a JSON integer, or the canonical decimal digits a form field or path segment carries, from 1
 * to MAX_ID. Nothing else is read as a number: ajv's type coercion turned "Infinity", "1e400" and "0x10" into
 * numbers (the first two into Infinity, which JSON.stringify sends to the batch routine as null).
 */
const dbId = z.unknown().transform((value, ctx) => {
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^[1-9][0-9]{0,9}$/.test(value)
        ? Number(value)
        : NaN;
  if (Number.isSafeInteger(n) && n >= 1 && n <= MAX_ID) return n;
  ctx.addIssue({ code: 'custom', message: `must be an integer from 1 to ${MAX_ID}` });
  return z.NEVER;
});
const registrationBody = z.strictObject({ studentId: dbId, courseId: dbId });
const idParams = z.object({ id: dbId });
const studentBody = z.object({ studentId: dbId });

/** Route schemas are zod schemas; a failed parse is a 400 naming the part and the field. */
function zodValidator({ schema, httpPart }: { schema: unknown; httpPart?: string }) {
  if (!(schema instanceof z.ZodType)) throw new Error(`route schemas must be zod schemas (${httpPart ?? 'schema'})`);
  return (data: unknown) => {
    const parsed = schema.safeParse(data);
    if (parsed.success) return { value: parsed.data };
    const message = parsed.error.issues
      .map((i) => `${[httpPart, ...i.path.map(String)].filter(Boolean).join('/')} ${i.message}`)
      .join('; ');
    return { error: Object.assign(new Error(message), { name: 'ValidationError' }) };
  };
}

/** What the route plugins share: the store, the limits (Retry-After) and the counters (/healthz). */
interface RouteContext {
  readonly store: CourseStore;
  readonly limits: AppLimits;
  readonly stats: AppStats;
}

/**
 * The course-selection app: overload protection and error mapping on the root instance, routes as plugins by
 * concern (health, pages, API), which inherit the root's hooks and error handler. Listening and shutdown are
 * the caller's.
 */
export function buildApp(options: AppOptions): { app: FastifyInstance; stats: AppStats } {
  const limits: AppLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const store = new CourseStore(options.pool, limits.dbTimeoutMs, options.coalesce ?? true);
  const stats: AppStats = { inFlight: 0, shed: 0, dbUnavailable: 0, outcomeUnknown: 0, shedForLag: 0 };
  const lag = new LagShedder(limits.maxLagMs);
  const app = Fastify({
    serverFactory: (handler) => shedBeforeFastify(handler, limits, stats, lag),
    logger: { level: options.logLevel ?? 'warn' },
    // Keep-alive connections that sit idle are closed on shutdown; busy ones finish first.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    bodyLimit: 16 * 1024,
  });
  app.setValidatorCompiler(zodValidator);

  // HTML forms post application/x-www-form-urlencoded; no extra plugin needed for two fields.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  closeConnectionsWhileDraining(app);
  limitInFlight(app, limits, stats);
  if (limits.maxLagMs > 0) {
    lag.start();
    app.addHook('onClose', (_app, done) => {
      lag.stop();
      done();
    });
  }
  app.setErrorHandler(errorHandler(limits, stats));

  const context: RouteContext = { store, limits, stats };
  // Before the routes: its hooks (sessions, CSRF, "only for yourself") cover all of them.
  app.register(authPlugin, { pool: options.pool, timeoutMs: limits.dbTimeoutMs, sessionKey: options.sessionKey });
  app.register(healthRoutes, context);
  app.register(pageRoutes, context);
  app.register(apiRoutes, context);
  return { app, stats };
}

/**
 * While draining, answers carry `Connection: close` so keep-alive sockets end with their last response
 * instead of holding shutdown open until the keep-alive timeout.
 */
function closeConnectionsWhileDraining(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
}

/**
 * The node:http server, with timeouts for slow clients, and shedding before Fastify sees the request: the 503
 * is written from bytes prepared once, so at twice the capacity the shed requests cost little of the CPU the
 * served ones need. Shed are requests beyond the in-flight limit and, while the event loop lags (the process is
 * short of CPU), a share of the new ones. The health paths are never shed.
 */
function shedBeforeFastify(
  handler: http.RequestListener,
  limits: AppLimits,
  stats: AppStats,
  lag: LagShedder,
): http.Server {
  const busy = busyResponder(limits.retryAfterSeconds);
  const server = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // How often node checks those two timeouts (default 30 s, which would let a slow body run 40 s).
      connectionsCheckingInterval: 1000,
    },
    (req, res) => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      if (!HEALTH_PATHS.has(q < 0 ? url : url.slice(0, q))) {
        if (stats.inFlight >= limits.maxInFlight) {
          stats.shed++;
          return busy(req, res);
        }
        if (limits.maxLagMs > 0 && !lag.admit()) {
          stats.shed++;
          stats.shedForLag++;
          return busy(req, res);
        }
      }
      handler(req, res);
    },
  );
  // Fastify's defaults, which it does not apply to a server it did not make: keep-alive longer than a load
  // balancer's idle timeout (60 s on ALB), so the balancer closes first.
  server.keepAliveTimeout = 72000;
  return server;
}

/**
 * Overload protection: a fixed number of requests in flight, counted once the body has arrived (a client that
 * sends its body slowly holds a socket, not a slot; the request timeout ends it). Beyond the limit 503 +
 * Retry-After at once, here or already before Fastify (above), so that admitted requests finish fast.
 */
function limitInFlight(app: FastifyInstance, limits: AppLimits, stats: AppStats): void {
  app.addHook('preHandler', (req, reply, done) => {
    if (req.routeOptions.config?.unlimited) return done();
    if (stats.inFlight >= limits.maxInFlight) {
      stats.shed++;
      sendBusy(req, reply, limits.retryAfterSeconds);
      return;
    }
    stats.inFlight++;
    reply.raw.once('close', () => {
      stats.inFlight--;
    });
    done();
  });
}

/**
 * Database unavailable: 503, nothing was changed (logged once a second at most); the commit was sent but not
 * confirmed in time: 504 with `outcome: "unknown"`; client errors: 4xx with the message; else 500.
 */
function errorHandler(limits: AppLimits, stats: AppStats) {
  let lastDbLog = 0;
  let loggedDbUnavailable = 0;
  return (err: Error & { statusCode?: number; validation?: unknown }, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof OutcomeUnknownError) {
      stats.outcomeUnknown++;
      req.log.warn({ err: err.message, url: req.url }, 'commit not confirmed in time, answering 504 outcome unknown');
      reply.code(504).header('cache-control', 'no-store');
      return wantsHtml(req)
        ? reply.type('text/html; charset=utf-8').send(messagePage('Not confirmed yet', OUTCOME_UNKNOWN.advice))
        : reply.send(OUTCOME_UNKNOWN);
    }
    if (isDbUnavailable(err)) {
      stats.dbUnavailable++;
      // One line per second at most: an outage under load must not turn into a log flood.
      const now = Date.now();
      if (now - lastDbLog >= 1000) {
        req.log.warn(
          { err: err.message, since: stats.dbUnavailable - loggedDbUnavailable },
          'database unavailable, answering 503',
        );
        lastDbLog = now;
        loggedDbUnavailable = stats.dbUnavailable;
      }
      return sendBusy(req, reply, limits.retryAfterSeconds);
    }
    if (err.validation || (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)) {
      const status = err.statusCode ?? 400;
      return wantsHtml(req)
        ? reply.code(status).type('text/html').send(messagePage('Bad request', err.message))
        : reply.code(status).send({ error: err.message });
    }
    req.log.error(err);
    return reply.code(500).send({ error: 'internal error' });
  };
}

/**
 * Requests that shared one coalesced read also share its rendered bytes (a fresh read, a fresh render). One
 * cache per rendering: a page and the JSON list may share the same read, never the same bytes.
 */
function sharedRendering(render: (courses: Course[]) => string): (courses: Course[]) => Buffer {
  const rendered = new WeakMap<Course[], Buffer>();
  return (courses) => {
    let bytes = rendered.get(courses);
    if (!bytes) rendered.set(courses, (bytes = Buffer.from(render(courses))));
    return bytes;
  };
}

/** /healthz (counters) and /readyz (database reachable): answered even when the app is saturated. */
const healthRoutes: FastifyPluginAsync<RouteContext> = async (app, { store, stats, limits }) => {
  app.get(HEALTHZ, { config: { unlimited: true } }, async () => ({
    status: 'ok',
    ...stats,
    registrations: store.registrationMode,
    registrationBatches: store.batches.calls,
    registrationsBatched: store.batches.registrations,
  }));

  app.get(READYZ, { config: { unlimited: true } }, async (req, reply) => {
    try {
      await store.ping();
      return { status: 'ready' };
    } catch (err) {
      // The driver's message names the user, host and port ("Access denied for user ...", "connect
      // ECONNREFUSED ..."): for the log, not for any client that asks.
      req.log.warn({ err: (err as Error).message }, 'readiness check failed');
      return reply
        .code(503)
        .header('retry-after', String(limits.retryAfterSeconds))
        .send({ status: 'not ready', reason: 'database unavailable' });
    }
  });
};

/** The HTML pages: the course list, a course, and the forms that register and drop (no JavaScript needed). */
const pageRoutes: FastifyPluginAsync<RouteContext> = async (app, { store }) => {
  const listBytes = sharedRendering(courseListPage);
  const listHtml = async (_req: FastifyRequest, reply: FastifyReply) => {
    const courses = await store.listCoursesAndRecordView('courses');
    return reply.type('text/html; charset=utf-8').send(listBytes(courses));
  };
  app.get('/', listHtml);
  app.get('/courses', listHtml);

  /** The course's page with `message` (or 404 if there is no such course). */
  const coursePage = async (reply: FastifyReply, id: number, status = 200, message?: string) => {
    const course = await store.course(id);
    if (!course)
      return reply
        .code(404)
        .type('text/html; charset=utf-8')
        .send(messagePage('No such course', `There is no course ${id}.`));
    return reply
      .code(status)
      .type('text/html; charset=utf-8')
      .send(courseDetailPage(course, message, pageSession(reply.request)));
  };

  app.get<{ Params: { id: number } }>('/courses/:id', { schema: { params: idParams } }, async (req, reply) =>
    coursePage(reply, req.params.id),
  );

  app.post<{ Params: { id: number }; Body: { studentId: number } }>(
    '/courses/:id/register',
    { schema: { params: idParams, body: studentBody }, config: { actsForStudent: 'form' } },
    async (req, reply) => {
      const result = await store.register(req.body.studentId, req.params.id);
      try {
        return await coursePage(reply, req.params.id, REGISTER_STATUS[result], REGISTER_MESSAGE[result]);
      } catch (err) {
        // The registration is done: a failed page read must not turn it into a 503 ("not registered").
        if (!isDbUnavailable(err)) throw err;
        return reply
          .code(REGISTER_STATUS[result])
          .type('text/html; charset=utf-8')
          .send(messagePage('Registration', REGISTER_MESSAGE[result]));
      }
    },
  );

  app.post<{ Params: { id: number }; Body: { studentId: number } }>(
    '/courses/:id/drop',
    { schema: { params: idParams, body: studentBody }, config: { actsForStudent: 'form' } },
    async (req, reply) => {
      const result = await store.drop(req.body.studentId, req.params.id);
      const dropped = result === 'dropped';
      return coursePage(
        reply,
        req.params.id,
        dropped ? 200 : 404,
        dropped ? 'You dropped this course.' : 'You were not registered for this course.',
      );
    },
  );
};

/** The JSON API under /api: courses, and registrations to add and remove. */
const apiRoutes: FastifyPluginAsync<RouteContext> = async (app, { store }) => {
  const listJson = sharedRendering(JSON.stringify);
  app.get('/api/courses', async (_req, reply) => {
    const courses = await store.listCoursesShared();
    return reply.type('application/json; charset=utf-8').send(listJson(courses));
  });

  app.get<{ Params: { id: number } }>('/api/courses/:id', { schema: { params: idParams } }, async (req, reply) => {
    const course = await store.course(req.params.id);
    if (!course) return reply.code(404).send({ error: `no course with id ${req.params.id}` });
    const { id, code, title, seats, taken, teacher, description } = course;
    return { id, code, title, seats, taken, teacher, description };
  });

  app.post<{ Body: { studentId: number; courseId: number } }>(
    '/api/registrations',
    { schema: { body: registrationBody }, config: { actsForStudent: 'api' } },
    async (req, reply) => {
      const { studentId, courseId } = req.body;
      const result = await store.register(studentId, courseId);
      return reply
        .code(REGISTER_STATUS[result])
        .send({ result, studentId, courseId, message: REGISTER_MESSAGE[result] });
    },
  );

  app.delete<{ Body: { studentId: number; courseId: number } }>(
    '/api/registrations',
    { schema: { body: registrationBody }, config: { actsForStudent: 'api' } },
    async (req, reply) => {
      const { studentId, courseId } = req.body;
      const result = await store.drop(studentId, courseId);
      return reply.code(result === 'dropped' ? 200 : 404).send({ result, studentId, courseId });
    },
  );
};

const REGISTER_STATUS: Record<RegisterResult, number> = {
  registered: 201,
  full: 409,
  duplicate: 409,
  'no-such-course': 404,
  'no-such-student': 404,
};
const REGISTER_MESSAGE: Record<RegisterResult, string> = {
  registered: 'You are registered for this course.',
  full: 'This course is full.',
  duplicate: 'You are already registered for this course.',
  'no-such-course': 'There is no such course.',
  'no-such-student': 'There is no student with this number.',
};

/**
 * The 504 body: a 503 means "nothing changed, retry"; this one means "it may have happened", so a client checks
 * before it acts again. Registering again is safe: it answers 409 `duplicate` if the first one was stored.
 */
const OUTCOME_UNKNOWN = {
  outcome: 'unknown',
  error: 'the database did not confirm the change in time; it may or may not have been stored',
  advice:
    'Do not assume it failed: check the course (GET /api/courses/:id) or send the same request again, ' +
    'which answers 409 "duplicate" (registration) or 404 (drop) if the first one was stored.',
} as const;

function wantsHtml(req: FastifyRequest): boolean {
  return wantsHtmlRaw(req.url, req.headers.accept);
}

/** 503 with Retry-After: a self-refreshing queue page for browsers, JSON for API clients. */
function sendBusy(req: FastifyRequest, reply: FastifyReply, retryAfterSeconds: number): FastifyReply {
  reply.code(503).header('retry-after', String(retryAfterSeconds)).header('cache-control', 'no-store');
  if (wantsHtml(req)) {
    return reply.type('text/html; charset=utf-8').send(queuePage(retryAfterSeconds, retryUrlFor(req.method, req.url)));
  }
  return reply.send({ error: 'overloaded, retry later', retryAfterSeconds });
}

export { DbUnavailableError };
