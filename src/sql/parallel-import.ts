import type { Connection } from 'mysql2/promise';
import { quoteIdent } from '../util/sql-ident';
import { queryBuffer, statementParts } from './buffer-query';
import { connectWithRetry } from './connect';
import { alterAdding, DeferredDefinition, splitCreateTable, unquote } from './deferred-ddl';
import { checkSummary, type DumpVetter } from './dump-check';
import { DumpReader } from './dump-reader';
import {
  ALREADY_APPLIED_ERRNOS,
  DeferredIndexError,
  DumpReadError,
  resumeAdvice,
  describeReadError as readError,
  statementError as refusedStatement,
} from './import-errors';
import type { ImportResult, ImportRunOptions } from './importer';
import { ImportProgress } from './progress-report';
import { DumpRewriter, keywordsKeepCase, PreparedStatement, PROGRESS_TABLE, UNITS_TABLE } from './rewrites';
import { DumpStatement } from './splitter';
import { isTransient } from './transient';
import { redactServerMessage } from './vetting';

/**
 * The parallel import: one read of the dump turned into units of work run on N connections.
 *
 * - A table's `CREATE TABLE` runs with its primary key only; its secondary indexes go into one
 *   `ALTER TABLE ... ADD ..., ADD ...` after the dump's data, its foreign keys into one more after all indexes.
 * - Its INSERTs are cut into chunks (consecutive statements, up to batchBytes): once the table exists the
 *   chunks are independent and run concurrently, also across tables.
 * - Every other statement (views, triggers, routines, events, `INSERT ... SELECT`, ...) is a barrier: it
 *   runs after everything before it in the dump and before everything after it, as in a sequential import.
 *
 * Exactly once: a chunk commits in one transaction with its row in the units table; a DDL statement or
 * a deferred ALTER is marked pending before and done after (DDL commits implicitly). On resume a pending
 * statement is run again accepting "already exists", and a deferred ALTER adds only the indexes and
 * constraints information_schema does not list.
 *
 * Session state: each connection replays the dump's session statements (`SET NAMES`, `sql_mode`,
 * `FOREIGN_KEY_CHECKS`, ...) up to a unit's position before it runs the unit. Units that depend on the
 * session are handed out in dump order, so a connection only ever moves forward in the dump's session.
 */

/** What a sequential run needs (importer.ts's ImportRunOptions), and how many connections to load on. */
export interface ParallelRunOptions extends ImportRunOptions {
  readonly connections: number;
  /**
   * Vets each statement before it is planned, instead of a pre-pass (an import into an empty database, see
   * ./unchecked-import): after a refused statement nothing more is planned, the rest is only read and
   * vetted (so the error lists every refusal), and the verdict comes before the deferred indexes.
   * @default none: the dump was checked before this run
   */
  readonly vetter?: DumpVetter;
}

type UnitKind = 'data' | 'ddl' | 'indexes' | 'fks';

interface Unit {
  readonly kind: UnitKind;
  /** Byte range in the dump (deferred units: the CREATE TABLE's start, end = start). */
  readonly start: number;
  readonly end: number;
  readonly stmts: PreparedStatement[];
  readonly table?: string;
  /** Session statements to apply before (undefined: the unit sets what it needs itself). */
  readonly session?: number;
  readonly deps: Unit[];
  /** Deferred: the table and what to add. */
  readonly defs?: readonly DeferredDefinition[];
  /** A CREATE TABLE's deferred units, recorded as planned before it runs. */
  readonly plans?: readonly UnitKind[];
  /** INSERT IGNORE, REPLACE, ON DUPLICATE KEY UPDATE: the table's chunks in dump order, one after the other. */
  readonly ordered?: boolean;
  bytes: number;
  state: 'queued' | 'running' | 'done';
}

interface TableState {
  readonly name: string;
  readonly createOffset: number;
  readonly indexes: readonly DeferredDefinition[];
  readonly foreignKeys: readonly DeferredDefinition[];
  indexUnit?: Unit;
  fkUnit?: Unit;
}

interface LedgerEntry {
  end: number;
  count: number;
  unit?: Unit;
}

interface Worker {
  readonly conn: Connection;
  applied: number;
  busy: boolean;
}

interface UnitRow {
  kind: string;
  start_offset: string;
  end_offset: string;
  status: string;
}

