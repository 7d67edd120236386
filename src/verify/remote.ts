import { z } from 'zod';
import { EXPORT_ACTIONS } from '../../lib/contracts';
import { Column } from './canonical';
import { QueryRunner, Row } from './runner';
import {
  readShapes,
  Range,
  sqlTableSide,
  startSnapshot,
  Sum,
  TableShape,
  TableSide,
  TableStats,
  VALUE_BATCH,
  VerifySide,
} from './side';

/**
 * The row-level proof's cloud side through the export Lambda, for a cloud database the operator's
 * machine cannot reach (RDS in a private subnet). The request is structured, never SQL: a table, the
 * columns in the pair's order with their pair flags, the key, and a list of operations (a chunk's sum,
 * its bucket sums, a boundary, ...) with key values as data. The function checks the table, columns
 * and key against its own information_schema, builds the SQL with the same builders as every other
 * side (./side.ts; key values become literals only through canonical.ts's checked keyLiteral), and runs
 * it in one session that can only read: REPEATABLE READ, START TRANSACTION WITH CONSISTENT SNAPSHOT,
 * READ ONLY, one statement per query. The database is the function's own (its setting), not named by
 * the request.
 *
 * Snapshots: each invocation has its own. One invocation answers a list of operations (a window of
 * chunks, up to its time and response budget), so a table's sums come from few snapshots, not one.
 * That is sound for sync-back, which runs after the week with the site stopped: nothing writes to the
 * cloud database between the invocations. (verify-data against a live database wants one snapshot per
 * side: a session, not this.)
 */

/** Both ends must build the same SQL: a function deployed from other code refuses, and says so. */
export const VERIFY_PROTOCOL = 1;

const keyValues = z.array(z.string().max(8192)).min(1).max(32);
const range = {
  lower: keyValues.optional(),
  upper: keyValues.optional(),
  width: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
};
const count = (max: number) => z.number().int().min(1).max(max);

const OPERATION = z.discriminatedUnion('op', [
  z.object({ op: z.literal('boundary'), n: count(10_000_000), ...range }).strict(),
  z.object({ op: z.literal('sum'), ...range }).strict(),
  z.object({ op: z.literal('bucketSums'), buckets: count(1_000_000), ...range }).strict(),
  z
    .object({
      op: z.literal('rows'),
      ...range,
      only: z
        .object({
          buckets: count(1_000_000),
          inBuckets: z.array(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)).max(1_000_000),
          width: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
        })
        .strict()
        .optional(),
    })
    .strict(),
  z.object({ op: z.literal('columnHashes'), keys: z.array(keyValues).min(1).max(VALUE_BATCH) }).strict(),
  z.object({ op: z.literal('hashCounts') }).strict(),
  z.object({ op: z.literal('values'), keys: z.array(keyValues).min(1).max(VALUE_BATCH) }).strict(),
  z.object({ op: z.literal('valuesPage'), page: z.number().int().min(0) }).strict(),
  z.object({ op: z.literal('stats') }).strict(),
]);
export type VerifyOperation = z.infer<typeof OPERATION>;

const NAME = z.string().min(1).max(64);

const TABLE_REQUEST = z
  .object({
    name: NAME,
    /** The pair's common columns in the left's order (the row text's order), with the pair's flags. */
    columns: z
      .array(z.object({ name: NAME, sameOnBothSides: z.boolean(), utf8OnBothSides: z.boolean() }).strict())
      .min(1)
      .max(4096),
    /** The pair's key: this table's own key, or [] (compared as a multiset). */
    key: z.array(NAME).max(32),
    ops: z.array(OPERATION).min(1).max(2000),
  })
  .strict();

export const VERIFY_QUERY_EVENT = z.union([
  z.object({ action: z.literal(EXPORT_ACTIONS.verifyQuery), version: z.number(), shapes: z.literal(true) }).strict(),
  z.object({ action: z.literal(EXPORT_ACTIONS.verifyQuery), version: z.number(), table: TABLE_REQUEST }).strict(),
]);
export type VerifyQueryEvent = z.infer<typeof VERIFY_QUERY_EVENT>;

/** What a column looks like on the wire (the function's own definition; flags are the pair's). */
type WireShape = { columns: Column[]; key: string[] };

export interface VerifyQueryResponse {
  readonly database: string;
  /** With `shapes`: every base table's columns and key. */
  readonly shapes?: Record<string, WireShape>;
  /** With `table`: one result per operation, in order; fewer when a budget ran out (ask again for the rest). */
  readonly results?: unknown[];
}

