import type { Readable } from 'node:stream';
import type { Connection } from 'mysql2/promise';
import { quoteIdent } from '../util/sql-ident';
import { connectWithRetry, DbTarget } from './connect';
import { queryBuffer, statementParts } from './buffer-query';
import { checkDump, checkSummary, DumpVetter, isDumpVerdict } from './dump-check';
import { DumpReader } from './dump-reader';
import { ImportProgress } from './progress-report';
import { ParallelImportRun, unitsTableDdl } from './parallel-import';
import { DumpRewriter, PreparedStatement, PROGRESS_TABLE, UNITS_TABLE } from './rewrites';
import { DumpStatement } from './splitter';
import { isTransient } from './transient';
import { checkPending, databaseIsEmpty, markChecked, pendingCheckRow, removeUncheckedImport } from './unchecked-import';
import {
  ALREADY_APPLIED_ERRNOS,
  DumpReadError,
  ImportBusyError,
  ReimportRefusedError,
  resumeAdvice,
  StatementError,
  describeReadError as readError,
  statementError as refusedStatement,
} from './import-errors';
import { RefusableKind } from './vetting';

export { DumpReadError, ImportBusyError, ReimportRefusedError, StatementError } from './import-errors';

/** Where the dump comes from: a file, an S3 object, ... opened from its first byte for every run. */
export interface DumpSource {
  /** Opens the dump from its first byte (a resume re-reads and skips: gzip cannot seek). */
  open(): Promise<Readable>;
  /** Whether the bytes are gzip (checked from the magic bytes, not the name). */
  readonly gzip: boolean;
  /** Size of what `open()` returns (compressed size for gzip), for progress and ETA. */
  readonly size?: number;
  /** For messages, e.g. the path or s3:// URL. */
  readonly description: string;
}

export interface ImportOptions {
  readonly source: DumpSource;
  readonly target: DbTarget;
  /** Identifies the dump in the progress table: its sha256, or the CDK asset hash. */
  readonly dumpHash: string;
  /**
   * Stop (cleanly, at a committed statement) once this much time has passed; the next run resumes. @default no limit
   */
  readonly timeBudgetMs?: number;
  /** Import even if the database holds a different dump's import (overwrites data changed since). @default false */
  readonly allowReimport?: boolean;
  /**
   * Upper bound on the bytes of data statements sent in one transaction (one round trip). Measured:
   * 1 MiB beats 2-32 MiB (bigger multi-statement packets run slower on the server).
   * @default 1 MiB (less if max_allowed_packet is small)
   */
  readonly batchBytes?: number;
  /** Upper bound on data statements per round trip. @default 2000 */
  readonly batchStatements?: number;
  /**
   * Let consecutive data statements (a table's INSERTs) share one transaction up to this many bytes
   * instead of committing every batch. Measured on MariaDB 10.11 with a 79 MB dump: one transaction per
   * table was ~1.7x slower than a commit per 1 MiB batch (undo grows), so it is off by default.
   * @default 0 (commit every batch)
   */
  readonly maxTransactionBytes?: number;
  /** How long to retry connecting to a database that is still starting. @default 120000 */
  readonly connectRetryMs?: number;
  /**
   * Connections loading in parallel (see ./parallel-import): with more than one, tables and chunks of their
   * INSERTs load concurrently and secondary indexes and foreign keys are added after the data. An import
   * begun in parallel always continues in parallel (its record is per unit), with one connection if so asked.
   * @default 1 (the sequential import)
   */
  readonly connections?: number;
  /**
   * Statement kinds (see `REFUSABLE_KINDS` in ./vetting) the dump may contain anyway, e.g. `['account']`.
   * @default none: a dump that touches accounts, privileges, system schemas or other databases is refused
   */
  readonly allowStatements?: readonly RefusableKind[];
  /** Import a dump that lacks mysqldump's `-- Dump completed` trailer. @default false */
  readonly allowIncompleteDump?: boolean;
  readonly log?: (message: string) => void;
  readonly onProgress?: (progress: ImportProgress) => void;
}

