import * as fs from 'node:fs';
import { z } from 'zod';

/**
 * JSON that rushhour wrote earlier and reads back (the state file, the pull record, the export manifest),
 * parsed with a schema instead of cast: a damaged or foreign file fails here with the fields that are
 * wrong, not later with an undefined deep inside a workflow.
 */
export class PersistedJsonError extends Error {
  override readonly name = 'PersistedJsonError';
  constructor(
    /** The file or object key read. */
    readonly source: string,
    /** What it should have been, e.g. "state file". */
    readonly what: string,
    /** One line per problem: `path: message`; empty when the text is not JSON at all. */
    readonly issues: string[],
    message: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/** Parses JSON text with a schema; `source` and `what` name it in the error. */
export function parsePersistedJson<S extends z.ZodType>(
  text: string,
  schema: S,
  source: string,
  what: string,
): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PersistedJsonError(
      source,
      what,
      [],
      `${source} is not a ${what} (not JSON: ${(err as Error).message})`,
      err,
    );
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
    throw new PersistedJsonError(
      source,
      what,
      issues,
      `${source} is not a valid ${what}: ${issues.slice(0, 5).join('; ')}`,
    );
  }
  return parsed.data;
}

/** Reads and parses a JSON file with a schema. */
export function readPersistedJson<S extends z.ZodType>(file: string, schema: S, what: string): z.infer<S> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new PersistedJsonError(file, what, [], `cannot read the ${what} ${file}: ${(err as Error).message}`, err);
  }
  return parsePersistedJson(text, schema, file, what);
}
