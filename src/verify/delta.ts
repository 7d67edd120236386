import { anyKey, ident, valueLiteral } from './canonical';
import { QueryRunner } from './runner';
import { VALUE_BATCH, VerifySide } from './side';
import { asSide, pairTables, prepareSession, TablePair, TableVerdict, verifyData, VerifyResult } from './verify';

export interface DeltaOptions {
  /** The side whose rows are right (sync-back: the cloud, a session or the export Lambda). */
  readonly source: QueryRunner | VerifySide;
  readonly sourceDatabase: string;
  /** The side that is repaired (sync-back: the origin). */
  readonly target: QueryRunner;
  /** @default sourceDatabase */
  readonly targetDatabase?: string;
  readonly tables?: readonly string[];
  readonly exclude?: RegExp;
  /** @default 1000 */
  readonly chunkSize?: number;
  /** @default 0 */
  readonly pauseMs?: number;
  /** Repair passes before giving up (a trigger on the target may change other tables). @default 3 */
  readonly maxPasses?: number;
  /** Called after each table's transaction commits (tests interrupt the repair here). */
  readonly onTableRepaired?: (table: string) => Promise<void> | void;
  readonly log?: (message: string) => void;
}

export interface TableRepair {
  readonly table: string;
  readonly deleted: number;
  readonly inserted: number;
  /** A table without a usable key is replaced whole. */
  readonly replacedWhole: boolean;
}

export interface DeltaResult {
  readonly repairs: TableRepair[];
  readonly passes: number;
  /** The final proof over the whole database, in fresh snapshots. */
  readonly proof: VerifyResult;
}

export class DeltaRepairError extends Error {
  override readonly name = 'DeltaRepairError';
  constructor(
    message: string,
    readonly table?: string,
  ) {
    super(message);
  }
}

/** Rows per DELETE statement. */
const BATCH = VALUE_BATCH;

/**
 * Repairs the target from the source with only the rows that differ: verify (names the rows), then per
 * table ONE transaction on the target: delete the keys that are only on the target or differ, insert
 * the source's rows for the keys only on the source or differing (an update keyed by the primary key
 * is its delete and insert; that also handles unique values that moved between rows). A table
 * without a usable key is replaced whole, in its transaction. The source's rows are read in the
 * verify's snapshot. Then the whole database is verified again in fresh snapshots, and repaired again
 * if that still differs (a trigger on the target fires on the repair's writes), up to `maxPasses`.
 *
 * Killed mid-way, each table is either repaired or untouched (its transaction); a rerun verifies again
 * and repairs what is left, so it converges.
 */
export async function repairDelta(o: DeltaOptions): Promise<DeltaResult> {
  const log = o.log ?? (() => undefined);
  const targetDatabase = o.targetDatabase ?? o.sourceDatabase;
  const repairs: TableRepair[] = [];
  const maxPasses = o.maxPasses ?? 3;
  const source = asSide(o.source, o.pauseMs);
  const common = {
    left: o.target,
    right: source,
    leftDatabase: targetDatabase,
    rightDatabase: o.sourceDatabase,
    tables: o.tables,
    exclude: o.exclude,
    chunkSize: o.chunkSize,
    pauseMs: o.pauseMs,
  };
  for (let pass = 1; ; pass++) {
    // The first pass searches (most chunks are expected to differ: buckets in the first scan, no column
    // names needed for a repair); later passes are the proof (chunks expected identical: one sum each).
    const found = await verifyData({
      ...common,
      keepSnapshot: true,
      log,
      bucketsFirst: pass === 1,
      nameColumns: pass > 1,
    });
    // The target's read-only snapshot ends here; the source's stays open while its rows are read.
    await o.target.execute('COMMIT');
    try {
      if (found.identical) return { repairs, passes: pass - 1, proof: found };
      if (pass > maxPasses)
        throw new DeltaRepairError(
          `the target still differs after ${maxPasses} repair passes: ${found.tables
            .filter((t) => !t.identical)
            .map((t) => t.table)
            .join(', ')}`,
        );
      const { pairs } = await pairTables(common);
      for (const verdict of found.tables.filter((t) => !t.identical)) {
        const pair = pairs.find((p) => p.table === verdict.table);
        if (!pair)
          throw new DeltaRepairError(
            `table ${verdict.table} is not on both sides: the delta repairs rows, not schemas`,
          );
        if (pair.notes.length)
          throw new DeltaRepairError(`table ${verdict.table} differs in its definition (${pair.notes.join('; ')})`);
        const repair = await repairTable(o, pair, verdict);
        repairs.push(repair);
        log(
          `delta ${verdict.table}: ${repair.replacedWhole ? 'replaced whole (no key), ' : ''}${repair.deleted} deleted, ${repair.inserted} inserted`,
        );
        await o.onTableRepaired?.(verdict.table);
      }
    } finally {
      await source.end();
    }
  }
}

async function repairTable(o: DeltaOptions, pair: TablePair, v: TableVerdict): Promise<TableRepair> {
  const target = o.target;
  const table = `${ident(pair.left.database)}.${ident(pair.table)}`;
  const sourceCols = pair.columns.right.filter((c) => !c.generated);
  const targetCols = sourceCols.map((c) => pair.columns.left.find((l) => l.name === c.name)!);
  const insertHead = `INSERT INTO ${table} (${targetCols.map((c) => ident(c.name)).join(', ')}) VALUES `;
  const whole = pair.key.left.length === 0;
  const removeKeys = [...v.onlyLeft, ...v.differing].map((k) => k.raw);
  const fetchKeys = whole ? undefined : [...v.onlyRight, ...v.differing].map((k) => k.raw);
  let deleted: number;
  let inserted = 0;
  await prepareSession(target);
  // Session-only, and no SUPER needed: the repair's order of tables must not trip (or cascade through)
  // foreign keys; the final proof checks the result.
  await target.execute('SET SESSION foreign_key_checks = 0; START TRANSACTION');
  try {
    if (whole) {
      await target.execute(`DELETE FROM ${table}`);
      deleted = v.leftRows;
    } else {
      for (let i = 0; i < removeKeys.length; i += BATCH) {
        await target.execute(`DELETE FROM ${table} WHERE ${anyKey(pair.key.left, removeKeys.slice(i, i + BATCH))}`);
      }
      deleted = removeKeys.length;
    }
    for await (const rows of pair.side.right.values(fetchKeys)) {
      if (rows.length === 0) continue;
      const values = rows.map((r) => `(${r.map((val, i) => valueLiteral(targetCols[i], val)).join(', ')})`);
      await target.execute(insertHead + values.join(', '));
      inserted += rows.length;
    }
    await target.execute('COMMIT; SET SESSION foreign_key_checks = 1');
  } catch (err) {
    await target.execute('ROLLBACK; SET SESSION foreign_key_checks = 1').catch(() => undefined);
    throw err;
  }
  return { table: pair.table, deleted, inserted, replacedWhole: whole };
}