/** A request the function does not answer: malformed, another protocol, or a table/column/key it lacks. */
export class VerifyRequestError extends Error {
  override readonly name = 'VerifyRequestError';
  constructor(
    message: string,
    /** zod's issue paths, or the offending name. */
    readonly details: string[] = [],
  ) {
    super(message);
  }
}

/** Parses an event; the message names what is wrong, never echoing values. */
export function parseVerifyQuery(event: unknown): VerifyQueryEvent {
  const version = (event as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version !== VERIFY_PROTOCOL)
    throw new VerifyRequestError(
      `verify-query protocol ${version} asked, this function speaks ${VERIFY_PROTOCOL}: deploy the export function from the same rushhour version as the CLI`,
    );
  const r = VERIFY_QUERY_EVENT.safeParse(event);
  if (!r.success) {
    const details = r.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.code}`);
    throw new VerifyRequestError(`malformed verify-query request (${details.slice(0, 5).join('; ')})`, details);
  }
  return r.data;
}

/** Stops answering operations after this many bytes (Lambda's synchronous response is at most 6 MB). */
const RESPONSE_BYTES = 4 * 1024 * 1024;
const RESPONSE_HARD_LIMIT = 5.5 * 1024 * 1024;

/** The function's side: checks the request against its own tables, builds and runs the SQL, read-only. */
export async function serveVerifyQuery(
  runner: QueryRunner,
  database: string,
  event: unknown,
  /** Stop starting operations after this time (ms since epoch); at least one is answered. */
  deadline: number,
): Promise<VerifyQueryResponse> {
  const request = parseVerifyQuery(event);
  await startSnapshot(runner);
  try {
    const shapes = await readShapes(runner, database);
    if ('shapes' in request) {
      const out: Record<string, WireShape> = {};
      for (const [t, s] of shapes) out[t] = { columns: s.columns, key: s.key.map((k) => k.name) };
      return { database, shapes: out };
    }
    const t = request.table;
    const shape = shapes.get(t.name);
    if (!shape) throw new VerifyRequestError(`no base table ${t.name} in the cloud database`, [t.name]);
    const seen = new Set<string>();
    const columns = t.columns.map((c) => {
      const own = shape.columns.find((o) => o.name === c.name);
      if (!own || seen.has(c.name))
        throw new VerifyRequestError(`table ${t.name} has no column ${c.name} (or it is named twice)`, [c.name]);
      seen.add(c.name);
      return { ...own, sameOnBothSides: c.sameOnBothSides, utf8OnBothSides: c.utf8OnBothSides };
    });
    const ownKey = shape.key.map((k) => k.name);
    if (t.key.length > 0 && t.key.join('\0') !== ownKey.join('\0'))
      throw new VerifyRequestError(`table ${t.name}'s key is (${ownKey.join(', ')}), not (${t.key.join(', ')})`);
    const side = sqlTableSide(runner, database, t.name, columns, t.key.length ? shape.key : []);
    const results: unknown[] = [];
    let bytes = 0;
    for (const op of t.ops) {
      if (results.length > 0 && (Date.now() > deadline || bytes > RESPONSE_BYTES)) break;
      const result = await runOperation(side, op);
      bytes += JSON.stringify(result).length;
      if (bytes > RESPONSE_HARD_LIMIT)
        throw new VerifyRequestError(`the answer to ${op.op} on ${t.name} exceeds the function's response size`);
      results.push(result);
    }
    return { database, results };
  } finally {
    await runner.execute('ROLLBACK').catch(() => undefined);
  }
}

async function runOperation(side: TableSide, op: VerifyOperation): Promise<unknown> {
  switch (op.op) {
    case 'boundary':
      return (await side.boundary(op.lower, op.n, op.upper)) ?? null;
    case 'sum':
      return (await side.sums([op]))[0];
    case 'bucketSums':
      return [...(await side.bucketSums(op.buckets, [op]))[0].entries()];
    case 'rows':
      return side.rows(op, op.only);
    case 'columnHashes':
      return side.columnHashes(op.keys);
    case 'hashCounts':
      return side.hashCounts();
    case 'values': {
      const out: Row[] = [];
      for await (const rows of side.values(op.keys)) out.push(...rows);
      return out;
    }
    case 'valuesPage':
      return side.valuesPage(op.page);
    case 'stats':
      return side.stats();
  }
}

