import { parseArgs, ParseArgsConfig } from 'node:util';
import { integerAtLeast, positiveNumber } from '../src/util/options';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values<T extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: false }>
>['values'];

/**
 * The bench scripts' flags, parsed with node:util `parseArgs` (strict: a mistyped flag stops the run
 * instead of silently measuring the defaults). `--help`/`-h` prints `usage` and exits 0; a bad flag prints
 * the problem and `usage` and exits 2.
 */
export function benchArgs<const T extends Options>(usage: string, options: T, argv = process.argv.slice(2)): Values<T> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    });
    if ((values as { help?: boolean }).help) {
      process.stdout.write(`${usage.trim()}\n`);
      process.exit(0);
    }
    return values as Values<T>;
  } catch (err) {
    return usageError(usage, err);
  }
}

/** A flag's value as a number > 0 (an integer >= 0 with `allowZero`), or `fallback` when the flag was not given. */
export function benchNumber(
  usage: string,
  flag: string,
  raw: string | undefined,
  fallback: number,
  allowZero = false,
): number {
  if (raw === undefined) return fallback;
  try {
    return (allowZero ? integerAtLeast(flag, 0) : positiveNumber(flag))(raw);
  } catch (err) {
    return usageError(usage, err);
  }
}

function usageError(usage: string, err: unknown): never {
  process.stderr.write(`${(err as Error).message}\n${usage.trim()}\n`);
  process.exit(2);
}
