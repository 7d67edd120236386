/**
 * Browse: the HTML course list and course detail pages, as the original study measured (half each).
 *
 * Run with `npm run loadtest -- browse --target URL[=WEIGHT] ...`, or directly:
 * `k6 run -e TARGETS=http://127.0.0.1:8080 -e PEAK=50 -e DURATION=30s loadtest/scenarios/browse.ts`.
 * Environment: TARGETS, PEAK, DURATION, MAX_VUS, P95_MS, MAX_ERROR_RATE, MIX, STUDENTS, FIRST_STUDENT_ID, HOT_COURSES,
 * HOT_SHARE, REQUEST_TIMEOUT (see docs/loadtest.md).
 */
import { parseTargets, pickTarget } from '../lib/targets.ts';
import { buildPlan, buildThresholds, parseMix } from '../lib/plan.ts';
import { checkNotOversold, fetchCourses, k6Options, readSettings, Student } from '../lib/k6.ts';
import { seedPassword } from '../../app/seed-password.ts';
import type { Course } from '../lib/k6.ts';

const settings = readSettings(__ENV, 'browse', {
  parseTargets,
  pickTarget,
  buildPlan,
  buildThresholds,
  parseMix,
  seedPassword,
});

export const options = k6Options(settings);

export function setup(): { courses: Course[] } {
  return { courses: fetchCourses(settings.targets[0].url) };
}

export default function (data: { courses: Course[] }): void {
  const student = new Student(settings, data.courses);
  student.browse();
}

export function teardown(): void {
  checkNotOversold(settings);
}