export interface ImportResult {
  /** True when the whole dump is in (now or by an earlier run). */
  readonly complete: boolean;
  /** The dump was already imported completely by an earlier run: nothing was done. */
  readonly alreadyComplete: boolean;
  /** Offset in the uncompressed dump up to which statements are committed. */
  readonly offset: number;
  readonly statements: number;
  /** Statements executed by this run (not counting replayed session settings). */
  readonly statementsThisRun: number;
  /** Uncompressed bytes imported by this run. */
  readonly bytesThisRun: number;
  readonly elapsedMs: number;
  /** What the RDS rewrites changed, with counts. */
  readonly rewrites: Record<string, number>;
}

interface ProgressRow {
  dump_hash: string;
  status: string;
  committed_offset: string;
  statements_done: string;
  pending_offset: string | null;
  updated_at: string;
}

/**
 * Imports a mysqldump statement by statement, resumably. Guarantee (see docs/import.md): every
 * statement is applied exactly once across any number of runs and crashes, provided data statements
 * go to transactional (InnoDB) tables. Data statements run in transactions that also advance the
 * progress record; any other statement is bracketed by a "pending" mark so a re-run after a crash
 * knows it may already have been applied.
 */
export async function importDump(options: ImportOptions): Promise<ImportResult> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const deadline = options.timeBudgetMs !== undefined ? started + options.timeBudgetMs : Infinity;
  const { target, dumpHash } = options;
  const table = quoteIdent(PROGRESS_TABLE);
  const conn = await connectWithRetry(target, { retryForMs: options.connectRetryMs, log });
  let lockName: string | undefined;
  try {
    // If this process dies without closing the connection (a Lambda killed at its timeout), the server
    // drops the session, and with it the import lock, after 10 idle minutes instead of the default 8 hours.
    await conn.query('SET SESSION wait_timeout = 600');
    await conn.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(target.database)} CHARACTER SET utf8mb4`);
    await conn.query(`USE ${quoteIdent(target.database)}`);
    lockName = `rushhour_import_${target.database}`.slice(0, 64);
    const [lockRows] = await conn.query(`SELECT GET_LOCK(${conn.escape(lockName)}, 10) AS got`);
    if (String((lockRows as Array<{ got: unknown }>)[0].got) !== '1') {
      const held = lockName;
      lockName = undefined;
      throw new ImportBusyError(
        `another import into database "${target.database}" is running (it holds the lock ${held}); try again when it has finished`,
      );
    }
    await conn.query(`CREATE TABLE IF NOT EXISTS ${table} (
      dump_hash VARCHAR(128) NOT NULL PRIMARY KEY,
      status VARCHAR(16) NOT NULL,
      committed_offset BIGINT NOT NULL DEFAULT 0,
      statements_done BIGINT NOT NULL DEFAULT 0,
      pending_offset BIGINT NULL,
      error TEXT NULL,
      started_at DATETIME(3) NOT NULL,
      updated_at DATETIME(3) NOT NULL,
      completed_at DATETIME(3) NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
    const [rows] = await conn.query(
      `SELECT dump_hash, status, committed_offset, statements_done, pending_offset, updated_at FROM ${table}`,
    );
    const all = rows as ProgressRow[];
    const mine = all.find((r) => r.dump_hash === dumpHash);
    const others = all.filter((r) => r.dump_hash !== dumpHash);
    if (mine?.status === 'complete') {
      log(
        `dump ${short(dumpHash)} is already imported into "${target.database}" (${mine.statements_done} statements): nothing to do`,
      );
      return {
        complete: true,
        alreadyComplete: true,
        offset: Number(mine.committed_offset),
        statements: Number(mine.statements_done),
        statementsThisRun: 0,
        bytesThisRun: 0,
        elapsedMs: Date.now() - started,
        rewrites: {},
      };
    }
    if (!mine && others.length && !options.allowReimport) {
      const o = others[others.length - 1];
      const unfinished =
        o.status === 'complete'
          ? ''
          : ` That import did not finish (committed up to byte ${o.committed_offset}); if this file is a corrected copy of it: ${resumeAdvice(target.database, o.dump_hash, Number(o.committed_offset))}.`;
      throw new ReimportRefusedError(
        `database "${target.database}" already holds an import of another dump (${short(o.dump_hash)}, ${o.status}, last change ${o.updated_at}). ` +
          'Importing a different dump would overwrite data changed since (e.g. registrations). Set import.allowReimport to true (AllowReimport / --allow-reimport) to do it anyway.' +
          unfinished,
      );
    }
    // Parallel when asked, or when an earlier run of this import was (its units table row says so).
    const connections = Math.max(1, Math.floor(options.connections ?? 1));
    const units = quoteIdent(UNITS_TABLE);
    const [unitsExist] = await conn.query(
      `SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ${conn.escape(target.database)} AND table_name = ${conn.escape(UNITS_TABLE)}`,
    );
    let parallel = connections > 1;
    let earlierUnchecked = false;
    if (Number((unitsExist as Array<{ n: string }>)[0].n) > 0) {
      if (!mine) await conn.query(`DELETE FROM ${units} WHERE dump_hash = ${conn.escape(dumpHash)}`);
      const [begun] = await conn.query(
        `SELECT COUNT(*) AS n FROM ${units} WHERE dump_hash = ${conn.escape(dumpHash)} AND kind = 'begin'`,
      );
      if (Number((begun as Array<{ n: string }>)[0].n) > 0) parallel = true;
      earlierUnchecked = Boolean(mine) && (await checkPending(conn, dumpHash));
    }
    const checkOptions = {
      source: options.source,
      database: target.database,
      allowStatements: options.allowStatements,
      allowIncompleteDump: options.allowIncompleteDump,
      log,
    };
    // Into an empty database, a new parallel import checks the dump while it loads (./unchecked-import); what
    // the operator allows (accounts, grants, ...) may reach outside the database, where nothing can be removed.
    const checkWhileLoading =
      parallel && !mine && !options.allowStatements?.length && (await databaseIsEmpty(conn, target.database));
    if (checkWhileLoading) {
      log(
        `"${target.database}" is empty: checking ${options.source.description} while it loads (nothing runs before it is vetted; a refused, cut or unreadable dump is removed again)`,
      );
    } else {
      // The pre-pass: nothing of the dump runs unless all of it is readable, complete and stays in its database.
      const checked = await checkDump(checkOptions, earlierUnchecked ? 'while' : 'before').catch(
        async (err: unknown) => {
          // Only a verdict on the dump removes what the earlier run loaded; a read that failed (S3, a lost file)
          // leaves it for the next run.
          if (earlierUnchecked && isDumpVerdict(err)) throw await removeUncheckedImport(target, dumpHash, err, log);
          if (mine) await recordFailure(conn, dumpHash, err);
          throw err;
        },
      );
      log(`checked ${options.source.description} before importing: ${checkSummary(checked)} (${checked.elapsedMs} ms)`);
      if (earlierUnchecked) await markChecked(conn, dumpHash);
    }
    if (parallel) {
      await conn.query(unitsTableDdl());
      // The mark that this import is parallel (its tables lack their deferred indexes until the end); it also
      // keeps the table non-empty, so no chunk's first row takes InnoDB's bulk-insert table lock on it.
      await conn.query(
        `INSERT IGNORE INTO ${units} (dump_hash, kind, start_offset, end_offset, statements, status) VALUES (${conn.escape(dumpHash)}, 'begin', 0, 0, 0, 'done')` +
          (checkWhileLoading ? `, ${pendingCheckRow(conn, dumpHash)}` : ''),
      );
    }
    if (!mine) {
      await conn.query(
        `INSERT INTO ${table} (dump_hash, status, started_at, updated_at) VALUES (${conn.escape(dumpHash)}, 'running', NOW(3), NOW(3))`,
      );
    } else {
      await conn.query(
        `UPDATE ${table} SET status = 'running', error = NULL, updated_at = NOW(3) WHERE dump_hash = ${conn.escape(dumpHash)}`,
      );
    }
    const resumeOffset = mine ? Number(mine.committed_offset) : 0;
    const pendingOffset = mine?.pending_offset != null ? Number(mine.pending_offset) : undefined;
    if (mine)
      log(
        `resuming dump ${short(dumpHash)} at byte ${resumeOffset} (${mine.statements_done} statements done${pendingOffset !== undefined ? `, statement at ${pendingOffset} possibly applied` : ''}); re-reading ${options.source.gzip ? 'and decompressing ' : ''}the dump up to there`,
      );

    const [packetRows] = await conn.query('SELECT @@max_allowed_packet AS m');
    const maxPacket = Number((packetRows as Array<{ m: string }>)[0].m);
    const maxBatchBytes = Math.min(options.batchBytes ?? 1024 * 1024, Math.floor(maxPacket / 2));
    const runOptions: ImportRunOptions = {
      conn,
      options,
      log,
      deadline,
      started,
      resumeOffset,
      resumeCount: Number(mine?.statements_done ?? 0),
      pendingOffset,
      maxBatchBytes,
    };
    const vetter = checkWhileLoading ? new DumpVetter(checkOptions, 'while') : undefined;
    const run = parallel ? new ParallelImportRun({ ...runOptions, connections, vetter }) : new ImportRun(runOptions);
    try {
      return await run.execute();
    } catch (err) {
      if (vetter && isDumpVerdict(err)) throw await removeUncheckedImport(target, dumpHash, err, log);
      await recordFailure(conn, dumpHash, err);
      throw err;
    }
  } finally {
    if (lockName) await conn.query(`DO RELEASE_LOCK(${conn.escape(lockName)})`).catch(() => undefined);
    await conn.end().catch(() => conn.destroy());
  }
}

