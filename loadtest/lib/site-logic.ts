/**
 * The pure parts of the site scenario, shared by the k6 scenario (loadtest/scenarios/site.ts) and the unit tests:
 * templates, variables drawn per virtual user, redirects, sheds, and the judgement of a write's outcome.
 * No k6 or Node imports (k6 runs this file; see the note in k6.ts on `.ts` imports): types only.
 */
import type { SiteSuccess, SiteVar } from './site-plan';

/** Variables every request can use: the VU number (1..) and its iteration count (0..). */
export const BUILTIN_VARS: readonly string[] = ['vu', 'iteration'];

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

/** The variable names used as `{{name}}` in a text. */
export function placeholders(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1]);
}

/** Fills `{{name}}` placeholders; undefined when a variable has no value (e.g. a scrape found nothing). */
export function expand(text: string, vars: Readonly<Record<string, string | undefined>>): string | undefined {
  let missing = false;
  const out = text.replace(PLACEHOLDER, (_m, v: string) => {
    const value = vars[v];
    if (value === undefined) missing = true;
    return value ?? '';
  });
  return missing ? undefined : out;
}

/** `expand` over the string values of a JSON value. */
export function expandJson(value: unknown, vars: Readonly<Record<string, string | undefined>>): unknown {
  if (typeof value === 'string') return expand(value, vars);
  if (Array.isArray(value)) return value.map((v) => expandJson(v, vars));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandJson(v, vars)]));
  return value;
}

/** True when a JSON value holds a placeholder `expandJson` could not fill. */
export function jsonMissing(value: unknown): boolean {
  if (value === undefined) return true;
  if (Array.isArray(value)) return value.some(jsonMissing);
  if (value && typeof value === 'object') return Object.values(value).some(jsonMissing);
  return false;
}