const COMMIT = Buffer.from('\n;\nCOMMIT');
const INSERT_VALUES =
  /^(INSERT|REPLACE)\s+(?:(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY)\s+)?(IGNORE\s+)?INTO\s+(`(?:[^`]|``)+`|[A-Za-z0-9_$]+)\s*(?:\([^)]*\)\s*)?VALUES?\b/i;
const TABLE_LOCAL =
  /^(?:(DROP)\s+TABLE\s+(?:IF\s+EXISTS\s+)?|(CREATE)\s+TABLE\s+(?!IF\s)|(ALTER)\s+TABLE\s+)(`(?:[^`]|``)+`|[A-Za-z0-9_$]+)\s*([\s\S]{0,40})/i;
/** Statements on objects that do not depend on a table's indexes: barriers that need no deferred ALTER first. */
const NEUTRAL =
  /^(CREATE|DROP|ALTER)\s+(OR\s+REPLACE\s+)?(ALGORITHM\s*=\s*\w+\s+)?(SQL\s+SECURITY\s+\w+\s+)?(AGGREGATE\s+)?(VIEW|TRIGGER|PROCEDURE|FUNCTION|EVENT)\b|^(ALTER\s+(DATABASE|SCHEMA))\b/i;

export class ParallelImportRun {
  private readonly units = quoteIdent(UNITS_TABLE);
  private readonly progress = quoteIdent(PROGRESS_TABLE);
  private readonly rewriter: DumpRewriter;
  private readonly reader: DumpReader;
  private readonly hash: string;
  private readonly batchStatements: number;

  private readonly sessionSql: string[] = [];
  private workers: Worker[] = [];
  /** Session-bound units in dump order (handed out from the head only). */
  private queue: Unit[] = [];
  /** Deferred ALTERs (session-free: handed out as soon as their dependencies are done). */
  private side: Unit[] = [];
  private readonly openUnits = new Set<Unit>();
  private lastBarrier?: Unit;
  private readonly tables = new Map<string, TableState>();
  private readonly tableOpen = new Map<string, Unit[]>();
  /** Tables whose CREATE says ENGINE=InnoDB. */
  private readonly innodb = new Set<string>();
  private readonly tableOrder: TableState[] = [];
  private chunk?: Unit;
  private readonly ledger: LedgerEntry[] = [];
  private ledgerHead = 0;
  private watermark: number;
  private watermarkCount: number;

  /** Done ranges from earlier runs (sorted), pending DDL starts, done deferred keys. */
  private doneRanges: Array<[number, number]> = [];
  private rangeIndex = 0;
  private readonly pendingDdl = new Set<number>();
  private readonly doneDeferred = new Set<string>();
  private readonly plannedDeferred = new Set<string>();

  private statementsThisRun = 0;
  private worked = false;
  private stopping = false;
  private failure?: unknown;
  private waiters: Array<() => void> = [];
  private resumeRawBytes = -1;
  /** Connection-milliseconds spent running units, and when the first started: how busy the N connections were. */
  private busyMs = 0;
  private firstDispatch = 0;
  private lastReport = 0;

  constructor(private readonly run: ParallelRunOptions) {
    this.rewriter = new DumpRewriter(run.options.target.database);
    this.reader = new DumpReader(run.options.source, run.vetter?.onChunk);
    this.hash = run.conn.escape(run.options.dumpHash);
    this.batchStatements = run.options.batchStatements ?? 2000;
    this.watermark = run.resumeOffset;
    this.watermarkCount = run.resumeCount;
    if (run.pendingOffset !== undefined) this.pendingDdl.add(run.pendingOffset);
  }

  async execute(): Promise<ImportResult> {
    await this.loadUnits();
    await this.openWorkers();
    const vetter = this.run.vetter;
    let stopped = false;
    try {
      try {
        outer: for await (const stmts of this.reader.statements()) {
          for (const stmt of stmts) {
            if (this.failure || this.stopping) break outer;
            if (vetter) {
              vetter.vet(stmt);
              // After a refusal nothing more is planned; the rest is only vetted, so the error lists every refusal.
              if (vetter.refusing) continue;
            }
            this.plan(stmt);
            await this.throttle();
          }
        }
      } catch (err) {
        this.fail(vetter?.readFailure(err, this.reader) ?? this.describeReadError(err));
      }
      if (vetter && !this.failure && !this.stopping) {
        try {
          const checked = vetter.finish(this.reader.bytes);
          this.run.log(`checked ${this.run.options.source.description} while loading it: ${checkSummary(checked)}`);
        } catch (err) {
          this.fail(err);
        }
      }
      if (!this.failure && !this.stopping) {
        this.closeChunk();
        const dumpBytes = this.reader.bytes;
        if (dumpBytes < this.run.resumeOffset)
          this.fail(
            new DumpReadError(
              `the dump ends at byte ${dumpBytes}, before the recorded progress (${this.run.resumeOffset}): is this the same dump?`,
            ),
          );
        for (const t of this.tableOrder) this.scheduleIndexes(t);
        for (const t of this.tableOrder) this.scheduleForeignKeys(t);
      }
      while (this.openUnits.size && !this.failure && !this.stopping) {
        this.pump();
        if (!this.openUnits.size || this.failure || this.stopping) break;
        if (!this.workers.some((w) => w.busy))
          throw new Error(`internal error: ${this.openUnits.size} units left, none of them ready (parallel import)`);
        await this.nextEvent();
      }
      await this.settle();
      if (this.failure) throw this.failure;
      stopped = this.stopping || this.openUnits.size > 0;
      if (!stopped) {
        this.advanceWatermark();
        const end = Math.max(this.watermark, this.reader.bytes);
        await this.run.conn.query(
          `START TRANSACTION;\nUPDATE ${this.progress} SET status = 'complete', committed_offset = ${end}, statements_done = ${this.watermarkCount}, pending_offset = NULL, error = NULL, updated_at = NOW(3), completed_at = NOW(3) WHERE dump_hash = ${this.hash};\nDELETE FROM ${this.units} WHERE dump_hash = ${this.hash};\nCOMMIT`,
        );
        this.watermark = end;
      }
    } finally {
      if (stopped || this.failure) await this.saveWatermark().catch(() => undefined);
      await this.closeWorkers();
    }
    const rewrites = this.rewriter.summary();
    for (const [what, count] of Object.entries(rewrites)) this.run.log(`rds rewrite: ${what} x${count}`);
    this.report(stopped ? 'importing' : 'done', true);
    const elapsedMs = Date.now() - this.run.started;
    this.run.log(
      stopped
        ? `time budget reached after ${Math.round(elapsedMs / 1000)}s: committed up to byte ${this.watermark} (${this.watermarkCount} statements) and every unit recorded in ${UNITS_TABLE}; the next run resumes there`
        : `import complete on ${this.run.connections} connections (${this.busyShare()} busy on average): ${this.watermarkCount} statements, ${this.watermark} bytes`,
    );
    return {
      complete: !stopped,
      alreadyComplete: false,
      offset: this.watermark,
      statements: this.watermarkCount,
      statementsThisRun: this.statementsThisRun,
      bytesThisRun: this.watermark - this.run.resumeOffset,
      elapsedMs,
      rewrites,
    };
  }

  // ---- the plan: statements to units -------------------------------------------------------------

  private plan(stmt: DumpStatement): void {
    const prepared = this.rewriter.prepare(stmt);
    if (stmt.endOffset > this.run.resumeOffset && stmt.startOffset < this.run.resumeOffset)
      throw new DumpReadError(
        `the recorded progress (byte ${this.run.resumeOffset}) is inside the statement at bytes ${stmt.startOffset}-${stmt.endOffset}: the dump is not the one the progress record was made with`,
      );
    const done = this.isDone(stmt);
    if (!done && this.resumeRawBytes < 0) this.resumeRawBytes = this.reader.rawBytes;
    if (!prepared) {
      // A dropped statement ends the chunk too: a chunk's byte range holds only its own statements.
      this.closeChunk();
      this.trivial(stmt);
      return;
    }
    if (prepared.kind === 'session') {
      this.closeChunk();
      this.sessionSql.push(prepared.sql.toString('latin1'));
      this.trivial(stmt);
      return;
    }
    const head = keywordsKeepCase(prepared.sql.subarray(0, 2048).toString('latin1'));
    if (prepared.kind === 'data') {
      const m = INSERT_VALUES.exec(head);
      if (m) {
        const table = unquote(m[3]);
        const t = this.tables.get(table);
        // IGNORE, REPLACE and ON DUPLICATE KEY UPDATE decide by the unique keys (those must exist first), and
        // by which row came first (the table's chunks then run one after the other).
        const ordered = Boolean(
          m[2] || m[1].toUpperCase() === 'REPLACE' || /ON\s+DUPLICATE\s+KEY\s+UPDATE/i.test(tail(prepared.sql)),
        );
        if (t && ordered) this.scheduleIndexes(t);
        if (done) {
          this.closeChunk();
          this.trivial(stmt);
          return;
        }
        if (
          this.chunk &&
          (this.chunk.table !== table ||
            this.chunk.bytes + prepared.sql.length > this.run.maxBatchBytes ||
            this.chunk.stmts.length >= this.batchStatements)
        )
          this.closeChunk();
        if (this.chunk && ordered && !this.chunk.ordered) this.closeChunk();
        if (!this.chunk) {
          this.chunk = this.newUnit('data', prepared.startOffset, prepared.endOffset, [], table);
          if (ordered) (this.chunk as { ordered?: boolean }).ordered = true;
        }
        this.chunk.stmts.push(prepared);
        this.chunk.bytes += prepared.sql.length;
        (this.chunk as { end: number }).end = prepared.endOffset;
        return;
      }
    }
    this.closeChunk();
    if (prepared.kind === 'data') {
      // UPDATE, DELETE, INSERT ... SELECT: a barrier (it may read any table, and the indexes), run as a transaction
      // with its units row like a chunk: it does not commit implicitly, so the pending mark of DDL would not do.
      for (const t of this.tableOrder) this.scheduleIndexes(t);
      for (const t of this.tableOrder) this.scheduleForeignKeys(t);
      if (done) this.trivial(stmt);
      else this.enqueue(this.newUnit('data', prepared.startOffset, prepared.endOffset, [prepared]), true);
      return;
    }
    const local = TABLE_LOCAL.exec(head);
    let sql = prepared.sql;
    let table: string | undefined;
    let create: ReturnType<typeof splitCreateTable>;
    if (local && local[2]) create = splitCreateTable(prepared.sql.toString('latin1'));
    const isLocal =
      local !== null &&
      !/^\s*,/.test(local[5]) &&
      (local[1] !== undefined || create !== undefined || /^(DISABLE|ENABLE)\s+KEYS\b/i.test(local[5]));
    const barrier = !isLocal;
    if (isLocal && local[3] && this.innodb.has(unquote(local[4]))) {
      // mysqldump's DISABLE/ENABLE KEYS around a table's data: InnoDB ignores them, and ENABLE KEYS would wait
      // for all the table's chunks before the next table may start. Not sent for InnoDB tables.
      this.trivial(stmt);
      return;
    }
    if (isLocal) {
      table = unquote(local[4]);
      const prior = this.tables.get(table);
      if (create && (create.indexes.length || create.foreignKeys.length)) sql = Buffer.from(create.create, 'latin1');
      if (local[1] && prior) {
        // A DROP of the table: what was deferred for it goes first.
        this.scheduleIndexes(prior);
        this.scheduleForeignKeys(prior);
      }
    } else if (!NEUTRAL.test(head)) {
      // Anything else may depend on the indexes (INSERT ... SELECT, RENAME, CREATE INDEX, ...): all of them first.
      for (const t of this.tableOrder) this.scheduleIndexes(t);
      for (const t of this.tableOrder) this.scheduleForeignKeys(t);
    }
    if (create) {
      // The dump has moved on to another table: the indexes of the tables before it can be built now, while
      // this one loads (mysqldump writes a table's data right after its CREATE). Foreign keys wait for the end.
      for (const t of this.tableOrder) this.scheduleIndexes(t);
      // A CREATE an earlier run did is deferred only if that run said so (it records the plan before the CREATE):
      // a sequential run created the table whole.
      const planned =
        !done ||
        this.plannedDeferred.has(`indexes:${stmt.startOffset}`) ||
        this.plannedDeferred.has(`fks:${stmt.startOffset}`);
      this.registerTable(
        create.table,
        stmt.startOffset,
        planned ? create.indexes : [],
        planned ? create.foreignKeys : [],
      );
      const engine = /\)[^)]*\bENGINE\s*=\s*(\w+)/i.exec(create.create)?.[1];
      if (engine?.toLowerCase() === 'innodb') this.innodb.add(create.table);
      else this.innodb.delete(create.table);
    }
    if (done) {
      this.trivial(stmt);
      return;
    }
    const unit = this.newUnit('ddl', prepared.startOffset, prepared.endOffset, [{ ...prepared, sql }], table);
    if (create) {
      const plans: UnitKind[] = [];
      if (create.indexes.length) plans.push('indexes');
      if (create.foreignKeys.length) plans.push('fks');
      (unit as { plans?: UnitKind[] }).plans = plans;
    }
    this.enqueue(unit, barrier);
  }

  /** Backpressure: the reader stays a few units ahead of the connections, no more. */
  private async throttle(): Promise<void> {
    while (this.queue.length > 2 * this.run.connections + 2 && !this.failure && !this.stopping) await this.nextEvent();
  }

  private isDone(stmt: DumpStatement): boolean {
    if (stmt.endOffset <= this.run.resumeOffset) return true;
    while (this.rangeIndex < this.doneRanges.length && this.doneRanges[this.rangeIndex][1] <= stmt.startOffset)
      this.rangeIndex++;
    const r = this.doneRanges[this.rangeIndex];
    return r !== undefined && r[0] <= stmt.startOffset && stmt.endOffset <= r[1];
  }

  private trivial(stmt: DumpStatement): void {
    // Counted in the progress row's statements_done already.
    if (stmt.endOffset <= this.run.resumeOffset) return;
    const last = this.ledger[this.ledger.length - 1];
    if (last && !last.unit && this.ledger.length > this.ledgerHead) {
      last.end = stmt.endOffset;
      last.count++;
    } else this.ledger.push({ end: stmt.endOffset, count: 1 });
  }

  private registerTable(
    name: string,
    createOffset: number,
    indexes: readonly DeferredDefinition[],
    foreignKeys: readonly DeferredDefinition[],
  ): void {
    const t: TableState = { name, createOffset, indexes, foreignKeys };
    this.tables.set(name, t);
    this.tableOrder.push(t);
  }

  private newUnit(kind: UnitKind, start: number, end: number, stmts: PreparedStatement[], table?: string): Unit {
    return {
      kind,
      start,
      end,
      stmts,
      table,
      session: kind === 'data' || kind === 'ddl' ? this.sessionSql.length : undefined,
      deps: [],
      bytes: stmts.reduce((n, s) => n + s.sql.length, 0),
      state: 'queued',
    };
  }

  private closeChunk(): void {
    const chunk = this.chunk;
    if (!chunk) return;
    this.chunk = undefined;
    this.enqueue(chunk, false);
  }

  /** Adds a session-bound unit: after the last barrier and the table's open units (a barrier: after everything). */
  private enqueue(unit: Unit, barrier: boolean): void {
    if (barrier) {
      // Everything before it (a deferred ALTER only if something scheduled it early: then it matters).
      for (const u of this.openUnits) unit.deps.push(u);
    } else {
      if (this.lastBarrier && this.lastBarrier.state !== 'done') unit.deps.push(this.lastBarrier);
      if (unit.table !== undefined) {
        const open = this.openOf(unit.table);
        // Chunks of one table are independent of each other, not of its DDL and deferred ALTERs.
        unit.deps.push(...(unit.kind === 'data' && !unit.ordered ? open.filter((u) => u.kind !== 'data') : open));
      }
    }
    if (unit.table !== undefined) this.openOf(unit.table).push(unit);
    if (barrier) this.lastBarrier = unit;
    this.openUnits.add(unit);
    this.queue.push(unit);
    this.ledger.push({ end: unit.end, count: unit.stmts.length, unit });
    this.pump();
  }

  /** The units touching a table (by name) that are not done yet. */
  private openOf(table: string): Unit[] {
    const open = (this.tableOpen.get(table) ?? []).filter((u) => u.state !== 'done');
    this.tableOpen.set(table, open);
    return open;
  }

  private scheduleIndexes(t: TableState): void {
    if (t.indexUnit || !t.indexes.length) return;
    t.indexUnit = this.deferredUnit('indexes', t, t.indexes, []);
  }

  private scheduleForeignKeys(t: TableState): void {
    if (t.fkUnit || !t.foreignKeys.length) return;
    // Adding a foreign key may need the referenced table's indexes: after every scheduled index ALTER.
    const indexUnits = this.tableOrder.map((x) => x.indexUnit).filter((u): u is Unit => u !== undefined);
    t.fkUnit = this.deferredUnit('fks', t, t.foreignKeys, indexUnits);
  }

  private deferredUnit(kind: UnitKind, t: TableState, defs: readonly DeferredDefinition[], extra: Unit[]): Unit {
    const unit: Unit = {
      ...this.newUnit(kind, t.createOffset, t.createOffset, [], t.name),
      defs,
    };
    if (this.doneDeferred.has(`${kind}:${t.createOffset}`)) {
      unit.state = 'done';
      return unit;
    }
    const open = this.openOf(t.name);
    unit.deps.push(...open, ...extra.filter((u) => u.state !== 'done'));
    open.push(unit);
    this.openUnits.add(unit);
    this.side.push(unit);
    this.pump();
    return unit;
  }

  // ---- dispatch ---------------------------------------------------------------------------------

  private pump(): void {
    for (;;) {
      if (this.failure || this.stopping) return;
      const worker = this.workers.find((w) => !w.busy);
      if (!worker) return;
      const ready = (u: Unit) => u.state === 'queued' && u.deps.every((d) => d.state === 'done');
      let unit = this.side.find(ready);
      if (!unit && this.queue.length && ready(this.queue[0])) unit = this.queue[0];
      if (!unit) return;
      if (this.worked && Date.now() >= this.run.deadline) {
        this.stopping = true;
        this.wake();
        return;
      }
      if (unit === this.queue[0]) this.queue.shift();
      else this.side.splice(this.side.indexOf(unit), 1);
      this.worked = true;
      unit.state = 'running';
      worker.busy = true;
      const t0 = Date.now();
      if (!this.firstDispatch) this.firstDispatch = t0;
      void this.runUnit(unit, worker).then(
        () => {
          this.busyMs += Date.now() - t0;
          unit.state = 'done';
          this.openUnits.delete(unit);
          worker.busy = false;
          this.advanceWatermark();
          this.report('importing');
          this.pump();
          this.wake();
        },
        (err: unknown) => {
          worker.busy = false;
          this.fail(err);
        },
      );
    }
  }

  private busyShare(): string {
    const span = Date.now() - this.firstDispatch;
    return this.firstDispatch && span > 0 ? (this.busyMs / span).toFixed(1) : '0';
  }

  private fail(err: unknown): void {
    if (!this.failure) this.failure = err;
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private nextEvent(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Waits for every unit on a connection to finish (after a failure or at the time budget). */
  private async settle(): Promise<void> {
    while (this.workers.some((w) => w.busy)) await this.nextEvent();
  }

  private advanceWatermark(): void {
    while (this.ledgerHead < this.ledger.length) {
      const e = this.ledger[this.ledgerHead];
      if (e.unit && e.unit.state !== 'done') break;
      this.watermark = Math.max(this.watermark, e.end);
      this.watermarkCount += e.count;
      this.ledgerHead++;
    }
    if (this.ledgerHead > 4096) {
      this.ledger.splice(0, this.ledgerHead);
      this.ledgerHead = 0;
    }
  }

  // ---- running units ----------------------------------------------------------------------------

  private async runUnit(unit: Unit, worker: Worker): Promise<void> {
    if (unit.session !== undefined && worker.applied < unit.session) {
      await worker.conn.query(this.sessionSql.slice(worker.applied, unit.session).join('\n;\n'));
      worker.applied = unit.session;
    }
    if (unit.kind === 'data') return this.runChunk(unit, worker.conn);
    if (unit.kind === 'ddl') return this.runDdl(unit, worker.conn);
    return this.runDeferred(unit, worker.conn);
  }

  private unitRow(unit: Unit, status: string, upsert = true): string {
    return (
      `INSERT INTO ${this.units} (dump_hash, kind, start_offset, end_offset, statements, status) VALUES (${this.hash}, '${unit.kind}', ${unit.start}, ${unit.end}, ${unit.stmts.length}, '${status}')` +
      (upsert
        ? ' ON DUPLICATE KEY UPDATE end_offset = VALUES(end_offset), statements = VALUES(statements), status = VALUES(status)'
        : '')
    );
  }

  /**
   * The chunk and its units row in one transaction, one round trip. The row goes first: should a killed
   * run's transaction still be running on the server when the next run sends the same chunk, this one
   * waits on that row's lock and, if the other committed, finds the row there (the chunk is done) instead
   * of inserting the rows twice.
   */
  private async runChunk(unit: Unit, conn: Connection): Promise<void> {
    const parts = statementParts(
      Buffer.from(`START TRANSACTION;\n${this.unitRow(unit, 'done', false)};\n`, 'latin1'),
      unit.stmts,
      COMMIT,
    );
    for (let attempt = 1; ; attempt++) {
      try {
        await queryBuffer(conn, parts, `/* rushhour: the chunk at byte ${unit.start} */`);
        break;
      } catch (err) {
        if (isTransient(err, { contention: false })) throw err;
        await conn.query('ROLLBACK');
        if (await this.recorded(unit, conn)) {
          this.run.log(
            `chunk at byte ${unit.start} was committed by an earlier run (still running when it was stopped)`,
          );
          return;
        }
        // Lost a lock race with another chunk (e.g. the first chunk's bulk insert into the empty table): again.
        if (isTransient(err) && attempt < 5) continue;
        await this.chunkOneByOne(unit, conn, err);
        break;
      }
    }
    this.statementsThisRun += unit.stmts.length;
  }

  private async recorded(unit: Unit, conn: Connection): Promise<boolean> {
    const [rows] = await conn.query(
      `SELECT COUNT(*) AS n FROM ${this.units} WHERE dump_hash = ${this.hash} AND kind = '${unit.kind}' AND start_offset = ${unit.start} AND status = 'done'`,
    );
    return Number((rows as Array<{ n: string }>)[0].n) > 0;
  }

  /** Re-runs a refused chunk statement by statement to name the one the server refuses; commits those before it. */
  private async chunkOneByOne(unit: Unit, conn: Connection, chunkErr: unknown): Promise<void> {
    await conn.query('START TRANSACTION');
    let done = 0;
    for (const stmt of unit.stmts) {
      try {
        await conn.query(stmt.sql.toString('latin1'));
      } catch (err) {
        if (done) {
          const part = { ...unit, end: unit.stmts[done - 1].endOffset, stmts: unit.stmts.slice(0, done) };
          await conn.query(this.unitRow(part, 'done'));
        }
        await conn.query('COMMIT');
        this.statementsThisRun += done;
        throw this.statementError(stmt, err);
      }
      done++;
    }
    await conn.query('ROLLBACK');
    // Not the driver error as cause: it quotes the chunk's SQL (dump data).
    throw new Error(
      `a chunk of ${unit.stmts.length} statements from byte offset ${unit.start} failed (${(chunkErr as Error).message}), but each statement succeeds alone: lower batchBytes`,
    );
  }

  /** A statement that may commit implicitly: marked pending, run, marked done. */
  private async runDdl(unit: Unit, conn: Connection): Promise<void> {
    const stmt = unit.stmts[0];
    const retry = this.pendingDdl.has(unit.start);
    for (const kind of unit.plans ?? [])
      await conn.query(
        `INSERT IGNORE INTO ${this.units} (dump_hash, kind, start_offset, end_offset, statements, status) VALUES (${this.hash}, '${kind}', ${unit.start}, ${unit.start}, 0, 'planned')`,
      );
    await conn.query(this.unitRow(unit, 'pending'));
    try {
      await conn.query(stmt.sql.toString('latin1'));
    } catch (err) {
      const errno = (err as { errno?: number }).errno;
      if (!(retry && errno !== undefined && ALREADY_APPLIED_ERRNOS.has(errno))) throw this.statementError(stmt, err);
      this.run.log(
        `statement at byte ${stmt.startOffset} was applied before the last run stopped (${(err as Error).message}); not applying it twice`,
      );
    }
    await conn.query(this.unitRow(unit, 'done'));
    this.statementsThisRun++;
  }

  /**
   * The deferred ALTER: adds the indexes (or foreign keys) information_schema does not list yet, so a run
   * that died after the ALTER committed but before it was recorded adds nothing twice. Runs with the
   * dump's data settings whatever the session's state: no foreign key check of existing rows (as the
   * CREATE TABLE had, under the dump's FOREIGN_KEY_CHECKS=0) and NO_AUTO_VALUE_ON_ZERO should a rebuild copy rows.
   */
  private async runDeferred(unit: Unit, conn: Connection): Promise<void> {
    const table = unit.table!;
    await conn.query(this.unitRow(unit, 'pending'));
    for (let attempt = 1; ; attempt++) {
      const missing = await this.missingDefinitions(unit, conn);
      if (missing.length < unit.defs!.length)
        this.run.log(
          `${table}: ${unit.defs!.length - missing.length} of its ${unit.defs!.length} deferred ${unit.kind === 'indexes' ? 'indexes' : 'foreign keys'} exist already (added before the last run stopped)${missing.length ? '; adding the rest' : ''}`,
        );
      if (!missing.length) break;
      await conn.query(
        "SET @rushhour_mode = @@sql_mode, @rushhour_fkc = @@foreign_key_checks, @rushhour_uc = @@unique_checks, SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', SESSION foreign_key_checks = 0, SESSION unique_checks = 1",
      );
      try {
        const t0 = Date.now();
        await conn.query(alterAdding(table, missing));
        this.statementsThisRun++;
        this.run.log(
          `${table}: added ${missing.length} deferred ${unit.kind === 'indexes' ? 'index(es)' : 'foreign key(s)'} in one ALTER (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
        );
        break;
      } catch (err) {
        // A killed run's ALTER may have been still running on the server and added them meanwhile: look again.
        const errno = (err as { errno?: number }).errno;
        if (attempt < 3 && (errno === 1061 || errno === 1826 || errno === 1022)) continue;
        throw this.deferredError(table, missing, err);
      } finally {
        await conn.query(
          'SET SESSION sql_mode = @rushhour_mode, SESSION foreign_key_checks = @rushhour_fkc, SESSION unique_checks = @rushhour_uc',
        );
      }
    }
    await conn.query(this.unitRow(unit, 'done'));
  }

  /** The unit's indexes or foreign keys that information_schema does not list for the table. */
  private async missingDefinitions(unit: Unit, conn: Connection): Promise<DeferredDefinition[]> {
    const db = conn.escape(this.run.options.target.database);
    const table = conn.escape(unit.table!);
    const [rows] = await conn.query(
      unit.kind === 'indexes'
        ? `SELECT DISTINCT index_name AS n FROM information_schema.statistics WHERE table_schema = ${db} AND table_name = ${table}`
        : `SELECT constraint_name AS n FROM information_schema.table_constraints WHERE constraint_type = 'FOREIGN KEY' AND table_schema = ${db} AND table_name = ${table}`,
    );
    const existing = new Set((rows as Array<{ n: unknown }>).map((r) => String(r.n).toLowerCase()));
    return unit.defs!.filter((d) => !existing.has(d.name.toLowerCase()));
  }

  private deferredError(table: string, defs: readonly DeferredDefinition[], err: unknown): Error {
    if (isTransient(err)) return err as Error;
    const e = err as { code?: string; errno?: number; sqlMessage?: string; message?: string };
    const raw = e.sqlMessage ?? e.message ?? '';
    const named = /for key '(?:[^']*\.)?([^']+)'/i.exec(raw)?.[1];
    const names = named ? [named] : defs.map((d) => d.name);
    const what = defs[0]?.sql.match(/^\s*CONSTRAINT\b/i) ? 'foreign key' : 'index';
    const hint =
      e.errno === 1062
        ? ` (the table holds duplicate values for this UNIQUE key: remove or change the duplicate rows in "${table}", then resume; the data is in and only the missing indexes are added)`
        : '';
    return new DeferredIndexError(
      `adding the deferred ${what}${names.length > 1 ? 'es' : ''} ${names.map((n) => `"${n}"`).join(', ')} to table "${table}" failed: ${e.code ?? 'error'} (${e.errno ?? '?'}): ${redactServerMessage(raw)}${hint}; ${resumeAdvice(this.run.options.target.database, this.run.options.dumpHash, this.watermark)}`,
      table,
      names,
      e.code,
      e.errno,
    );
  }

  private statementError(stmt: DumpStatement, err: unknown): Error {
    if (isTransient(err, { contention: false })) return err as Error;
    return refusedStatement(stmt, err, { options: this.run.options, committed: this.watermark });
  }

  private describeReadError(err: unknown): Error {
    return readError(err, this.reader, { options: this.run.options, committed: this.watermark });
  }

  // ---- the record -------------------------------------------------------------------------------

  private async loadUnits(): Promise<void> {
    const [rows] = await this.run.conn.query(
      `SELECT kind, start_offset, end_offset, status FROM ${this.units} WHERE dump_hash = ${this.hash} ORDER BY start_offset`,
    );
    for (const r of rows as UnitRow[]) {
      const start = Number(r.start_offset);
      if (r.kind === 'data' || r.kind === 'ddl') {
        if (r.status === 'done') this.doneRanges.push([start, Number(r.end_offset)]);
        else this.pendingDdl.add(start);
      } else {
        this.plannedDeferred.add(`${r.kind}:${start}`);
        if (r.status === 'done') this.doneDeferred.add(`${r.kind}:${start}`);
      }
    }
    this.doneRanges.sort((a, b) => a[0] - b[0]);
  }

  /** The contiguous prefix to the progress row, and the unit rows below it dropped (they add nothing). */
  private async saveWatermark(): Promise<void> {
    this.advanceWatermark();
    await this.run.conn.query(
      `START TRANSACTION;\nUPDATE ${this.progress} SET committed_offset = ${this.watermark}, statements_done = ${this.watermarkCount}, pending_offset = NULL, updated_at = NOW(3) WHERE dump_hash = ${this.hash};\nDELETE FROM ${this.units} WHERE dump_hash = ${this.hash} AND kind IN ('data', 'ddl') AND end_offset <= ${this.watermark};\nCOMMIT`,
    );
  }

  private async openWorkers(): Promise<void> {
    const { target } = this.run.options;
    this.workers = await Promise.all(
      Array.from({ length: this.run.connections }, async () => {
        const conn = await connectWithRetry(target, { retryForMs: this.run.options.connectRetryMs, log: this.run.log });
        await conn.query(`SET SESSION wait_timeout = 600;\nUSE ${quoteIdent(target.database)}`);
        return { conn, applied: 0, busy: false };
      }),
    );
  }

  private async closeWorkers(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.conn.end().catch(() => w.conn.destroy())));
  }

  private report(phase: ImportProgress['phase'], force = false): void {
    if (!this.run.options.onProgress) return;
    const now = Date.now();
    if (!force && now - this.lastReport < 250) return;
    this.lastReport = now;
    const elapsedMs = now - this.run.started;
    const since = this.resumeRawBytes < 0 ? this.reader.rawBytes : this.reader.rawBytes - this.resumeRawBytes;
    const bytesPerSecond = elapsedMs > 0 ? (since * 1000) / elapsedMs : 0;
    const total = this.run.options.source.size;
    const etaMs =
      total && bytesPerSecond > 0 && phase === 'importing'
        ? ((total - this.reader.rawBytes) * 1000) / bytesPerSecond
        : undefined;
    this.run.options.onProgress({
      bytesRead: this.reader.rawBytes,
      totalBytes: total,
      offset: this.watermark,
      statements: this.watermarkCount,
      resumedFrom: this.run.resumeCount,
      elapsedMs,
      bytesPerSecond,
      etaMs,
      phase,
    });
  }
}

/** The units table (created by the first parallel run of a database). */
export function unitsTableDdl(): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(UNITS_TABLE)} (
      dump_hash VARCHAR(128) NOT NULL,
      kind VARCHAR(8) NOT NULL,
      start_offset BIGINT NOT NULL,
      end_offset BIGINT NOT NULL,
      statements INT NOT NULL,
      status VARCHAR(8) NOT NULL,
      PRIMARY KEY (dump_hash, kind, start_offset)
    ) ENGINE=InnoDB DEFAULT CHARSET=ascii`;
}

function tail(sql: Buffer): string {
  return sql.subarray(Math.max(0, sql.length - 2048)).toString('latin1');
}