/**
 * Marks the progress row failed with the error. The message goes as UTF-8 bytes in a hex literal with
 * an explicit charset: the session may be in whatever `SET NAMES` the dump chose, and a message quoting
 * invalid bytes must not make this update fail too (that left the row `running` with no error).
 */
async function recordFailure(conn: Connection, dumpHash: string, err: unknown): Promise<void> {
  const message = (err instanceof Error ? err.message : String(err)).slice(0, 4000);
  const hex = Buffer.from(message, 'utf8').toString('hex');
  await conn
    .query(
      `UPDATE ${quoteIdent(PROGRESS_TABLE)} SET status = 'failed', error = CONVERT(X'${hex}' USING utf8mb4), updated_at = NOW(3) WHERE dump_hash = ${conn.escape(dumpHash)}`,
    )
    .catch(() => undefined);
}

interface DataTransaction {
  readonly fromEnd: number;
  readonly fromCount: number;
  bytes: number;
}

/** What one run needs: the open session, the options, the time budget and where the progress record resumes. */
export interface ImportRunOptions {
  readonly conn: Connection;
  readonly options: ImportOptions;
  readonly log: (m: string) => void;
  /** Epoch ms after which no new unit of work starts (Infinity: no budget). */
  readonly deadline: number;
  /** Epoch ms when importDump began: elapsed time and rates count from here. */
  readonly started: number;
  /** Committed offset and statement count from the progress record (0 for a new import). */
  readonly resumeOffset: number;
  readonly resumeCount: number;
  /** Start of a statement a crash may have applied (run once more, "already applied" errors accepted). */
  readonly pendingOffset: number | undefined;
  /** Bytes of data statements per round trip: at most half the server's max_allowed_packet. */
  readonly maxBatchBytes: number;
}