/** `application/x-www-form-urlencoded` for a form. */
export function urlencode(form: Readonly<Record<string, string>>): string {
  return Object.entries(form)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`.replace(/%20/g, '+'))
    .join('&');
}

/** Index for a uniform `r` in [0, 1) in proportion to the weights. */
export function pickIndex(weights: readonly number[], r: number): number {
  const total = weights.reduce((a, b) => a + b, 0);
  let x = r * total;
  for (let i = 0; i < weights.length; i++) {
    if (x < weights[i]) return i;
    x -= weights[i];
  }
  return weights.length - 1;
}

const FIRST = ['Aino', 'Mikko', 'Sara', 'Jonas', 'Lea', 'Omar', 'Yuki', 'Priya', 'Mateo', 'Zoë', 'Kofi', 'Ingrid'];
const LAST = ['Virtanen', 'Nguyen', 'García', 'Okafor', 'Schmidt', 'Kowalski', 'Tanaka', 'Silva', 'Dubois', 'Ali'];

/** One value of a variable for VU number `vu` (1..), with uniform random numbers from `rand`. */
export function drawVar(v: SiteVar, vu: number, rand: () => number): string {
  switch (v.kind) {
    case 'range': {
      const span = v.max - v.min + 1;
      const n = v.order === 'by-vu' ? v.min + ((((vu - 1) % span) + span) % span) : v.min + Math.floor(rand() * span);
      return v.pad ? String(n).padStart(v.pad, '0') : String(n);
    }
    case 'pick':
      return String(v.from[pickIndex(v.weights ?? v.from.map(() => 1), rand())]);
    case 'name':
      return `${FIRST[Math.floor(rand() * FIRST.length)]} ${LAST[Math.floor(rand() * LAST.length)]}`;
  }
}

/** A scraped value: the first capture group of a random match; undefined when nothing matches. */
export function scrapeValue(body: string, regex: string, rand: () => number): string | undefined {
  const matches = [...body.matchAll(new RegExp(regex, 'g'))];
  if (matches.length === 0) return undefined;
  return matches[Math.floor(rand() * matches.length)][1];
}

const REDIRECTS = [301, 302, 303, 307, 308];

/** Where a redirect goes, resolved against the URL that answered it (absolute, `/path`, or relative). */
export function resolveLocation(current: string, location: string): string {
  if (/^https?:\/\//i.test(location)) return location;
  const origin = /^(https?:\/\/[^/?#]+)/i.exec(current)![1];
  if (location.startsWith('//')) return `${current.slice(0, current.indexOf('//'))}${location}`;
  if (location.startsWith('/')) return `${origin}${location}`;
  const pathPart = current.slice(origin.length).replace(/[?#].*$/, '') || '/';
  const dir = pathPart.slice(0, pathPart.lastIndexOf('/') + 1);
  if (location.startsWith('?')) return `${origin}${pathPart}${location}`;
  // Resolve ./ and ../ the way a browser does.
  const parts = `${dir}${location}`.split('/');
  const out: string[] = [];
  for (const p of parts.slice(1)) {
    if (p === '..') out.pop();
    else if (p !== '.') out.push(p);
  }
  return `${origin}/${out.join('/')}`;
}

/** The redirect target when `status` is a redirect with a Location, else undefined. */
export function redirectTarget(status: number, headers: Readonly<Record<string, string>>): string | undefined {
  return REDIRECTS.includes(status) ? header(headers, 'location') : undefined;
}

/** A header by case-insensitive name. */
export function header(headers: Readonly<Record<string, string>>, nameLc: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === nameLc) return v;
  return undefined;
}

/** The front door's shed: 503 with Retry-After. Any other 5xx is a server error. */
export function isShed(status: number, headers: Readonly<Record<string, string>>): boolean {
  return status === 503 && header(headers, 'retry-after') !== undefined;
}

export type AnswerKind = 'ok' | 'shed' | 'server_error' | 'no_answer' | 'other';

export function answerKind(status: number, headers: Readonly<Record<string, string>>): AnswerKind {
  if (status === 0) return 'no_answer';
  if (isShed(status, headers)) return 'shed';
  if (status >= 500) return 'server_error';
  return status < 400 ? 'ok' : 'other';
}

/** One answer in a request's redirect chain. */
export interface Hop {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

/**
 * The outcome of a request from its redirect chain (`hops[0]` is the request's own answer):
 * - `ok`: every condition of `success` holds;
 * - `failed`: it did not, and the site said so (or the front door shed the request before the site saw it);
 * - `unconfirmed`: no one can tell: no answer, a 5xx that is not a shed, or the request was answered with a
 *   redirect but the page it leads to did not arrive. A write may have been applied; the accounting allows it.
 */
export function judge(success: SiteSuccess | undefined, hops: readonly Hop[]): 'ok' | 'failed' | 'unconfirmed' {
  const first = hops[0];
  if (!first || first.status === 0) return 'unconfirmed';
  const firstKind = answerKind(first.status, first.headers);
  if (firstKind === 'shed') return 'failed';
  if (firstKind === 'server_error') return 'unconfirmed';
  const statuses = success?.status === undefined ? undefined : ([] as number[]).concat(success.status);
  if (success?.location !== undefined) {
    const loc = redirectTarget(first.status, first.headers);
    const statusOk = statuses ? statuses.includes(first.status) : true;
    return statusOk && loc !== undefined && loc.includes(success.location) ? 'ok' : 'failed';
  }
  const last = hops[hops.length - 1];
  if (hops.length > 1) {
    const k = answerKind(last.status, last.headers);
    if (k === 'no_answer' || k === 'shed' || k === 'server_error') return 'unconfirmed';
  }
  if (statuses ? !statuses.includes(last.status) : !(last.status >= 200 && last.status < 400)) return 'failed';
  const body = last.body ?? '';
  if (success?.text !== undefined && !body.includes(success.text)) return 'failed';
  if (success?.notText !== undefined && body.includes(success.notText)) return 'failed';
  return 'ok';
}

/** The k6 counter that counts a write's successes (`write_<name>`) and its siblings. */
export const writeMetric = (write: string, kind: 'ok' | 'failed' | 'unconfirmed' = 'ok') =>
  kind === 'ok' ? `write_${write}` : `write_${write}_${kind}`;

/** Counters the site scenario adds to for every answer of every hop (names shared with the verdict). */
export const SITE_METRICS = {
  sheds: 'site_sheds',
  serverErrors: 'site_server_errors',
  noAnswer: 'site_no_answer',
  loginFailed: 'site_login_failed',
  skipped: 'site_skipped',
} as const;
