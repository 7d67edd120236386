import type { DumpSource } from './importer';
import { DumpReader } from './dump-reader';
import { DumpStatement, DumpSyntaxError } from './splitter';
import { Refusal, RefusableKind, statementPreview, vetStatement } from './vetting';

/**
 * The pre-pass: one streaming read of the whole dump before any of its statements runs. It refuses a
 * dump that is empty, cut (no completion trailer), unreadable (truncated gzip, unterminated string) or
 * that holds statements outside its one database. Cost: one more read, decompression and split of the
 * file per run (measured in docs/import.md).
 */
export interface DumpCheckOptions {
  readonly source: DumpSource;
  /** The import's target database. */
  readonly database: string;
  /** Statement kinds the operator lets through. @default none */
  readonly allowStatements?: readonly RefusableKind[];
  /** Accept a dump without mysqldump's `-- Dump completed` trailer. @default false */
  readonly allowIncompleteDump?: boolean;
  readonly log?: (message: string) => void;
}

export interface DumpCheckResult {
  /** Statements in the dump (client commands like the sandbox line not counted). */
  readonly statements: number;
  /** Uncompressed bytes. */
  readonly bytes: number;
  /** The completion trailer found at the end, if any. */
  readonly trailer?: string;
  /** Statements of an allowed kind: they run, and the log lists them. */
  readonly allowed: readonly Refusal[];
  readonly elapsedMs: number;
}

/**
 * The last line mysqldump writes (`-- Dump completed on 2026-12-01 21:19:38`, or without the date under
 * `--skip-dump-date`), as mariadb-dump does, and rushhour's own export's. The hour is `%2d`: before
 * 10:00 it is space-padded (`2026-12-02  0:01:17`).
 */
const TRAILER =
  /(?:^|\n)(-- (?:Dump completed(?: on \d{4}-\d\d-\d\d [ \d]\d:\d\d:\d\d)?|rushhour export complete))[ \t\r]*\n?\s*$/;
/** Refusals listed in full in the error; the log and the `refusals` field have them all (up to this many). */
const MAX_LISTED = 20;
const MAX_KEPT = 1000;

/** The dump holds statements an import must not run; none of its statements ran. */
export class DumpRefusedError extends Error {
  constructor(
    message: string,
    /** Every refused statement (up to 1000), in dump order. */
    readonly refusals: readonly Refusal[],
  ) {
    super(message);
    this.name = 'DumpRefusedError';
  }
}

/** The dump has no statements (a 0-byte file, or only comments). Refused whatever the options. */
export class EmptyDumpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmptyDumpError';
  }
}

/** The dump lacks the completion trailer, so it may be cut at a statement boundary. */
export class IncompleteDumpError extends Error {
  constructor(
    message: string,
    /** The dump's last bytes, as text (for the message). */
    readonly tail: string,
  ) {
    super(message);
    this.name = 'IncompleteDumpError';
  }
}

/** The dump could not be read to its end in the pre-pass (truncated gzip, unterminated string); nothing ran. */
export class DumpUnreadableError extends Error {
  constructor(
    message: string,
    readonly offset?: number,
  ) {
    super(message);
    this.name = 'DumpUnreadableError';
  }
}

export async function checkDump(options: DumpCheckOptions): Promise<DumpCheckResult> {
  const started = Date.now();
  const { source, database } = options;
  const allow = new Set(options.allowStatements ?? []);
  const refused: Refusal[] = [];
  const allowed: Refusal[] = [];
  let refusedCount = 0;
  let statements = 0;
  let tail = Buffer.alloc(0);
  const nothingRan = 'nothing was imported; get a complete copy of the dump and run again';

  const vet = (stmts: readonly DumpStatement[]) => {
    for (const stmt of stmts) {
      if (stmt.clientCommand) continue;
      statements++;
      for (const f of vetStatement(stmt, database)) {
        const r: Refusal = {
          ...f,
          offset: stmt.startOffset,
          line: stmt.line,
          preview: statementPreview(stmt.sql, 120),
        };
        if (allow.has(f.kind)) {
          if (allowed.length < MAX_KEPT) allowed.push(r);
        } else {
          refusedCount++;
          if (refused.length < MAX_KEPT) refused.push(r);
        }
      }
    }
  };

  const reader = new DumpReader(source, (chunk) => {
    tail = Buffer.concat([tail, chunk.subarray(Math.max(0, chunk.length - 512))]).subarray(-512);
  });
  try {
    for await (const stmts of reader.statements()) vet(stmts);
  } catch (err) {
    if (err instanceof DumpSyntaxError)
      throw new DumpUnreadableError(
        `${source.description}: ${err.message} (found before importing: ${nothingRan})`,
        err.offset,
      );
    const gzip = reader.gzipFailure(err);
    if (gzip) throw new DumpUnreadableError(`${gzip.message}; ${nothingRan}`);
    throw err;
  }
  const bytes = reader.bytes;

  if (statements === 0) {
    throw new EmptyDumpError(
      `${source.description} holds no SQL statements (${bytes === 0 ? 'the file is empty' : `${bytes} bytes of comments and whitespace only`}): refusing to record it as imported. Check the dump command and its output file.`,
    );
  }
  const log = options.log ?? (() => undefined);
  for (const r of allowed)
    log(`allowed by the operator (${r.kind}): ${r.what} at byte ${r.offset} (line ${r.line}): ${r.preview}`);
  if (refusedCount) {
    for (const r of refused) log(`refused (${r.kind}): ${r.what} at byte ${r.offset} (line ${r.line}): ${r.preview}`);
    const kinds = [...new Set(refused.map((r) => r.kind))];
    const listed = refused
      .slice(0, MAX_LISTED)
      .map((r) => `  - ${r.kind}: ${r.what} at byte offset ${r.offset} (line ${r.line}): ${r.preview}`)
      .join('\n');
    const more = refusedCount > MAX_LISTED ? `\n  ... and ${refusedCount - MAX_LISTED} more` : '';
    throw new DumpRefusedError(
      `${source.description}: ${refusedCount} statement(s) reach outside database "${database}" (accounts, privileges, system schemas, other databases or the server); none of the dump's statements ran:\n${listed}${more}\n` +
        `Remove them from the dump (a dump of one database made without --databases, --all-databases or grants has none), or allow a kind explicitly: import.allowStatements ${JSON.stringify(kinds)} in the config, or --allow-statements ${kinds.join(',')}.`,
      refused,
    );
  }
  const text = tail.toString('latin1');
  const trailer = TRAILER.exec(text)?.[1];
  if (!trailer && !options.allowIncompleteDump) {
    const last = text.trimEnd().split('\n').pop() ?? '';
    throw new IncompleteDumpError(
      `${source.description} does not end with the completion line mysqldump and mariadb-dump write ("-- Dump completed ..."; its last line is ${JSON.stringify(last.slice(-120))}): it may be cut short (a copy or download that stopped at a line end looks complete otherwise); nothing was imported. ` +
        'Make a new dump, or, if the dump is complete and came from a tool that writes no trailer, set import.allowIncompleteDump to true (--allow-incomplete-dump).',
      last,
    );
  }
  return { statements, bytes, trailer, allowed, elapsedMs: Date.now() - started };
}