class ImportRun {
  private readonly table = quoteIdent(PROGRESS_TABLE);
  private readonly rewriter: DumpRewriter;
  private batch: PreparedStatement[] = [];
  private batchSize = 0;
  /** End offset and statement count of the last statement handled (executed or dropped). */
  private handledEnd: number;
  private handledCount: number;
  private statementsThisRun = 0;
  /** The one read of the dump: its byte counts feed the progress report. */
  private readonly reader: DumpReader;
  private resumeRawBytes = -1;
  private lastReport = 0;
  /** At least one unit of work per run, so even a zero budget makes progress. */
  private worked = false;
  /** The data transaction left open across batches (only with maxTransactionBytes > 0). */
  private txn?: DataTransaction;
  /** The batch the server is working on, and the error it ended with. */
  private inflight?: Promise<void>;
  private failure?: unknown;

  private readonly conn: Connection;
  private readonly options: ImportOptions;
  private readonly log: (m: string) => void;
  private readonly deadline: number;
  private readonly started: number;
  private readonly resumeOffset: number;
  private readonly resumeCount: number;
  private pendingOffset: number | undefined;
  private readonly maxBatchBytes: number;

  constructor(run: ImportRunOptions) {
    this.conn = run.conn;
    this.options = run.options;
    this.log = run.log;
    this.deadline = run.deadline;
    this.started = run.started;
    this.resumeOffset = run.resumeOffset;
    this.resumeCount = run.resumeCount;
    this.pendingOffset = run.pendingOffset;
    this.maxBatchBytes = run.maxBatchBytes;
    this.rewriter = new DumpRewriter(run.options.target.database);
    this.reader = new DumpReader(run.options.source);
    this.handledEnd = run.resumeOffset;
    this.handledCount = run.resumeCount;
  }

