// Written here rather than taken from a library: no retry package (p-retry, async-retry, ...) is among the
// project's dependencies, and the two callers need only "retry while a predicate says so, waiting a computed
// delay" (a deadline for a starting database, a count with doubling waits for a lost SSH link).

export interface RetryOptions {
  /**
   * Whether to try again after `err` from attempt number `attempt` (1-based). Return false to rethrow it
   * unchanged; put a deadline or an attempt limit here.
   */
  readonly shouldRetry: (err: unknown, attempt: number) => boolean;
  /** Milliseconds to wait after failed attempt number `attempt` before the next one. */
  readonly delayMs: (attempt: number) => number;
  /** Called before each wait, e.g. to log the failure. */
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Waits; replaceable in tests. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `attempt(n)` until it resolves or `shouldRetry` says stop (then the last error is thrown as is). */
export async function retry<T>(attempt: (n: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const sleep = options.sleep ?? sleepMs;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!options.shouldRetry(err, n)) throw err;
      const delay = options.delayMs(n);
      options.onRetry?.(err, n, delay);
      await sleep(delay);
    }
  }
}

/** Delays `initialMs`, `initialMs * factor`, ... capped at `maxMs`. */
export function exponentialBackoff(initialMs: number, factor = 2, maxMs = Infinity): (attempt: number) => number {
  return (attempt) => Math.min(initialMs * factor ** (attempt - 1), maxMs);
}

/** Delays `stepMs`, `2 * stepMs`, ... capped at `maxMs`. */
export function linearBackoff(stepMs: number, maxMs = Infinity): (attempt: number) => number {
  return (attempt) => Math.min(stepMs * attempt, maxMs);
}
