/**
 * The small part of the k6 JavaScript API that `loadtest/lib/k6.ts` uses, declared so `tsc --noEmit` checks the
 * k6-side helpers too (k6 ships no npm types; `@types/k6` is not installed on purpose: no extra package).
 */
declare module 'k6/http' {
  export interface RefinedResponse {
    readonly status: number;
    readonly body: string | null;
    readonly headers: Record<string, string>;
    readonly error: string;
    readonly error_code: number;
  }
  export interface Params {
    headers?: Record<string, string>;
    tags?: Record<string, string>;
    timeout?: string;
    responseType?: 'text' | 'none' | 'binary';
    responseCallback?: unknown;
    /** Redirects to follow; 0 returns the redirect itself. */
    redirects?: number;
    jar?: CookieJar;
  }
  export class CookieJar {}
  export function get(url: string, params?: Params): RefinedResponse;
  export function post(url: string, body?: string | null, params?: Params): RefinedResponse;
  export function del(url: string, body?: string | null, params?: Params): RefinedResponse;
  export function request(method: string, url: string, body?: string | null, params?: Params): RefinedResponse;
  export function expectedStatuses(...statuses: Array<number | { min: number; max: number }>): unknown;
  export function setResponseCallback(callback: unknown): void;
  const http: {
    get: typeof get;
    post: typeof post;
    del: typeof del;
    request: typeof request;
    CookieJar: typeof CookieJar;
    expectedStatuses: typeof expectedStatuses;
    setResponseCallback: typeof setResponseCallback;
  };
  export default http;
}

declare module 'k6/metrics' {
  export class Counter {
    constructor(name: string);
    add(value: number, tags?: Record<string, string>): void;
  }
}

/** k6's number of the running VU (1-based; 0 in `setup` and `teardown`). */
declare const __VU: number;
