import { z } from 'zod';
import { ensureSessionsTable } from '../../src/site/sessions-table';
import { ensureAppUser } from '../../src/sql/app-user';
import { isTransient } from '../../src/sql/transient';
import { DumpSource, ImportBusyError, importDump } from '../../src/sql/importer';
import { formatProgress } from '../../src/sql/progress-report';

/** What the Provider framework passes to onEvent / isComplete (the fields this handler reads). */
export interface ProviderEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResourceProperties: Record<string, unknown>;
  readonly OldResourceProperties?: Record<string, unknown>;
  readonly PhysicalResourceId?: string;
  readonly LogicalResourceId?: string;
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
});
export type ImportResourceProperties = z.infer<typeof ImportResourcePropertiesSchema>;

export function parseProperties(raw: Record<string, unknown> | undefined): ImportResourceProperties {
  const { ServiceToken: _token, ...props } = raw ?? {};
  const parsed = ImportResourcePropertiesSchema.safeParse(props);
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

/**
 * onEvent: validates and decides; the work happens in isComplete. An Update to a different dump is
 * refused here (fast, before touching the database) unless AllowReimport is "true".
 */
export async function handleEvent(
  event: ProviderEvent,
  log: (m: string) => void = console.log,
): Promise<OnEventResponse> {
  if (event.RequestType === 'Delete') {
    // Never drops data: the database's own removal policy (snapshot) decides what happens to it.
    log(`delete ${event.PhysicalResourceId}: leaving the database and its data as they are`);
    return { PhysicalResourceId: event.PhysicalResourceId ?? 'rushhour-import-unknown' };
  }
  const props = parseProperties(event.ResourceProperties);
  if (event.RequestType === 'Update' && event.OldResourceProperties) {
    const old = event.OldResourceProperties as Record<string, unknown>;
    if (
      old.DumpAssetHash !== props.DumpAssetHash &&
      old.DatabaseName === props.DatabaseName &&
      props.AllowReimport !== 'true'
    ) {
      throw new Error(
        `the dump changed (asset ${String(old.DumpAssetHash).slice(0, 12)} -> ${props.DumpAssetHash.slice(0, 12)}), but database "${props.DatabaseName}" already holds the first import: ` +
          'importing again would overwrite registrations made since. Set import.allowReimport to true in the rushhour config to re-import, or keep the old dump.',
      );
    }
  }
  log(
    `${event.RequestType.toLowerCase()}: import of s3://${props.DumpBucket}/${props.DumpKey} (asset ${props.DumpAssetHash.slice(0, 12)}) into "${props.DatabaseName}" accepted`,
  );
  return { PhysicalResourceId: physicalResourceId(props) };
}

export interface CheckOptions {
  readonly edge: AwsEdge;
  /** How long this invocation may import before returning IsComplete: false. */
  readonly timeBudgetMs: number;
  readonly log?: (message: string) => void;
  /** How long to retry connecting to a database that is still starting. @default 120000 */
  readonly connectRetryMs?: number;
}

/**
 * isComplete: imports the next slice of the dump; when the whole dump is in, creates the app user
 * and writes the SSM parameters. Transient trouble (database not reachable, another slice still
 * holding the lock) returns IsComplete: false so the framework polls again and the import resumes.
 */
export async function checkComplete(event: ProviderEvent, options: CheckOptions): Promise<IsCompleteResponse> {
  const log = options.log ?? console.log;
  if (event.RequestType === 'Delete') return { IsComplete: true };
  const props = parseProperties(event.ResourceProperties);
  const master = readMasterSecret(await options.edge.getSecretJson(props.MasterSecretArn));
  const app = readAppSecret(await options.edge.getSecretJson(props.AppSecretArn));
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
      timeBudgetMs: options.timeBudgetMs,
      allowReimport: props.AllowReimport === 'true',
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
  await options.edge.putParameters({
    [`${p}/host`]: master.host,
    [`${p}/port`]: String(master.port),
    [`${p}/name`]: props.DatabaseName,
    [`${p}/user`]: app.username,
    [`${p}/password-secret-arn`]: props.AppSecretArn,
  });
  log(`wrote ${p}/{host,port,name,user,password-secret-arn}`);
  return {
    IsComplete: true,
    Data: {
      DatabaseName: props.DatabaseName,
      Statements: String(result.statements),
      DumpAssetHash: props.DumpAssetHash,
    },
  };
}

interface MasterSecret {
  host: string;
  port: number;
  username: string;
  password: string;
}

function readMasterSecret(s: Record<string, unknown>): MasterSecret {
  const missing = ['host', 'username', 'password'].filter((k) => typeof s[k] !== 'string' || !s[k]);
  if (missing.length)
    throw new Error(
      `the master secret lacks ${missing.join(', ')} (expected the RDS-generated secret attached to the instance)`,
    );
  const port = Number(s.port ?? 3306);
  if (!Number.isInteger(port) || port <= 0) throw new Error('the master secret has an invalid port');
  return { host: s.host as string, port, username: s.username as string, password: s.password as string };
}

function readAppSecret(s: Record<string, unknown>): { username: string; password: string } {
  if (typeof s.username !== 'string' || !s.username || typeof s.password !== 'string' || !s.password) {
    throw new Error('the app secret must be JSON with "username" and "password" (generated by CloudFormation)');
  }
  return { username: s.username, password: s.password };
}

/** The time an isComplete invocation may spend importing: the env override, else what Lambda has left minus a margin. */
export function timeBudgetMs(remainingMs: number | undefined, envBudget = process.env.RUSHHOUR_TIME_BUDGET_MS): number {
  const marginMs = 90_000; // the last batch, the app user and the SSM writes must fit after the budget
  const fromContext = remainingMs !== undefined ? Math.max(5_000, remainingMs - marginMs) : 10 * 60_000;
  const fromEnv = envBudget ? Number(envBudget) : NaN;
  return Number.isFinite(fromEnv) && fromEnv > 0 ? Math.min(fromEnv, fromContext) : fromContext;
}
