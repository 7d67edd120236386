import { InvalidArgumentError } from 'commander';

/**
 * A commander option parser for a number > 0 (an integer if `integer`); the error names the flag.
 * Usage: `.option('--peak <n>', 'peak rate', positiveNumber('--peak', { integer: true }), 100)`.
 */
export function positiveNumber(name: string, options: { readonly integer?: boolean } = {}): (raw: string) => number {
  const integer = options.integer ?? false;
  return (raw) => {
    const v = Number(raw);
    if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
      throw new InvalidArgumentError(
        `${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(raw)}`,
      );
    }
    return v;
  };
}

/** A commander option parser for an integer >= `min` (for counts that may be 0). */
export function integerAtLeast(name: string, min: number): (raw: string) => number {
  return (raw) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
}
