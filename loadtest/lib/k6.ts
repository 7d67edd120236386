/**
 * k6-side helpers shared by the scenarios: settings from the environment, k6 options, the HTTP calls of the
 * course-selection API and the end-of-test oversold check.
 *
 * This file runs inside k6, not Node. k6 resolves only imports with an explicit `.ts` extension, which `tsc`
 * refuses without `allowImportingTsExtensions`, so this file imports the pure modules for their types only and
 * each scenario passes their functions in (see `Lib`).
 */
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import type { LoadPlan, Mix, ScenarioName, ThresholdOptions } from './plan';
import type { WeightedTarget } from './targets';

/** The pure functions of `targets.ts` and `plan.ts`, handed in by the scenario (see the file comment). */
export interface Lib {
  parseTargets(specs: string): WeightedTarget[];
  pickTarget(targets: readonly WeightedTarget[], r: number): WeightedTarget;
  buildPlan(scenario: ScenarioName, options: { peak?: number; duration?: string; maxVUs?: number }): LoadPlan;
  buildThresholds(options: ThresholdOptions): Record<string, string[]>;
  parseMix(text: string): Mix;
  /** app/seed-password.ts: the password `rushhour seed` gave each student, which the VUs log in with. */
  seedPassword(studentId: number): string;
}

export interface Settings {
  readonly scenario: ScenarioName;
  readonly targets: WeightedTarget[];
  readonly plan: LoadPlan;
  readonly thresholds: Record<string, string[]>;
  readonly mix: Mix;
  /**
   * Student ids are `firstStudentId .. firstStudentId + students - 1`, the range `rushhour seed --students N` creates.
   */
  readonly students: number;
  readonly firstStudentId: number;
  /**
   * How many courses are "popular" (the first ones `GET /api/courses` lists) and which share of registrations go to
   * them.
   */
  readonly hotCourses: number;
  readonly hotShare: number;
  /** Per-request timeout, k6 duration. */
  readonly timeout: string;
  /** Weighted choice of a target for a uniform random number in [0, 1). */
  readonly pick: (r: number) => WeightedTarget;
  readonly seedPassword: (studentId: number) => string;
}

function num(env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`${name}=${raw} is not a number`);
  return value;
}

/** Reads the scenario's settings from k6's `__ENV` (the runner passes them with `-e NAME=value`). */
export function readSettings(env: Record<string, string | undefined>, scenario: ScenarioName, lib: Lib): Settings {
  const spec = env.TARGETS ?? env.TARGET ?? env.BASE_URL;
  if (!spec)
    throw new Error(
      'no target: run with -e TARGETS=http://HOST:PORT[=WEIGHT][,...] (or use npm run loadtest -- <scenario> --target URL)',
    );
  const hotShare = num(env, 'HOT_SHARE') ?? 0.5;
  if (hotShare < 0 || hotShare > 1) throw new Error(`HOT_SHARE=${hotShare} must be between 0 and 1`);
  const targets = lib.parseTargets(spec);
  return {
    scenario,
    targets,
    pick: (r) => lib.pickTarget(targets, r),
    plan: lib.buildPlan(scenario, {
      peak: num(env, 'PEAK'),
      duration: env.DURATION || undefined,
      maxVUs: num(env, 'MAX_VUS'),
    }),
    thresholds: lib.buildThresholds({ p95Ms: num(env, 'P95_MS'), maxErrorRate: num(env, 'MAX_ERROR_RATE') }),
    mix: lib.parseMix(env.MIX || '50:50'),
    students: num(env, 'STUDENTS') ?? 500,
    firstStudentId: num(env, 'FIRST_STUDENT_ID') ?? 1,
    hotCourses: num(env, 'HOT_COURSES') ?? 3,
    hotShare,
    timeout: env.REQUEST_TIMEOUT || '10s',
    seedPassword: lib.seedPassword,
  };
}

/**
 * k6 `options` for a settings object: one ramping-arrival-rate scenario (one request per iteration) and the thresholds.
 */
export function k6Options(settings: Settings): Record<string, unknown> {
  const { plan } = settings;
  return {
    scenarios: {
      [plan.scenario]: {
        executor: 'ramping-arrival-rate',
        startRate: plan.startRate,
        timeUnit: '1s',
        preAllocatedVUs: plan.preAllocatedVUs,
        maxVUs: plan.maxVUs,
        stages: plan.stages,
        gracefulStop: '10s',
      },
    },
    thresholds: settings.thresholds,
    // Bodies are not needed for the measured requests; setup and teardown ask for theirs explicitly.
    discardResponseBodies: true,
    summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(50)', 'p(95)', 'p(99)'],
    setupTimeout: '60s',
    teardownTimeout: '60s',
    noConnectionReuse: false,
    // A VU logs in once and keeps its session cookie: k6 would otherwise empty its cookie jar every iteration.
    noCookiesReset: true,
  };
}

export interface Course {
  readonly id: number;
  readonly code: string;
  readonly title: string;
  readonly seats: number;
  readonly taken: number;
}

