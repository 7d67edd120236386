/**
 * Site: the load plan of any site (loadtest/lib/site-plan.ts) against any deployment. Each virtual user (VU)
 * keeps one target (a browser resolves DNS once and keeps its cookies for that host), logs in once with the plan's
 * login steps, then at the plan's arrival rate makes one action per iteration: a page or a write, by weight.
 * Redirects are followed here, hop by hop, so that every answer is seen (a shed on the page a write redirects to
 * makes its outcome unconfirmed, not failed).
 *
 * Run with `npm run loadtest -- site --plan FILE --target URL[=WEIGHT] ...`: the runner validates the plan and
 * hands k6 the resolved plan (every default filled in) as PLAN, and TARGETS. Directly:
 * `k6 run -e PLAN=/abs/resolved-plan.json -e TARGETS=http://127.0.0.1:8080 loadtest/scenarios/site.ts`.
 */
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import { parseTargets, pickTarget } from '../lib/targets.ts';
import {
  answerKind,
  drawVar,
  expand,
  expandJson,
  jsonMissing,
  pickIndex,
  redirectTarget,
  resolveLocation,
  scrapeValue,
  SITE_METRICS,
  judge,
  urlencode,
  writeMetric,
} from '../lib/site-logic.ts';
import type { Hop } from '../lib/site-logic.ts';
import type { SitePlan, SiteRequest, SiteWrite } from '../lib/site-plan.ts';

if (!__ENV.PLAN) throw new Error('no plan: run with -e PLAN=FILE (npm run loadtest -- site --plan FILE resolves it)');
const plan = JSON.parse(open(__ENV.PLAN)) as SitePlan;
if (!plan.rush || !Array.isArray(plan.rush.stages) || plan.rush.maxVUs === undefined)
  throw new Error(`${__ENV.PLAN} is not a resolved plan: run it through npm run loadtest -- site --plan FILE`);
const targets = parseTargets(__ENV.TARGETS ?? '');

export const options = {
  scenarios: {
    site: {
      executor: 'ramping-arrival-rate',
      startRate: plan.rush.startRate,
      timeUnit: '1s',
      preAllocatedVUs: plan.rush.preAllocatedVUs,
      maxVUs: plan.rush.maxVUs,
      stages: plan.rush.stages,
      gracefulStop: '10s',
    },
  },
  thresholds: plan.thresholds,
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(50)', 'p(95)', 'p(99)'],
  setupTimeout: '60s',
  teardownTimeout: '60s',
};

const counters = {
  sheds: new Counter(SITE_METRICS.sheds),
  serverErrors: new Counter(SITE_METRICS.serverErrors),
  noAnswer: new Counter(SITE_METRICS.noAnswer),
  loginFailed: new Counter(SITE_METRICS.loginFailed),
  skipped: new Counter(SITE_METRICS.skipped),
};
const writeCounters: Record<string, { ok: Counter; failed: Counter; unconfirmed: Counter }> = {};
for (const w of plan.writes)
  writeCounters[w.name] = {
    ok: new Counter(writeMetric(w.name)),
    failed: new Counter(writeMetric(w.name, 'failed')),
    unconfirmed: new Counter(writeMetric(w.name, 'unconfirmed')),
  };

const callbacks = new Map<SiteRequest, unknown>();
const allRequests: SiteRequest[] = [...(plan.login?.steps ?? []), ...plan.pages, ...plan.writes];
for (const r of allRequests)
  callbacks.set(r, http.expectedStatuses(...(r.expectedStatuses ?? []), { min: 200, max: 399 }));
const actions: Array<{ request: SiteRequest; write?: SiteWrite }> = [
  ...plan.pages.map((p) => ({ request: p })),
  ...plan.writes.map((w) => ({ request: w, write: w })),
];
const weights = actions.map((a) => (a.request as { weight: number }).weight);

/**
 * This VU's cookies. k6 empties its default jar after every iteration; a jar of our own lasts as long as the VU,
 * as a browser's cookies last the visit (the login session).
 */
const jar = new http.CookieJar();

/** This VU's state: module scope is per VU in k6. */
const vu: { base?: string; loggedIn: boolean; vars: Record<string, string | undefined> } = {
  loggedIn: false,
  vars: {},
};

function initVu(): void {
  if (vu.base) return;
  vu.base = pickTarget(targets, Math.random()).url;
  for (const [name, v] of Object.entries(plan.vars)) if (v.per === 'vu') vu.vars[name] = drawVar(v, __VU, Math.random);
}

