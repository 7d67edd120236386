import { z } from 'zod';
import { SSM_KEYS, SsmKey, ssmParameterName } from '../../lib/contracts';
import { parseAppSecret, parseMasterSecret } from '../../src/aws/secrets';
import { ensureSessionsTable } from '../../src/site/sessions-table';
import { ensureAppUser } from '../../src/sql/app-user';
import { connectWithRetry } from '../../src/sql/connect';
import { isTransient } from '../../src/sql/transient';
import { DumpSource, ImportBusyError, importDump } from '../../src/sql/importer';
import { formatProgress } from '../../src/sql/progress-report';
import { AllowedKindsSchema } from '../../src/sql/vetting';

/** What the Provider framework passes to onEvent / isComplete (the fields this handler reads). */
export interface ProviderEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResourceProperties: Record<string, unknown>;
  readonly OldResourceProperties?: Record<string, unknown>;
  readonly PhysicalResourceId?: string;
  readonly LogicalResourceId?: string;
  /** isComplete only: the Data onEvent returned (the Provider framework merges it into the event). */
  readonly Data?: { readonly ImportDeadline?: string };
}

export interface OnEventResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

export interface IsCompleteResponse {
  readonly IsComplete: boolean;
  /** Returned to CloudFormation (Fn::GetAtt): names and counts only, never a secret. */
  readonly Data?: Record<string, string>;
}

/** The AWS calls the handler makes, behind a thin edge (see ./aws.ts) so the logic is testable as plain functions. */
export interface AwsEdge {
  /** The SecretString of a Secrets Manager secret, parsed as JSON. */
  getSecretJson(secretArn: string): Promise<Record<string, unknown>>;
  /** The dump object in S3, openable from its first byte for each slice. */
  openDump(bucket: string, key: string): Promise<DumpSource>;
  /** Writes plain String parameters (overwriting). */
  putParameters(parameters: Record<string, string>): Promise<void>;
  /** The value of a String parameter, or undefined when it does not exist. */
  getParameter(name: string): Promise<string | undefined>;
  /** Deletes parameters; names that do not exist are ignored. */
  deleteParameters(names: string[]): Promise<void>;
}

/**
 * The import did not finish before the wall-clock deadline onEvent set for this deployment. The progress
 * table keeps every committed statement: deploying again resumes there.
 */
export class ImportDeadlineError extends Error {
  constructor(
    message: string,
    readonly deadline: string,
    readonly databaseName: string,
  ) {
    super(message);
    this.name = 'ImportDeadlineError';
  }
}

const nonEmpty = (what: string) => z.string({ error: `${what} is required` }).min(1, `${what} must not be empty`);

/** ResourceProperties of the import custom resource (all strings, as CloudFormation passes them). */
export const ImportResourcePropertiesSchema = z.object({
  DumpBucket: nonEmpty('DumpBucket'),
  DumpKey: nonEmpty('DumpKey'),
  DumpAssetHash: nonEmpty('DumpAssetHash').max(128, 'DumpAssetHash must be at most 128 characters'),
  MasterSecretArn: nonEmpty('MasterSecretArn'),
  AppSecretArn: nonEmpty('AppSecretArn'),
  DatabaseName: nonEmpty('DatabaseName').regex(
    /^[A-Za-z0-9_]{1,64}$/,
    'DatabaseName must be 1-64 letters, digits or underscores',
  ),
  SsmPrefix: nonEmpty('SsmPrefix').regex(
    /^\/[A-Za-z0-9_.\-/]+[^/]$/,
    'SsmPrefix must be an SSM path like /rushhour/<site>/db (leading slash, no trailing slash)',
  ),
  AllowReimport: z.enum(['true', 'false'], { error: 'AllowReimport must be "true" or "false"' }).default('false'),
  /** "true" for a PHP site with database sessions: the import creates rushhour's sessions table (src/site). */
  SessionsTable: z.enum(['true', 'false'], { error: 'SessionsTable must be "true" or "false"' }).default('false'),
  /** Comma-separated statement kinds the dump may contain anyway. */
  AllowStatements: z
    .string()
    .default('')
    .transform((s) => s.split(',').filter(Boolean))
    .pipe(AllowedKindsSchema),
  AllowIncompleteDump: z
    .enum(['true', 'false'], { error: 'AllowIncompleteDump must be "true" or "false"' })
    .default('false'),
  /** Connections the import loads on in parallel (import.connections; absent: 1, the sequential import). */
  Connections: z
    .string()
    .regex(/^([1-9]|1[0-6])$/, 'Connections must be a whole number from 1 to 16')
    .default('1')
    .transform(Number),
});
export type ImportResourceProperties = z.infer<typeof ImportResourcePropertiesSchema>;