  async execute(): Promise<ImportResult> {
    let stopped = false;
    try {
      outer: for await (const stmts of this.reader.statements()) {
        for (const stmt of stmts) {
          if (!(await this.handle(stmt))) {
            stopped = true;
            break outer;
          }
        }
      }
    } catch (err) {
      await this.drain(); // a failed batch is the better explanation (it has rolled back its transaction)
      if (this.txn) {
        // what was sent is good: keep it, with its progress
        this.txn = undefined;
        await this.conn.query('COMMIT');
      }
      throw this.describeReadError(err);
    }
    await this.commitData();
    if (!stopped) {
      const dumpBytes = this.reader.bytes;
      if (dumpBytes < this.resumeOffset) {
        throw new DumpReadError(
          `the dump ends at byte ${dumpBytes}, before the recorded progress (${this.resumeOffset}): is this the same dump?`,
        );
      }
      // Trailing comments after the last statement belong to the dump too: complete means "up to its last byte".
      this.handledEnd = Math.max(this.handledEnd, dumpBytes);
      await this.conn.query(
        `UPDATE ${this.table} SET status = 'complete', committed_offset = ${this.handledEnd}, statements_done = ${this.handledCount}, pending_offset = NULL, error = NULL, updated_at = NOW(3), completed_at = NOW(3) WHERE dump_hash = ${this.conn.escape(this.options.dumpHash)}`,
      );
    } else {
      await this.saveOffset();
    }
    const rewrites = this.rewriter.summary();
    for (const [what, count] of Object.entries(rewrites)) this.log(`rds rewrite: ${what} x${count}`);
    this.report(stopped ? 'importing' : 'done', true);
    const elapsedMs = Date.now() - this.started;
    this.log(
      stopped
        ? `time budget reached after ${Math.round(elapsedMs / 1000)}s: committed up to byte ${this.handledEnd} (${this.handledCount} statements); the next run resumes there`
        : `import complete: ${this.handledCount} statements, ${this.handledEnd} bytes`,
    );
    return {
      complete: !stopped,
      alreadyComplete: false,
      offset: this.handledEnd,
      statements: this.handledCount,
      statementsThisRun: this.statementsThisRun,
      bytesThisRun: this.handledEnd - this.resumeOffset,
      elapsedMs,
      rewrites,
    };
  }

  /** Handles one statement; false means "time is up, stop here" (everything before is committed). */
  private async handle(stmt: DumpStatement): Promise<boolean> {
    const prepared = this.rewriter.prepare(stmt);
    if (stmt.endOffset <= this.resumeOffset) {
      // Committed by an earlier run: skip, but replay session settings (SET NAMES, FOREIGN_KEY_CHECKS, sql_mode, ...)
      // so the rest runs in the same session state as in one uninterrupted run.
      if (prepared?.kind === 'session') await this.exec(prepared);
      this.report('skipping');
      return true;
    }
    if (stmt.startOffset < this.resumeOffset) {
      throw new DumpReadError(
        `the recorded progress (byte ${this.resumeOffset}) is inside the statement at bytes ${stmt.startOffset}-${stmt.endOffset}: the dump is not the one the progress record was made with`,
      );
    }
    if (this.resumeRawBytes < 0) this.resumeRawBytes = this.reader.rawBytes;
    if (!prepared) {
      // dropped by a rewrite: just move past it
      this.handledEnd = stmt.endOffset;
      this.handledCount++;
      return true;
    }
    if (prepared.kind === 'data') {
      if (this.batch.length && this.batchSize + prepared.sql.length > this.maxBatchBytes) await this.flush();
      if (!this.batch.length && this.timeIsUp()) return false;
      this.batch.push(prepared);
      this.batchSize += prepared.sql.length;
      if (this.batch.length >= (this.options.batchStatements ?? 2000) || this.batchSize >= this.maxBatchBytes)
        await this.flush();
      return true;
    }
    await this.commitData();
    if (prepared.kind === 'session') {
      await this.exec(prepared);
      this.handledEnd = stmt.endOffset;
      this.handledCount++;
      return true;
    }
    if (this.timeIsUp()) return false;
    await this.execOther(prepared);
    return true;
  }

