import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createConnection } from 'mysql2/promise';
import { exportPrefix, exportSlice, ExportStore } from '../../src/sql/export';

/**
 * The export function: writes one slice of a consistent export of the RDS database to
 * `s3://EXPORT_BUCKET/exports/<exportId>/` per invocation. The CLI (`rushhour sync-back`) invokes it
 * with the same exportId until it answers `done: true`.
 *
 * Environment: EXPORT_BUCKET, MASTER_SECRET_ARN, DATABASE_NAME; optional RUSHHOUR_TIME_BUDGET_MS.
 * The AWS calls stay in this file (the edge); the export itself is src/sql/export.ts.
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

interface LambdaContext {
  getRemainingTimeInMillis?: () => number;
}

/** An ExportStore on S3 (per-part objects; each part is at most a few tens of MB, so single PUTs suffice). */
export function s3Store(s3: S3Client, bucket: string): ExportStore {
  return {
    async put(key, body) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ServerSideEncryption: 'AES256' }));
    },
    async get(key) {
      try {
        const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return Buffer.from(await out.Body!.transformToByteArray());
      } catch (err) {
        if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey') return undefined;
        throw err;
      }
    },
  };
}

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set (the stack sets it on the export function)`);
  return v;
}

export async function handler(event: ExportEvent = {}, context: LambdaContext = {}): Promise<ExportResponse> {
  const bucket = required('EXPORT_BUCKET');
  const secretArn = required('MASTER_SECRET_ARN');
  const database = required('DATABASE_NAME');
  const exportId = event.exportId ?? `export-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  // Leave two minutes for the last batch, the upload and the manifest.
  const remaining = context.getRemainingTimeInMillis?.() ?? 15 * 60 * 1000;
  const timeBudgetMs = Number(process.env.RUSHHOUR_TIME_BUDGET_MS) || Math.max(10000, remaining - 120000);

  const secrets = new SecretsManagerClient({});
  const secret = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
  const master = JSON.parse(secret.SecretString ?? '{}') as {
    host?: string;
    port?: number | string;
    username?: string;
    password?: string;
  };
  if (!master.host || !master.username || !master.password)
    throw new Error('the master secret lacks host, username or password');

  const connection = await createConnection({
    host: master.host,
    port: Number(master.port ?? 3306),
    user: master.username,
    password: master.password,
    charset: 'utf8mb4',
    connectTimeout: 60000,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  });
  try {
    const result = await exportSlice({
      // A local endpoint (moto in the rehearsal) serves buckets by path, not by DNS name.
      connection,
      store: s3Store(new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL) }), bucket),
      database,
      exportId,
      timeBudgetMs,
      log: (m) => console.log(m),
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