/** `GET /api/courses` on one target; throws a clear error when the app does not answer with the course list. */
export function fetchCourses(baseUrl: string, timeout = '30s'): Course[] {
  const res = http.get(`${baseUrl}/api/courses`, {
    responseType: 'text',
    timeout,
    tags: { name: 'check: course list', target: baseUrl },
  });
  if (res.status !== 200 || !res.body) {
    throw new Error(
      `GET ${baseUrl}/api/courses answered ${res.status || res.error}: is the app running and seeded (npx rushhour seed --courses 43 --students N)?`,
    );
  }
  const courses = JSON.parse(res.body) as Course[];
  if (!Array.isArray(courses) || courses.length === 0) {
    throw new Error(
      `GET ${baseUrl}/api/courses returned no courses: seed the database first (npx rushhour seed --courses 43 --students N)`,
    );
  }
  return courses;
}

// Names must match OVERSOLD_METRIC and OVERSOLD_CHECK_FAILED_METRIC in plan.ts (the thresholds).
const oversoldCourses = new Counter('oversold_courses');
const oversoldCheckFailed = new Counter('oversold_check_failed');

/**
 * The end-of-test check: through the API, no course has more registrations than seats. Every target is asked
 * (they share one database, and a balancer that no longer answers is itself a finding).
 */
export function checkNotOversold(settings: Settings): void {
  let oversold = 0;
  let failed = 0;
  for (const target of settings.targets) {
    try {
      for (const c of fetchCourses(target.url)) {
        if (c.taken > c.seats) {
          oversold += 1;
          console.error(
            `OVERSOLD: course ${c.id} (${c.code}) has ${c.taken} registrations for ${c.seats} seats, seen through ${target.url}`,
          );
        }
      }
    } catch (err) {
      failed += 1;
      console.error(`oversold check through ${target.url} failed: ${String(err)}`);
    }
  }
  // Always add, also zero, so the thresholds see the metric.
  oversoldCourses.add(oversold);
  oversoldCheckFailed.add(failed);
}

/** Registration answers that are business results, not errors: 201 registered, 409 full or duplicate. */
const REGISTER_OK = http.expectedStatuses({ min: 200, max: 299 }, 409);
/** Dropping a registration the student does not hold answers 404: an answer, not an error. */
const DROP_OK = http.expectedStatuses({ min: 200, max: 299 }, 404);

const LOGIN_OK = http.expectedStatuses(200);
/**
 * The targets this VU has a session on. Module state is per VU (each VU runs its own copy of the script); one login
 * per target, because a browser keeps a cookie per host name and the targets may be different balancers.
 */
const loggedIn: Record<string, boolean> = {};

/**
 * One simulated student's requests against a weighted choice of targets (one DNS answer per request). Pages are
 * public; registering and dropping need a session, so the VU logs in first (once per target, with the seed's
 * password) as its own student: VU n is student `firstStudentId + (n - 1) % students`.
 */
export class Student {
  constructor(
    private readonly settings: Settings,
    private readonly courses: readonly Course[],
  ) {}

  private base(): string {
    return this.settings.pick(Math.random()).url;
  }

  private params(name: string, base: string, extra: Record<string, unknown> = {}) {
    return {
      timeout: this.settings.timeout,
      tags: { name, target: base },
      headers: { 'content-type': 'application/json' },
      ...extra,
    };
  }

  /** A course id, popular courses with `hotShare` probability (seat contention), otherwise uniform. */
  course(): number {
    const { hotCourses, hotShare } = this.settings;
    const hot = Math.min(hotCourses, this.courses.length);
    const i =
      hot > 0 && Math.random() < hotShare
        ? Math.floor(Math.random() * hot)
        : Math.floor(Math.random() * this.courses.length);
    return this.courses[i].id;
  }

  /** This VU's student (in `setup`, where there is no VU, the first one). */
  studentId(): number {
    return this.settings.firstStudentId + ((Math.max(1, __VU) - 1) % this.settings.students);
  }

  /** POST /api/login as this VU's student on `base`, unless this VU already has a session there. */
  login(base: string): void {
    if (loggedIn[base]) return;
    const studentId = this.studentId();
    const res = http.post(
      `${base}/api/login`,
      JSON.stringify({ studentId, password: this.settings.seedPassword(studentId) }),
      this.params('api: login', base, { responseCallback: LOGIN_OK }),
    );
    // A failed login is tried again next time; the request it was for then answers 401 and counts as failed.
    loggedIn[base] = res.status === 200;
  }

  /** The classic benchmark page: the HTML course list (the app records one access row per view). */
  listPage() {
    const base = this.base();
    return http.get(`${base}/courses`, this.params('page: course list', base));
  }

  detailPage(courseId = this.course()) {
    const base = this.base();
    return http.get(`${base}/courses/${courseId}`, this.params('page: course detail', base));
  }

  /** A browsing student's page view: the course list or a course's page, half each. */
  browse() {
    return Math.random() < 0.5 ? this.listPage() : this.detailPage();
  }

  apiCourse(courseId = this.course()) {
    const base = this.base();
    return http.get(`${base}/api/courses/${courseId}`, this.params('api: course', base));
  }

  register(studentId = this.studentId(), courseId = this.course()) {
    const base = this.base();
    this.login(base);
    return http.post(
      `${base}/api/registrations`,
      JSON.stringify({ studentId, courseId }),
      this.params('api: register', base, { responseCallback: REGISTER_OK }),
    );
  }

  drop(studentId = this.studentId(), courseId = this.course()) {
    const base = this.base();
    this.login(base);
    return http.del(
      `${base}/api/registrations`,
      JSON.stringify({ studentId, courseId }),
      this.params('api: drop', base, { responseCallback: DROP_OK }),
    );
  }
}