  private timeIsUp(): boolean {
    return this.worked && Date.now() >= this.deadline;
  }

  /** A statement that may commit implicitly (DDL, routines, ...): mark it pending, run it, then record it done. */
  private async execOther(stmt: PreparedStatement): Promise<void> {
    const hash = this.conn.escape(this.options.dumpHash);
    const retry = this.pendingOffset === stmt.startOffset;
    this.pendingOffset = undefined;
    await this.conn.query(
      `UPDATE ${this.table} SET pending_offset = ${stmt.startOffset}, committed_offset = ${this.handledEnd}, statements_done = ${this.handledCount}, updated_at = NOW(3) WHERE dump_hash = ${hash}`,
    );
    try {
      await this.conn.query(stmt.sql.toString('latin1'));
    } catch (err) {
      const errno = (err as { errno?: number }).errno;
      if (!(retry && errno !== undefined && ALREADY_APPLIED_ERRNOS.has(errno))) throw this.statementError(stmt, err);
      this.log(
        `statement at byte ${stmt.startOffset} was applied before the last run stopped (${(err as Error).message}); not applying it twice`,
      );
    }
    this.statementsThisRun++;
    this.worked = true;
    this.handledEnd = stmt.endOffset;
    this.handledCount++;
    await this.saveOffset();
    this.report('importing');
  }

  private async exec(stmt: PreparedStatement): Promise<void> {
    try {
      await this.conn.query(stmt.sql.toString('latin1'));
    } catch (err) {
      throw this.statementError(stmt, err);
    }
  }

  private async saveOffset(): Promise<void> {
    await this.conn.query(this.progressUpdate(this.handledEnd, this.handledCount));
  }

  private progressUpdate(offset: number, count: number): string {
    return `UPDATE ${this.table} SET committed_offset = ${offset}, statements_done = ${count}, pending_offset = NULL, updated_at = NOW(3) WHERE dump_hash = ${this.conn.escape(this.options.dumpHash)}`;
  }

  /**
   * Sends the batched data statements and the progress update as one transaction in one round trip.
   * It does not wait for the result: the next batch is split and prepared while the server works
   * (one batch in flight at most; everything else that talks to the server drains first).
   */
  private async flush(): Promise<void> {
    await this.drain();
    if (!this.batch.length) return;
    const batch = this.batch;
    this.batch = [];
    this.batchSize = 0;
    const fromEnd = this.handledEnd;
    const fromCount = this.handledCount;
    const last = batch[batch.length - 1];
    const count = fromCount + batch.length;
    const begin = !this.txn;
    if (begin) this.txn = { fromEnd, fromCount, bytes: 0 };
    const txn = this.txn!;
    txn.bytes += batch.reduce((n, st) => n + st.sql.length, 0);
    const commit = txn.bytes >= (this.options.maxTransactionBytes ?? 0);
    // "\n;" ends a trailing `#`/`--` comment before the separator.
    const sql = statementParts(
      Buffer.from(begin ? 'START TRANSACTION;\n' : ''),
      batch,
      Buffer.from(`\n;\n${this.progressUpdate(last.endOffset, count)}${commit ? ';\nCOMMIT' : ''}`, 'latin1'),
    );
    if (commit) this.txn = undefined;
    // Counted as handled now; if the batch fails, the import stops with its error and the progress
    // record (written by the server in the same transaction, not from these fields) says what is committed.
    this.statementsThisRun += batch.length;
    this.worked = true;
    this.handledEnd = last.endOffset;
    this.handledCount = count;
    this.inflight = this.runBatch(sql, batch, fromEnd, fromCount, txn).catch((err) => {
      this.failure = err;
    });
  }