function varsForRequest(): Record<string, string | undefined> {
  const vars: Record<string, string | undefined> = { ...vu.vars, vu: String(__VU), iteration: String(__ITER) };
  for (const [name, v] of Object.entries(plan.vars))
    if (v.per === 'request') vars[name] = drawVar(v, __VU, Math.random);
  return vars;
}

const needsBody = (r: SiteRequest) =>
  !!r.scrape || !!(r as { success?: { text?: string; notText?: string } }).success?.text || !!r.success?.notText;

/** Sends a request and follows its redirects (at most 5), counting every answer; undefined when a variable is unset. */
function send(r: SiteRequest): Hop[] | undefined {
  const vars = varsForRequest();
  const path = expand(r.path, vars);
  let body: string | null = null;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers ?? {})) {
    const value = expand(v, vars);
    if (value === undefined) return undefined;
    headers[k] = value;
  }
  if (r.form) {
    const form: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.form)) {
      const value = expand(v, vars);
      if (value === undefined) return undefined;
      form[k] = value;
    }
    body = urlencode(form);
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
  } else if (r.json !== undefined) {
    const json = expandJson(r.json, vars);
    if (jsonMissing(json)) return undefined;
    body = JSON.stringify(json);
    headers['Content-Type'] = 'application/json';
  }
  if (path === undefined) return undefined;
  const follow = !r.success?.location;
  const text = needsBody(r);
  const hops: Hop[] = [];
  let url = `${vu.base}${path}`;
  let method: string = r.method;
  for (let i = 0; i <= 5; i++) {
    const res = http.request(method, url, body, {
      headers,
      jar,
      redirects: 0,
      timeout: plan.requestTimeout,
      responseType: text ? 'text' : 'none',
      responseCallback: callbacks.get(r),
      tags: { name: i === 0 ? r.name : `${r.name} (redirect)`, target: vu.base! },
    });
    const kind = answerKind(res.status, res.headers);
    const tags = { name: r.name };
    if (kind === 'shed') counters.sheds.add(1, tags);
    else if (kind === 'server_error') counters.serverErrors.add(1, tags);
    else if (kind === 'no_answer') counters.noAnswer.add(1, tags);
    hops.push({ status: res.status, headers: res.headers, body: res.body ?? undefined });
    const next = follow ? redirectTarget(res.status, res.headers) : undefined;
    if (!next) break;
    url = resolveLocation(url, next);
    // As browsers do: 301/302/303 become a GET without a body; 307/308 repeat the request.
    if (res.status !== 307 && res.status !== 308) {
      method = 'GET';
      body = null;
      delete headers['Content-Type'];
    }
  }
  const last = hops[hops.length - 1];
  for (const [name, regex] of Object.entries(r.scrape ?? {}))
    vu.vars[name] = scrapeValue(last.body ?? '', regex, Math.random);
  return hops;
}

function login(): boolean {
  for (const step of plan.login?.steps ?? []) {
    const hops = send(step);
    if (!hops || judge(step.success, hops) !== 'ok') {
      counters.loginFailed.add(1, { name: step.name });
      return false;
    }
  }
  return true;
}

export function setup(): void {
  const first = allRequests[0];
  for (const t of targets) {
    const res = http.get(`${t.url}${first.method === 'GET' ? first.path.replace(/\{\{[^}]*\}\}/g, '1') : '/'}`, {
      timeout: '30s',
      redirects: 0,
      tags: { name: 'check: site answers' },
      // A probe: any answer will do, and none counts in http_req_failed.
      responseCallback: http.expectedStatuses({ min: 100, max: 599 }),
    });
    if (res.status === 0) throw new Error(`${t.url} does not answer (${res.error}): is the site running?`);
  }
}

export default function (): void {
  initVu();
  if (plan.login && !vu.loggedIn) {
    vu.loggedIn = login();
    if (!vu.loggedIn) return;
  }
  const action = actions[pickIndex(weights, Math.random())];
  const hops = send(action.request);
  if (!hops) {
    counters.skipped.add(1, { name: action.request.name });
    return;
  }
  if (action.write) writeCounters[action.write.name][judge(action.write.success, hops)].add(1);
}

export function teardown(): void {
  // Zero adds make every counter appear in the summary export, so a missing one means the run did not get here.
  for (const c of Object.values(counters)) c.add(0);
  for (const w of Object.values(writeCounters)) for (const c of Object.values(w)) c.add(0);
}
