import Fastify, { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Pool } from 'mysql2/promise';
import { authPlugin, pageSession } from './auth';
import { AppLimits, DEFAULT_LIMITS } from './config';
import { Course, CourseStore, DbUnavailableError, isDbUnavailable, RegisterResult } from './db';
import { courseDetailPage, courseListPage, messagePage, queuePage } from './html';

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
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Route answers even when the app is saturated (not counted by the in-flight limit). */
    unlimited?: boolean;
  }
}

const registrationBody = {
  type: 'object',
  required: ['studentId', 'courseId'],
  additionalProperties: false,
  properties: {
    studentId: { type: 'integer', minimum: 1, maximum: 4294967295 },
    courseId: { type: 'integer', minimum: 1, maximum: 4294967295 },
  },
} as const;
const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1, maximum: 4294967295 } },
} as const;

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
  const stats: AppStats = { inFlight: 0, shed: 0, dbUnavailable: 0 };
  const app = Fastify({
    logger: { level: options.logLevel ?? 'warn' },
    // Keep-alive connections that sit idle are closed on shutdown; busy ones finish first.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    bodyLimit: 16 * 1024,
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false } },
  });

  // HTML forms post application/x-www-form-urlencoded; no extra plugin needed for two fields.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  closeConnectionsWhileDraining(app);
  limitInFlight(app, limits, stats);
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
 * Overload protection: a fixed number of requests in flight; the rest get 503 + Retry-After at once, so the
 * requests that are admitted finish fast and goodput stays at capacity instead of collapsing.
 */
function limitInFlight(app: FastifyInstance, limits: AppLimits, stats: AppStats): void {
  app.addHook('onRequest', (req, reply, done) => {
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

/** Database unavailable: 503 (logged once a second at most); client errors: 4xx with the message; else 500. */
function errorHandler(limits: AppLimits, stats: AppStats) {
  let lastDbLog = 0;
  let loggedDbUnavailable = 0;
  return (err: Error & { statusCode?: number; validation?: unknown }, req: FastifyRequest, reply: FastifyReply) => {
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
  app.get('/healthz', { config: { unlimited: true } }, async () => ({
    status: 'ok',
    ...stats,
    registrations: store.registrationMode,
    registrationBatches: store.batches.calls,
    registrationsBatched: store.batches.registrations,
  }));

  app.get('/readyz', { config: { unlimited: true } }, async (_req, reply) => {
    try {
      await store.ping();
      return { status: 'ready' };
    } catch (err) {
      return reply
        .code(503)
        .header('retry-after', String(limits.retryAfterSeconds))
        .send({ status: 'database unavailable', error: (err as Error).message });
    }
  });
};

const studentBody = {
  type: 'object',
  required: ['studentId'],
  properties: { studentId: { type: 'integer', minimum: 1, maximum: 4294967295 } },
} as const;

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
      return coursePage(reply, req.params.id, REGISTER_STATUS[result], REGISTER_MESSAGE[result]);
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

function wantsHtml(req: FastifyRequest): boolean {
  return !req.url.startsWith('/api/') && (req.headers.accept ?? '').includes('text/html');
}

/** 503 with Retry-After: a self-refreshing queue page for browsers, JSON for API clients. */
function sendBusy(req: FastifyRequest, reply: FastifyReply, retryAfterSeconds: number): FastifyReply {
  reply.code(503).header('retry-after', String(retryAfterSeconds)).header('cache-control', 'no-store');
  if (wantsHtml(req)) {
    // A form POST cannot be replayed by a refresh; send the browser back to the page the form is on.
    const path = req.method === 'GET' ? req.url : req.url.replace(/\/(register|drop)$/, '');
    // Only a local path: `//host/...` would make the refresh an open redirect.
    const retryUrl = /^\/(?![/\\])/.test(path) ? path : '/courses';
    return reply.type('text/html; charset=utf-8').send(queuePage(retryAfterSeconds, retryUrl));
  }
  return reply.send({ error: 'overloaded, retry later', retryAfterSeconds });
}

export { DbUnavailableError };
