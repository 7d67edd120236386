/**
 * The load plan for any site (`npm run loadtest -- site --plan FILE`): which pages a virtual user (VU) reads and
 * how often, which form posts it sends with fields generated per VU, how it logs in (cookies kept per VU, a CSRF
 * token scraped from a page), the arrival-rate shape of the rush, the thresholds, and the writes to account for:
 * for each write the request that makes it, what its success looks like and the SQL that counts its rows.
 *
 * Node side only (zod): `parseSitePlan` validates a plan and fills in the defaults; the runner hands k6 the
 * resolved plan, so the k6 scenario never re-implements a default. The types are shared with the k6 side.
 */
import * as fs from 'node:fs';
import { z } from 'zod';
import { parseDurationSeconds } from './plan';
import { BUILTIN_VARS, placeholders } from './site-logic';

export { writeMetric } from './site-logic';

/** Names that become k6 metric names and template variables: lower case, digits, underscores. */
const NAME_RE = /^[a-z][a-z0-9_]{0,47}$/;
const name = (what: string) =>
  z.string().regex(NAME_RE, `${what} must be lower case letters, digits and _ (starting with a letter, ≤ 48 chars)`);

const per = z
  .enum(['vu', 'request'])
  .default('request')
  .describe('vu: drawn once per virtual user and kept; request: drawn anew for every request');

const rangeVar = z
  .object({
    kind: z.literal('range'),
    min: z.number().int(),
    max: z.number().int(),
    /** Zero-pad to this many digits (`7` makes 12 into `0000012`, for student numbers like S0000012). */
    pad: z.number().int().min(1).max(20).optional(),
    /** random: uniform in min..max; by-vu: VU n gets min + (n - 1) mod (max - min + 1): VUs differ while ids last. */
    order: z.enum(['random', 'by-vu']).default('random'),
    per,
  })
  .strict()
  .refine((v) => v.min <= v.max, { message: 'min must not be greater than max', path: ['max'] });

const pickVar = z
  .object({
    kind: z.literal('pick'),
    from: z.array(z.union([z.string(), z.number()])).min(1, 'from must list at least one value'),
    /** Relative weights, one per value of `from`. @default equal weights */
    weights: z.array(z.number().positive()).optional(),
    per,
  })
  .strict()
  .refine((v) => !v.weights || v.weights.length === v.from.length, {
    message: 'weights must have one entry per value of from',
    path: ['weights'],
  });

const nameVar = z
  .object({
    kind: z.literal('name'),
    per,
  })
  .strict();

const variable = z.discriminatedUnion('kind', [rangeVar, pickVar, nameVar]);

const status = z.number().int().min(100).max(599);

/** What success looks like: every condition given must hold. */
const success = z
  .object({
    /** The final answer's status (after redirects, unless `location` is given), one or a list. */
    status: z.union([status, z.array(status).min(1)]).optional(),
    /** A substring of the first answer's `Location` header: a redirect is the answer, it is not followed. */
    location: z.string().min(1).optional(),
    /** Text in the final page (after redirects). */
    text: z.string().min(1).optional(),
    /** Text that must not be in the final page (e.g. an error message). */
    notText: z.string().min(1).optional(),
  })
  .strict()
  .refine((s) => s.status !== undefined || s.location || s.text || s.notText, {
    message: 'give at least one of status, location, text, notText',
  })
  .refine((s) => !(s.location && (s.text || s.notText)), {
    message: 'location means the redirect is not followed, so there is no page to find text in: use one or the other',
  });

/** Regexes whose first capture group sets a VU variable (a random one of the matches; unset when none matches). */
const scrape = z.record(name('a scraped variable'), z.string().min(1)).superRefine((rec, ctx) => {
  for (const [key, source] of Object.entries(rec)) {
    try {
      // An alternative that matches '' shows how many capture groups the regex has.
      if (new RegExp(`${source}|`).exec('')!.length < 2)
        ctx.addIssue({ code: 'custom', path: [key], message: 'the regex needs a capture group ( ... ) for the value' });
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: [key], message: `not a regex: ${(err as Error).message}` });
    }
  }
});

const requestFields = {
  /** A name for the request: k6 tags its samples with it (`by request` in the summary). */
  name: z.string().min(1).max(80),
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('GET'),
  /** Path and query below the target's base URL, with `{{var}}` placeholders. */
  path: z.string().startsWith('/', 'path must start with /'),
  /** An urlencoded form body (`application/x-www-form-urlencoded`), values with `{{var}}` placeholders. */
  form: z.record(z.string(), z.string()).optional(),
  /** A JSON body; string values may hold `{{var}}` placeholders. */
  json: z.unknown().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  /** Statuses that are answers, not errors, for k6's http_req_failed. @default 200-399 */
  expectedStatuses: z.array(status).optional(),
  scrape: scrape.optional(),
};

