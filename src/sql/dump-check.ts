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

/**
 * What the pre-pass learns, one statement and one chunk at a time: the refusals, the statement count and
 * the dump's last bytes, then the verdict at the end (`finish`). The pre-pass (`checkDump`) feeds it a
 * read of its own before anything runs; the parallel import into an empty database (./parallel-import)
 * feeds it the statements it is about to run, and removes what it ran when the verdict is a refusal.
 */
export class DumpVetter {
  private readonly allow: Set<RefusableKind>;
  private readonly refused: Refusal[] = [];
  private readonly allowed: Refusal[] = [];
  private refusedCount = 0;
  private statements = 0;
  private tail = Buffer.alloc(0);
  private readonly started = Date.now();
  private readonly outcome: string;

  constructor(
    private readonly options: DumpCheckOptions,
    /**
     * When the statements are vetted: `before` anything runs (the pre-pass), or `while` they are loaded into an
     * empty database, whose caller removes what ran when `finish` or `readFailure` gives an error. The messages
     * say which.
     */
    private readonly when: 'before' | 'while' = 'before',
  ) {
    this.allow = new Set(options.allowStatements ?? []);
    this.outcome =
      when === 'before'
        ? 'nothing was imported'
        : 'nothing was imported (what had been loaded before the check got there is removed again)';
  }

  /** For DumpReader's onChunk: keeps the last 512 bytes (the trailer). */
  readonly onChunk = (chunk: Buffer): void => {
    this.tail = Buffer.concat([this.tail, chunk.subarray(Math.max(0, chunk.length - 512))]).subarray(-512);
  };

  /** True once any statement was refused: from then on nothing may run. */
  get refusing(): boolean {
    return this.refusedCount > 0;
  }

  /** Vets one statement; once `refusing`, neither it nor anything after it may run. */
  vet(stmt: DumpStatement): void {
    if (stmt.clientCommand) return;
    this.statements++;
    for (const f of vetStatement(stmt, this.options.database)) {
      const r: Refusal = { ...f, offset: stmt.startOffset, line: stmt.line, preview: statementPreview(stmt.sql, 120) };
      if (this.allow.has(f.kind)) {
        if (this.allowed.length < MAX_KEPT) this.allowed.push(r);
      } else {
        this.refusedCount++;
        if (this.refused.length < MAX_KEPT) this.refused.push(r);
      }
    }
  }

  /** The error for a read that failed (unterminated string, truncated gzip), or undefined for any other error. */
  readFailure(err: unknown, reader: DumpReader): DumpUnreadableError | undefined {
    const { source } = this.options;
    if (err instanceof DumpSyntaxError)
      return new DumpUnreadableError(
        `${source.description}: ${err.message} (found ${this.when === 'before' ? 'before importing' : 'while importing into the empty database'}: ${this.outcome}; get a complete copy of the dump and run again)`,
        err.offset,
      );
    const gzip = reader.gzipFailure(err);
    if (gzip)
      return new DumpUnreadableError(`${gzip.message}; ${this.outcome}; get a complete copy of the dump and run again`);
    return undefined;
  }

  /** The verdict once the whole dump (`bytes` uncompressed) is read: throws for an empty, refused or cut dump. */
  finish(bytes: number): DumpCheckResult {
    const { source, database } = this.options;
    const { refused, allowed, refusedCount, statements } = this;
    if (statements === 0) {
      throw new EmptyDumpError(
        `${source.description} holds no SQL statements (${bytes === 0 ? 'the file is empty' : `${bytes} bytes of comments and whitespace only`}): refusing to record it as imported. Check the dump command and its output file.`,
      );
    }
    const log = this.options.log ?? (() => undefined);
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
      const ran =
        this.when === 'before'
          ? "none of the dump's statements ran"
          : 'none of them ran, and what had run before them is removed again';
      throw new DumpRefusedError(
        `${source.description}: ${refusedCount} statement(s) reach outside database "${database}" (accounts, privileges, system schemas, other databases or the server); ${ran}:\n${listed}${more}\n` +
          `Remove them from the dump (a dump of one database made without --databases, --all-databases or grants has none), or allow a kind explicitly: import.allowStatements ${JSON.stringify(kinds)} in the config, or --allow-statements ${kinds.join(',')}.`,
        refused,
      );
    }
    const text = this.tail.toString('latin1');
    const trailer = TRAILER.exec(text)?.[1];
    if (!trailer && !this.options.allowIncompleteDump) {
      const last = text.trimEnd().split('\n').pop() ?? '';
      throw new IncompleteDumpError(
        `${source.description} does not end with the completion line mysqldump and mariadb-dump write ("-- Dump completed ..."; its last line is ${JSON.stringify(last.slice(-120))}): it may be cut short (a copy or download that stopped at a line end looks complete otherwise); ${this.outcome}. ` +
          'Make a new dump, or, if the dump is complete and came from a tool that writes no trailer, set import.allowIncompleteDump to true (--allow-incomplete-dump).',
        last,
      );
    }
    return { statements, bytes, trailer, allowed, elapsedMs: Date.now() - this.started };
  }
}

/** A passed check for the log: `325 statements, 266804845 bytes, trailer "-- Dump completed ...", nothing refused`. */
export function checkSummary(checked: DumpCheckResult): string {
  const trailer = checked.trailer ? `trailer "${checked.trailer}"` : 'no completion trailer (allowed)';
  return `${checked.statements} statements, ${checked.bytes} bytes, ${trailer}, nothing refused`;
}

/** Whether an error is a verdict on the dump itself (refused, empty, cut or unreadable), not on a run. */
export function isDumpVerdict(err: unknown): err is Error {
  return (
    err instanceof DumpRefusedError ||
    err instanceof EmptyDumpError ||
    err instanceof IncompleteDumpError ||
    err instanceof DumpUnreadableError
  );
}

/** The pre-pass: the whole dump read and vetted before any of its statements runs. */
export async function checkDump(
  options: DumpCheckOptions,
  /** `while`: a run checked while loading was stopped before the end; its caller removes what it loaded. */
  when: 'before' | 'while' = 'before',
): Promise<DumpCheckResult> {
  const vetter = new DumpVetter(options, when);
  const reader = new DumpReader(options.source, vetter.onChunk);
  try {
    for await (const stmts of reader.statements()) for (const stmt of stmts) vetter.vet(stmt);
  } catch (err) {
    throw vetter.readFailure(err, reader) ?? err;
  }
  return vetter.finish(reader.bytes);
}
