import type { Connection } from 'mysql2/promise';
import { EXPORT_ACTIONS, EXPORT_ENV } from '../../lib/contracts';
import { MasterSecret, parseMasterSecret } from '../../src/aws/secrets';
import { exportPrefix, exportSlice, ExportStore } from '../../src/sql/export';
import { parseVerifyQuery, serveVerifyQuery, VerifyQueryResponse, VerifyRequestError } from '../../src/verify/remote';
import { mysql2Runner } from '../../src/verify/runner';

/**
 * The export function's logic: writes one slice of a consistent export of the RDS database to
 * `s3://<bucket>/exports/<exportId>/` per invocation. The CLI (`rushhour sync-back`) invokes it with the
 * same exportId until it answers `done: true`. Settings and the AWS edge are passed in (./index.ts binds
 * them from the environment; the rehearsal and tests pass them explicitly); the export itself is
 * src/sql/export.ts. The same function answers the row-level proof's read-only queries on the cloud
 * database (`action: 'verify-query'`, src/verify/remote.ts), for an operator who cannot reach RDS.
 */

export interface ExportEvent {
  /** Continue this export; a new id (time-based) when absent. */
  readonly exportId?: string;
}

export interface ExportResponse {
  readonly exportId: string;
  readonly done: boolean;
  readonly bucket: string;
  readonly prefix: string;
  readonly manifestKey: string;
  readonly parts: number;
  readonly rowsWritten: number;
}

/** What the stack tells the function (lib/constructs/export-function.ts sets them as EXPORT_ENV). */
export interface ExportSettings {
  readonly bucket: string;
  readonly masterSecretArn: string;
  readonly database: string;
  /** Caps the time one invocation spends exporting. @default what Lambda has left minus two minutes */
  readonly timeBudgetMs?: number;
}

/** The calls the handler makes outside itself, behind a thin edge (see ./aws.ts). */
export interface ExportEdge {
  /** The SecretString of a Secrets Manager secret, parsed as JSON. */
  getSecretJson(secretArn: string): Promise<unknown>;
  /** Where the parts and the manifest go. */
  store(bucket: string): ExportStore;
  /** A connection to the database as the master user. */
  connect(master: MasterSecret): Promise<Connection>;
}

export interface ExportContext {
  getRemainingTimeInMillis?: () => number;
}

/** Raised when a setting the stack provides is missing. */
export class ExportSettingsError extends Error {
  override readonly name = 'ExportSettingsError';
  constructor(readonly variable: string) {
    super(`environment variable ${variable} is not set (the stack sets it on the export function)`);
  }
}

/** The settings from an environment (the entry passes process.env). */
export function exportSettingsFrom(env: Readonly<Record<string, string | undefined>>): ExportSettings {
  const required = (name: string) => {
    const v = env[name];
    if (!v) throw new ExportSettingsError(name);
    return v;
  };
  const budget = Number(env[EXPORT_ENV.timeBudgetMs]);
  return {
    bucket: required(EXPORT_ENV.bucket),
    masterSecretArn: required(EXPORT_ENV.masterSecretArn),
    database: required(EXPORT_ENV.databaseName),
    ...(budget > 0 ? { timeBudgetMs: budget } : {}),
  };
}

/** A new export's id: time-based, so ids sort by start. */
export const newExportId = (now = new Date()) => `export-${now.toISOString().replace(/[:.]/g, '-')}`;

export async function handleExport(
  event: ExportEvent,
  settings: ExportSettings,
  edge: ExportEdge,
  context: ExportContext = {},
  log: (m: string) => void = console.log,
): Promise<ExportResponse> {
  const { bucket, database } = settings;
  const exportId = event.exportId ?? newExportId();
  // Leave two minutes for the last batch, the upload and the manifest.
  const remaining = context.getRemainingTimeInMillis?.() ?? 15 * 60 * 1000;
  const timeBudgetMs = settings.timeBudgetMs ?? Math.max(10000, remaining - 120000);
  const master = parseMasterSecret(await edge.getSecretJson(settings.masterSecretArn));
  const connection = await edge.connect(master);
  try {
    const result = await exportSlice({
      connection,
      store: edge.store(bucket),
      database,
      exportId,
      timeBudgetMs,
      log,
    });
    return {
      exportId,
      done: result.done,
      bucket,
      prefix: exportPrefix(exportId),
      manifestKey: result.manifestKey,
      parts: result.manifest.parts.length,
      rowsWritten: result.rowsWritten,
    };
  } finally {
    await connection.end().catch(() => undefined);
  }
}

/**
 * One verify-query invocation: the request is checked before the secret is read, then answered in a
 * read-only snapshot on a fresh connection (src/verify/remote.ts), within the time budget.
 */
export async function handleVerifyQuery(
  event: unknown,
  settings: ExportSettings,
  edge: ExportEdge,
  context: ExportContext = {},
): Promise<VerifyQueryResponse> {
  parseVerifyQuery(event);
  // Leave a minute to answer: the results are small, the last operation is one chunk's query.
  const remaining = context.getRemainingTimeInMillis?.() ?? 15 * 60 * 1000;
  const deadline = Date.now() + (settings.timeBudgetMs ?? Math.max(5000, remaining - 60000));
  const master = parseMasterSecret(await edge.getSecretJson(settings.masterSecretArn));
  const connection = await edge.connect(master);
  try {
    return await serveVerifyQuery(mysql2Runner(connection, 'cloud'), settings.database, event, deadline);
  } finally {
    await connection.end().catch(() => undefined);
  }
}

/** Every event of the export function: an export slice (no `action`) or a known action; others are refused. */
export function handleExportFunction(
  event: unknown,
  settings: ExportSettings,
  edge: ExportEdge,
  context: ExportContext = {},
): Promise<ExportResponse | VerifyQueryResponse> {
  const action = (event as { action?: unknown } | null | undefined)?.action;
  if (action === undefined) return handleExport((event ?? {}) as ExportEvent, settings, edge, context);
  if (action === EXPORT_ACTIONS.verifyQuery) return handleVerifyQuery(event, settings, edge, context);
  return Promise.reject(new VerifyRequestError(`unknown action ${JSON.stringify(String(action)).slice(0, 40)}`));
}