/** What the client needs from the function: one synchronous invocation with a verify-query event. */
export type VerifyInvoke = (event: VerifyQueryEvent) => Promise<VerifyQueryResponse>;

/** Raised when the function's answer does not fit the request (another version, a broken answer). */
export class VerifyResponseError extends Error {
  override readonly name = 'VerifyResponseError';
}

/**
 * The cloud side through the export function (see the top of this file). `begin`/`end` do nothing:
 * each invocation opens and ends its own read-only snapshot.
 */
export function remoteSide(invoke: VerifyInvoke, label = 'cloud (through the export function)'): VerifySide {
  const base = { action: EXPORT_ACTIONS.verifyQuery, version: VERIFY_PROTOCOL } as const;
  return {
    label,
    begin: async () => undefined,
    end: async () => undefined,
    async shapes(database) {
      const res = await invoke({ ...base, shapes: true });
      if (res.database !== database)
        throw new VerifyResponseError(
          `the export function serves database ${res.database}, not ${database}: the proof compares the same database on both sides`,
        );
      const out = new Map<string, TableShape>();
      for (const [t, s] of Object.entries(res.shapes ?? {}))
        out.set(t, { columns: s.columns, key: s.key.map((k) => s.columns.find((c) => c.name === k)!) });
      return out;
    },
    table(_database, table, columns, key) {
      const request = {
        name: table,
        columns: columns.map((c) => ({
          name: c.name,
          sameOnBothSides: Boolean(c.sameOnBothSides),
          utf8OnBothSides: Boolean(c.utf8OnBothSides),
        })),
        key: key.map((k) => k.name),
      };
      /** The operations' results, as each invocation answers them (as many as their budgets need). */
      async function* answers(ops: VerifyOperation[]): AsyncGenerator<unknown[]> {
        for (let done = 0; done < ops.length;) {
          const res = await invoke({ ...base, table: { ...request, ops: ops.slice(done, done + 2000) } });
          if (!res.results?.length)
            throw new VerifyResponseError(`the export function answered no results for ${table}`);
          done += res.results.length;
          yield res.results;
        }
      }
      const run = async (ops: VerifyOperation[]): Promise<unknown[]> => {
        const out: unknown[] = [];
        for await (const results of answers(ops)) out.push(...results);
        return out;
      };
      const one = async <T>(op: VerifyOperation) => (await run([op]))[0] as T;
      const r = (x: Range) => ({
        ...(x.lower ? { lower: x.lower } : {}),
        ...(x.upper ? { upper: x.upper } : {}),
        ...(x.width ? { width: x.width } : {}),
      });
      return {
        async boundary(lower, n, upper) {
          return (await one<string[] | null>({ op: 'boundary', n, ...r({ lower, upper }) })) ?? undefined;
        },
        sums: async (ranges) => (await run(ranges.map((x) => ({ op: 'sum', ...r(x) })))) as Sum[],
        bucketSums: async (buckets, ranges) =>
          ((await run(ranges.map((x) => ({ op: 'bucketSums', buckets, ...r(x) })))) as [string, Sum][][]).map(
            (entries) => new Map(entries),
          ),
        rows: (x, only) => one<Row[]>({ op: 'rows', ...r(x), ...(only ? { only } : {}) }),
        columnHashes: async (keys) => {
          const ops: VerifyOperation[] = [];
          for (let i = 0; i < keys.length; i += VALUE_BATCH)
            ops.push({ op: 'columnHashes', keys: keys.slice(i, i + VALUE_BATCH) });
          return ((await run(ops)) as Row[][]).flat();
        },
        hashCounts: () => one<Row[]>({ op: 'hashCounts' }),
        valuesPage: (page) => one<Row[]>({ op: 'valuesPage', page }),
        async *values(keys) {
          if (!keys) {
            for (let page = 0; ; page++) {
              const rows = await one<Row[]>({ op: 'valuesPage', page });
              if (rows.length === 0) return;
              yield rows;
            }
          }
          // Fewer keys per operation than a session's batch, so that one answer fits the response size;
          // as many operations per invocation as its budget allows.
          const ops: VerifyOperation[] = [];
          for (let i = 0; i < keys.length; i += 100) ops.push({ op: 'values', keys: keys.slice(i, i + 100) });
          for await (const results of answers(ops)) for (const rows of results as Row[][]) yield rows;
        },
        stats: () => one<TableStats>({ op: 'stats' }),
      };
    },
  };
}