  /** Sends what is batched and commits the open data transaction, and waits for it. */
  private async commitData(): Promise<void> {
    if (this.batch.length && this.txn) this.txn.bytes = Infinity; // makes flush() commit
    if (this.batch.length) await this.flush();
    await this.drain();
    if (this.txn) {
      this.txn = undefined;
      await this.conn.query('COMMIT');
    }
  }

  /** Waits for the batch in flight; throws its error if it failed. */
  private async drain(): Promise<void> {
    if (this.inflight) {
      await this.inflight;
      this.inflight = undefined;
    }
    if (this.failure) throw this.failure;
  }

  /**
   * If the server refuses a statement of the batch, the transaction is rolled back and the batch re-run
   * one by one to name the failing statement exactly. When the batch opened the transaction, the
   * statements before the failing one are committed; otherwise (earlier batches of the same table were
   * rolled back with it) nothing is, and the progress record stays at the transaction's start.
   */
  private async runBatch(
    sql: readonly Buffer[],
    batch: PreparedStatement[],
    fromEnd: number,
    fromCount: number,
    txn: DataTransaction,
  ): Promise<void> {
    try {
      await queryBuffer(this.conn, sql, `/* rushhour: the batch from byte ${batch[0].startOffset} */`);
    } catch (batchErr) {
      if (isTransient(batchErr, { contention: false })) throw batchErr;
      this.txn = undefined;
      await this.conn.query('ROLLBACK');
      const opened = txn.fromEnd === fromEnd;
      await this.conn.query('START TRANSACTION');
      let done = 0;
      for (const stmt of batch) {
        try {
          await this.conn.query(stmt.sql.toString('latin1'));
        } catch (err) {
          if (opened) {
            if (done) await this.conn.query(this.progressUpdate(batch[done - 1].endOffset, fromCount + done));
            await this.conn.query('COMMIT');
            this.handledEnd = done ? batch[done - 1].endOffset : fromEnd;
            this.handledCount = fromCount + done;
          } else {
            await this.conn.query('ROLLBACK');
            this.handledEnd = txn.fromEnd;
            this.handledCount = txn.fromCount;
          }
          throw this.statementError(stmt, err);
        }
        done++;
      }
      // Every statement passed alone (the batch failed for another reason, e.g. packet size).
      if (!opened) {
        await this.conn.query('ROLLBACK');
        // eslint-disable-next-line preserve-caught-error -- the driver error quotes the batch's SQL (dump data)
        throw new Error(
          `a batch of ${batch.length} statements from byte offset ${batch[0].startOffset} failed (${(batchErr as Error).message}), but each statement succeeds alone: lower batchBytes`,
        );
      }
      await this.conn.query(
        this.progressUpdate(batch[batch.length - 1].endOffset, fromCount + batch.length) + ';\nCOMMIT',
      );
    }
    this.report('importing');
  }

  private statementError(stmt: DumpStatement, err: unknown): StatementError {
    return refusedStatement(stmt, err, { options: this.options, committed: this.handledEnd });
  }

  private describeReadError(err: unknown): Error {
    return readError(err, this.reader, { options: this.options, committed: this.handledEnd });
  }

  private report(phase: ImportProgress['phase'], force = false): void {
    if (!this.options.onProgress) return;
    const now = Date.now();
    if (!force && now - this.lastReport < 250) return;
    this.lastReport = now;
    const elapsedMs = now - this.started;
    const since = this.resumeRawBytes < 0 ? this.reader.rawBytes : this.reader.rawBytes - this.resumeRawBytes;
    const bytesPerSecond = elapsedMs > 0 ? (since * 1000) / elapsedMs : 0;
    const total = this.options.source.size;
    const etaMs =
      total && bytesPerSecond > 0 && phase === 'importing'
        ? ((total - this.reader.rawBytes) * 1000) / bytesPerSecond
        : undefined;
    this.options.onProgress({
      bytesRead: this.reader.rawBytes,
      totalBytes: total,
      offset: this.handledEnd,
      statements: this.handledCount,
      resumedFrom: this.resumeCount,
      elapsedMs,
      bytesPerSecond,
      etaMs,
      phase,
    });
  }
}

function short(hash: string): string {
  return hash.length > 16 ? hash.slice(0, 12) + '...' : hash;
}