function bodyRules(r: { method: string; form?: unknown; json?: unknown }, ctx: z.RefinementCtx): void {
  if (r.form && r.json !== undefined)
    ctx.addIssue({ code: 'custom', path: ['json'], message: 'give form or json, not both' });
  if (r.method === 'GET' && (r.form || r.json !== undefined))
    ctx.addIssue({ code: 'custom', path: ['method'], message: 'a GET has no body: use POST for a form' });
}

const page = z
  .object({ ...requestFields, weight: z.number().positive(), success: success.optional() })
  .strict()
  .superRefine(bodyRules);

const loginStep = z
  .object({ ...requestFields, success: success.optional() })
  .strict()
  .superRefine(bodyRules);

const write = z
  .object({
    ...requestFields,
    name: name('a write name (it names the k6 counter write_<name>)'),
    method: z.enum(['POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
    weight: z.number().positive(),
    success,
    rows: z
      .object({
        /** One number: the rows this write makes, counted at the origin before the rush and after sync-back. */
        count: z
          .string()
          .regex(/^\s*select\b/i, 'count must be one SELECT returning one number')
          .refine((s) => !/;\s*\S/.test(s), 'count must be one statement'),
        /** Rows per success: 1 for an insert, -1 for a delete, 2 when a success inserts two. @default 1 */
        perSuccess: z
          .number()
          .int()
          .refine((n) => n !== 0, 'perSuccess must not be 0')
          .default(1),
      })
      .strict(),
  })
  .strict()
  .superRefine(bodyRules);

const duration = z.string().refine((d) => {
  try {
    return /^(\d+h)?(\d+m)?(\d+s)?$/.test(d) && parseDurationSeconds(d) > 0;
  } catch {
    return false;
  }
}, 'duration must look like 30s, 5m or 1h30m');

const rush = z
  .object({
    /** Arrivals per second at the start. @default 1 */
    startRate: z.number().int().min(0).default(1),
    stages: z
      .array(z.object({ target: z.number().int().min(0), duration }).strict())
      .min(1, 'the rush needs at least one stage'),
    /** @default a tenth of the peak, at least 5 */
    preAllocatedVUs: z.number().int().min(1).optional(),
    /** @default twice the peak, 20 to 5000 */
    maxVUs: z.number().int().min(1).optional(),
  })
  .strict();

const METRIC_RE = /^[A-Za-z][A-Za-z0-9_.]*(\{[^{}]+\})?$/;

export const sitePlanSchema = z
  .object({
    /** Which site this plan is for, shown in the summary. */
    name: z.string().min(1),
    vars: z.record(name('a variable name'), variable).default({}),
    /** Requests each VU makes once, before its first action (log in); cookies are kept per VU. */
    login: z
      .object({ steps: z.array(loginStep).min(1) })
      .strict()
      .optional(),
    pages: z.array(page).default([]),
    writes: z.array(write).default([]),
    rush,
    /** k6 thresholds. @default http_req_duration p(95)<500 and http_req_failed rate<0.01 */
    thresholds: z
      .record(z.string().regex(METRIC_RE, 'a k6 metric name, optionally with {tag:value}'), z.array(z.string()).min(1))
      .default({ http_req_duration: ['p(95)<500'], http_req_failed: ['rate<0.01'] }),
    /** Per-request timeout (k6 duration). @default 10s */
    requestTimeout: duration.default('10s'),
  })
  .strict()
  .superRefine((plan, ctx) => {
    if (plan.pages.length + plan.writes.length === 0)
      ctx.addIssue({ code: 'custom', path: ['pages'], message: 'the plan needs at least one page or write' });
    const seen = new Set<string>();
    plan.writes.forEach((w, i) => {
      if (seen.has(w.name))
        ctx.addIssue({ code: 'custom', path: ['writes', i, 'name'], message: `write "${w.name}" is named twice` });
      seen.add(w.name);
    });
    // Every {{placeholder}} names a declared, scraped or built-in variable.
    const known = new Set([...Object.keys(plan.vars), ...BUILTIN_VARS]);
    const all = [...(plan.login?.steps ?? []), ...plan.pages, ...plan.writes];
    for (const r of all) for (const v of Object.keys(r.scrape ?? {})) known.add(v);
    for (const v of Object.keys(plan.vars))
      if (known.has(v) && BUILTIN_VARS.includes(v))
        ctx.addIssue({ code: 'custom', path: ['vars', v], message: `"${v}" is a built-in variable` });
    const check = (r: (typeof all)[number], at: (string | number)[]) => {
      const texts: Array<[string, (string | number)[]]> = [[r.path, [...at, 'path']]];
      for (const [k, v] of Object.entries(r.form ?? {})) texts.push([v, [...at, 'form', k]]);
      for (const [k, v] of Object.entries(r.headers ?? {})) texts.push([v, [...at, 'headers', k]]);
      if (r.json !== undefined) texts.push([JSON.stringify(r.json), [...at, 'json']]);
      for (const [text, p] of texts)
        for (const v of placeholders(text))
          if (!known.has(v))
            ctx.addIssue({
              code: 'custom',
              path: p,
              message: `{{${v}}} is not a variable: declare it in vars or scrape it (known: ${[...known].join(', ')})`,
            });
    };
    plan.login?.steps.forEach((s, i) => check(s, ['login', 'steps', i]));
    plan.pages.forEach((s, i) => check(s, ['pages', i]));
    plan.writes.forEach((s, i) => check(s, ['writes', i]));
  });

/** A plan as written (defaults optional). */
export type SitePlanInput = z.input<typeof sitePlanSchema>;

/** A resolved plan: every default filled in, the rush's VU bounds computed. What the k6 scenario reads. */
export type SitePlan = Omit<z.output<typeof sitePlanSchema>, 'rush'> & {
  readonly rush: z.output<typeof rush> & {
    preAllocatedVUs: number;
    maxVUs: number;
    peak: number;
    totalSeconds: number;
  };
};
export type SiteVar = z.output<typeof variable>;
export type SiteRequest = z.output<typeof page> | z.output<typeof loginStep> | z.output<typeof write>;
export type SiteWrite = z.output<typeof write>;
export type SiteSuccess = z.output<typeof success>;

/** One problem in a plan: where (a dotted path such as `writes[0].rows.count`) and what. */
export interface PlanIssue {
  readonly field: string;
  readonly message: string;
}

export class SitePlanError extends Error {
  constructor(
    readonly source: string,
    readonly issues: readonly PlanIssue[],
  ) {
    super(`${source}: the load plan is not valid:\n${issues.map((i) => `  ${i.field}: ${i.message}`).join('\n')}`);
    this.name = 'SitePlanError';
  }
}

function fieldPath(p: readonly PropertyKey[]): string {
  return (
    p.reduce<string>(
      (acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)),
      '',
    ) || '(plan)'
  );
}

/** Validates a plan (parsed JSON) and fills in the defaults; throws a `SitePlanError` naming every bad field. */
export function parseSitePlan(input: unknown, source = 'plan'): SitePlan {
  const r = sitePlanSchema.safeParse(input);
  if (!r.success) {
    throw new SitePlanError(
      source,
      r.error.issues.map((i) => ({ field: fieldPath(i.path), message: i.message })),
    );
  }
  const plan = r.data;
  const peak = Math.max(plan.rush.startRate, ...plan.rush.stages.map((s) => s.target));
  if (peak < 1)
    throw new SitePlanError(source, [{ field: 'rush.stages', message: 'no stage reaches 1 arrival per second' }]);
  const maxVUs = plan.rush.maxVUs ?? Math.min(5000, Math.max(20, peak * 2));
  const preAllocatedVUs = Math.min(maxVUs, plan.rush.preAllocatedVUs ?? Math.max(5, Math.ceil(peak / 10)));
  const totalSeconds = plan.rush.stages.reduce((t, s) => t + parseDurationSeconds(s.duration), 0);
  return { ...plan, rush: { ...plan.rush, maxVUs, preAllocatedVUs, peak, totalSeconds } };
}

/** Reads and validates a plan file. */
export function readSitePlan(file: string): SitePlan {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SitePlanError(file, [{ field: '(file)', message: (err as Error).message }]);
  }
  return parseSitePlan(json, file);
}

/**
 * The same plan with its rush scaled: every rate by `peak / plan peak`, every stage duration by
 * `duration / plan duration` (whole seconds, at least 1). For short rehearsals and tests of a real plan.
 */
export function scaleRush(plan: SitePlan, options: { peak?: number; duration?: string }): SitePlan {
  const rate = options.peak !== undefined ? options.peak / plan.rush.peak : 1;
  const time = options.duration !== undefined ? parseDurationSeconds(options.duration) / plan.rush.totalSeconds : 1;
  if (!(rate > 0) || !(time > 0)) throw new Error('scaleRush: peak and duration must be positive');
  const stages = plan.rush.stages.map((s) => ({
    target: Math.round(s.target * rate),
    duration: `${Math.max(1, Math.round(parseDurationSeconds(s.duration) * time))}s`,
  }));
  const { preAllocatedVUs: _p, maxVUs, peak: _peak, totalSeconds: _t, ...rest } = plan.rush;
  const scaled = { ...rest, startRate: Math.round(rest.startRate * rate), stages };
  // Keep an explicit maxVUs only when it was given for the unscaled peak; recompute the defaults.
  return parseSitePlan({ ...plan, rush: { ...scaled, ...(rate === 1 ? { maxVUs } : {}) } });
}