export function parseProperties(raw: Record<string, unknown> | undefined): ImportResourceProperties {
  const parsed = ImportResourcePropertiesSchema.safeParse(withoutToken(raw));
  if (!parsed.success) {
    throw new Error(
      `invalid import custom resource properties: ${parsed.error.issues.map((i) => i.message).join('; ')}`,
    );
  }
  return parsed.data;
}

/** Deterministic: one import per database, so a retry or an update never creates a second resource. */
export function physicalResourceId(props: ImportResourceProperties): string {
  return `rushhour-import-${props.DatabaseName}`;
}

export interface HandleEventOptions {
  readonly log?: (message: string) => void;
  /** For Delete: removes the SSM parameters this import wrote. Without it a Delete only logs. */
  readonly edge?: AwsEdge;
  /** The clock. @default Date.now */
  readonly now?: () => number;
  /**
   * How long after onEvent the waiter may still start a slice: isComplete fails with ImportDeadlineError
   * after it. Must end before the custom resource's ServiceTimeout, so CloudFormation hears the real
   * reason and no slice imports after CloudFormation gave up.
   * @default 50 minutes (the entry passes IMPORT_DEADLINE_ENV)
   */
  readonly deadlineMs?: number;
}

/** The default wall-clock bound of one deployment's import (the custom resource's ServiceTimeout is 60 minutes). */
export const DEFAULT_IMPORT_DEADLINE_MS = 50 * 60_000;

/**
 * onEvent: validates and records the deadline; the work happens in isComplete. It refuses nothing on the
 * grounds of a changed dump: CloudFormation rolls a failed Update back by sending another Update with the
 * old and new properties swapped, and a refusal here would fail that rollback too (UPDATE_ROLLBACK_FAILED).
 * The refusal lives in the importer, which decides from what the database holds (its progress table):
 * a forward Update to another dump is refused there, the rollback to the dump already imported is a no-op.
 */
export async function handleEvent(
  event: ProviderEvent,
  optionsOrLog: HandleEventOptions | ((m: string) => void) = {},
): Promise<OnEventResponse> {
  const options: HandleEventOptions = typeof optionsOrLog === 'function' ? { log: optionsOrLog } : optionsOrLog;
  const log = options.log ?? console.log;
  const now = options.now ?? Date.now;
  if (event.RequestType === 'Delete') return handleDelete(event, options.edge, log);
  const props = parseProperties(event.ResourceProperties);
  if (event.RequestType === 'Update' && event.OldResourceProperties) {
    const old = event.OldResourceProperties as Record<string, unknown>;
    if (old.DumpAssetHash !== props.DumpAssetHash) {
      log(
        `the dump changed (asset ${String(old.DumpAssetHash).slice(0, 12)} -> ${props.DumpAssetHash.slice(0, 12)}); ` +
          'the importer decides from the progress table in the database (a rollback to the imported dump is a no-op)',
      );
    }
  }
  const deadlineMs = options.deadlineMs ?? DEFAULT_IMPORT_DEADLINE_MS;
  const deadline = new Date(now() + deadlineMs).toISOString();
  log(
    `${event.RequestType.toLowerCase()}: import of s3://${props.DumpBucket}/${props.DumpKey} (asset ${props.DumpAssetHash.slice(0, 12)}) into "${props.DatabaseName}" accepted; no slice starts after ${deadline}`,
  );
  return { PhysicalResourceId: physicalResourceId(props), Data: { ImportDeadline: deadline } };
}

