/**
 * Where the load goes: one base URL, or several `URL=weight` pairs split the way weighted DNS splits clients
 * over the load balancers. Pure code (no k6 or Node imports) shared by the k6 scenarios and the runner.
 */

/** One load balancer (or app) base URL and its share of the clients. */
export interface WeightedTarget {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** Relative share of the clients; any positive number. @default 1 */
  readonly weight: number;
}

/** Parses `http://host:port[/base]` or `http://host:port=3` into a target. */
export function parseTarget(spec: string): WeightedTarget {
  const text = spec.trim();
  // The weight is a number after the last '=', so URLs with '=' in a query string still parse.
  const match = /^(.*)=(\d+(?:\.\d+)?)$/.exec(text);
  const url = (match ? match[1] : text).replace(/\/+$/, '');
  const weight = match ? Number(match[2]) : 1;
  if (!/^https?:\/\/[^/\s]+/.test(url)) {
    throw new Error(
      `target "${spec}" is not an http(s) base URL: write it as http://HOST:PORT or http://HOST:PORT=WEIGHT`,
    );
  }
  if (!(weight > 0) || !Number.isFinite(weight)) {
    throw new Error(`target "${spec}" has weight ${weight}: the weight after '=' must be a positive number`);
  }
  return { url, weight };
}

/** Parses several targets: an array of specs, or one comma-separated string (the form passed to k6 in `TARGETS`). */
export function parseTargets(specs: readonly string[] | string): WeightedTarget[] {
  const list = typeof specs === 'string' ? specs.split(',') : specs.flatMap((s) => s.split(','));
  const targets = list
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(parseTarget);
  if (targets.length === 0) {
    throw new Error(
      'no target given: pass --target http://HOST:PORT (repeat it as URL=WEIGHT for several load balancers)',
    );
  }
  return targets;
}

/** The comma-separated form of `parseTargets`' input, for the k6 environment. */
export function formatTargets(targets: readonly WeightedTarget[]): string {
  return targets.map((t) => `${t.url}=${t.weight}`).join(',');
}

/** Picks a target for a uniform random number `r` in [0, 1), in proportion to the weights. */
export function pickTarget(targets: readonly WeightedTarget[], r: number): WeightedTarget {
  const total = targets.reduce((sum, t) => sum + t.weight, 0);
  let x = r * total;
  for (const t of targets) {
    if (x < t.weight) return t;
    x -= t.weight;
  }
  return targets[targets.length - 1];
}