/** The deadline from its environment value (the entry passes IMPORT_DEADLINE_ENV), else the default. */
export function deadlineFromEnv(env: string | undefined): number {
  const n = env ? Number(env) : NaN;
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_IMPORT_DEADLINE_MS;
}

/**
 * Delete never drops data (the database's removal policy, a final snapshot, decides what happens to it)
 * and leaves the progress table, so a Create after a failed one resumes. It removes the SSM parameters
 * only while they still describe this resource's database: when a changed DatabaseName replaces the
 * resource, CloudFormation creates the new one first and deletes the old one after, and the old one's
 * Delete must not remove what the new one just wrote.
 */
async function handleDelete(
  event: ProviderEvent,
  edge: AwsEdge | undefined,
  log: (m: string) => void,
): Promise<OnEventResponse> {
  const id = event.PhysicalResourceId ?? 'rushhour-import-unknown';
  log(`delete ${id}: leaving the database, its data and the import progress table as they are`);
  const parsed = ImportResourcePropertiesSchema.safeParse(withoutToken(event.ResourceProperties));
  if (!edge || !parsed.success) return { PhysicalResourceId: id };
  const p = parsed.data.SsmPrefix;
  const current = await edge.getParameter(`${p}/name`);
  if (current !== undefined && current !== parsed.data.DatabaseName) {
    log(`${p}/name names database "${current}", not "${parsed.data.DatabaseName}": its parameters are left in place`);
    return { PhysicalResourceId: id };
  }
  await edge.deleteParameters(SSM_KEYS.map((k) => ssmParameterName(p, k)));
  log(`removed ${p}/{${SSM_KEYS.join(',')}}`);
  return { PhysicalResourceId: id };
}

function withoutToken(raw: Record<string, unknown> | undefined): Record<string, unknown> {
  const { ServiceToken: _token, ...props } = raw ?? {};
  return props;
}

export interface CheckOptions {
  readonly edge: AwsEdge;
  /** How long this invocation may import before returning IsComplete: false. */
  readonly timeBudgetMs: number;
  readonly log?: (message: string) => void;
  /** How long to retry connecting to a database that is still starting. @default 120000 */
  readonly connectRetryMs?: number;
  /** The clock. @default Date.now */
  readonly now?: () => number;
}

/** What the last batch, the app user and the SSM writes may take after a slice's budget ends. */
const SLICE_MARGIN_MS = 90_000;

/**
 * isComplete: imports the next slice of the dump; when the whole dump is in, creates the app user
 * and writes the SSM parameters. Transient trouble (database not reachable, another slice still
 * holding the lock) returns IsComplete: false so the framework polls again and the import resumes.
 */
export async function checkComplete(event: ProviderEvent, options: CheckOptions): Promise<IsCompleteResponse> {
  const log = options.log ?? console.log;
  if (event.RequestType === 'Delete') return { IsComplete: true };
  const props = parseProperties(event.ResourceProperties);
  const now = (options.now ?? Date.now)();
  // The wall-clock bound: the Provider's totalTimeout counts polls, not time, and each poll may import for
  // 13 minutes; without this the waiter would go on importing after CloudFormation failed the resource.
  const deadline = event.Data?.ImportDeadline ? Date.parse(event.Data.ImportDeadline) : NaN;
  let budgetMs = options.timeBudgetMs;
  if (Number.isFinite(deadline)) {
    if (now >= deadline) {
      throw new ImportDeadlineError(
        `the import into "${props.DatabaseName}" did not finish by ${event.Data!.ImportDeadline} (the deployment's wall-clock bound): ` +
          'every committed statement is kept in the progress table; deploy again to resume from there ' +
          '(or run "rushhour import-dump" from a machine that reaches the database)',
        event.Data!.ImportDeadline!,
        props.DatabaseName,
      );
    }
    budgetMs = Math.min(budgetMs, Math.max(1, deadline - now - SLICE_MARGIN_MS));
  }
  const master = parseMasterSecret(await options.edge.getSecretJson(props.MasterSecretArn));
  const app = parseAppSecret(await options.edge.getSecretJson(props.AppSecretArn));
  const target = {
    host: master.host,
    port: master.port,
    user: master.username,
    password: master.password,
    database: props.DatabaseName,
  };
  const source = await options.edge.openDump(props.DumpBucket, props.DumpKey);
  let lastLog = 0;
  let result;
  try {
    result = await importDump({
      source,
      target,
      dumpHash: props.DumpAssetHash,
      timeBudgetMs: budgetMs,
      allowReimport: props.AllowReimport === 'true',
      allowStatements: props.AllowStatements,
      allowIncompleteDump: props.AllowIncompleteDump === 'true',
      // With N connections a slice stops handing out units at its budget, waits for those running, records them.
      connections: props.Connections,
      connectRetryMs: options.connectRetryMs,
      log,
      onProgress: (p) => {
        if (Date.now() - lastLog < 10000 && p.phase !== 'done') return;
        lastLog = Date.now();
        log(formatProgress(p));
      },
    });
  } catch (err) {
    if (err instanceof ImportBusyError || isTransient(err, { contention: false })) {
      log(`not finished, will retry: ${(err as Error).message}`);
      return { IsComplete: false };
    }
    throw err;
  }
  if (!result.complete) return { IsComplete: false };
  const { privileges } = await ensureAppUser(target, app.username, app.password, {
    connectRetryMs: options.connectRetryMs,
  });
  log(`application user "${app.username}" has ${privileges.join(', ')} on "${props.DatabaseName}"`);
  if (props.SessionsTable === 'true')
    log(`sessions table ${await ensureSessionsTable(target, { connectRetryMs: options.connectRetryMs })} is there`);
  const p = props.SsmPrefix;
  const values: Record<SsmKey, string> = {
    host: master.host,
    port: String(master.port),
    name: props.DatabaseName,
    user: app.username,
    'password-secret-arn': props.AppSecretArn,
  };
  await options.edge.putParameters(Object.fromEntries(SSM_KEYS.map((k) => [ssmParameterName(p, k), values[k]])));
  log(`wrote ${p}/{${SSM_KEYS.join(',')}}`);
  // The running engine version (RDS picks the minor of "8.4" and may upgrade it): a stack output, as
  // CloudFormation's DBInstance has no attribute for it.
  const conn = await connectWithRetry({ ...target }, { retryForMs: options.connectRetryMs, log });
  let serverVersion: string;
  try {
    const [rows] = await conn.query('SELECT VERSION() AS v');
    serverVersion = String((rows as Array<{ v: unknown }>)[0].v);
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
  return {
    IsComplete: true,
    Data: {
      DatabaseName: props.DatabaseName,
      Statements: String(result.statements),
      DumpAssetHash: props.DumpAssetHash,
      ServerVersion: serverVersion,
    },
  };
}

/**
 * The time an isComplete invocation may spend importing: the override (the entry passes TIME_BUDGET_ENV),
 * else what Lambda has left minus a margin.
 */
export function timeBudgetMs(remainingMs: number | undefined, envBudget?: string): number {
  const fromContext = remainingMs !== undefined ? Math.max(5_000, remainingMs - SLICE_MARGIN_MS) : 10 * 60_000;
  const fromEnv = envBudget ? Number(envBudget) : NaN;
  return Number.isFinite(fromEnv) && fromEnv > 0 ? Math.min(fromEnv, fromContext) : fromContext;
}
