import { S3Client } from '@aws-sdk/client-s3';
import { Command } from 'commander';
import { exportSettingsFrom } from '../../../lambda/export-db/handler';
import { DATA_OUTPUTS, EXPORT_ENV } from '../../../lib/contracts';
import { exportFunctionName } from '../../aws/deployment';
import { ExportInvoker, lambdaInvoker, localInvoker } from '../../aws/export-invoker';
import { syncBack } from '../../origin/sync-back';
import { parseEndpoint } from '../../verify/endpoint';
import { connectRunner } from '../../verify/runner';
import { integerAtLeast } from '../../util/options';
import type { CliEnv } from '../env';
import { cliSshEnvironment, originCommand, restartOption, stateFileOption } from '../origin-options';

/** The export: the handler in this process (settings from the environment), the named function, or the site's. */
async function exportInvoker(
  opts: { localExport?: boolean; exportFunction?: string; site?: string },
  env: CliEnv,
): Promise<ExportInvoker> {
  if (opts.localExport)
    return localInvoker(exportSettingsFrom(env), { forcePathStyle: env.AWS_ENDPOINT_URL !== undefined });
  if (opts.exportFunction) return lambdaInvoker(opts.exportFunction);
  if (!opts.site)
    throw new Error(
      'pass --site <siteName> (to find the export function in the stack outputs) or --export-function <name>',
    );
  return lambdaInvoker(await exportFunctionName(opts.site));
}

export function register(program: Command, env: CliEnv): void {
  originCommand(
    program,
    'sync-back',
    'After the week: export the cloud DB, load it on the origin over SSH (after a backup there) and prove it row by row',
  )
    .requiredOption('--database <name>', 'database on the origin')
    .option(
      '--site <siteName>',
      'the deployment: stack rushhour-<site>-data has the export function (not needed with --export-function or --local-export)',
    )
    .option('--pulled <file>', 'the <db>.checksums.json written by pull-db (default: the last pull in the state file)')
    .option(
      '--export-function <name>',
      `export function name (default: the stack output ${DATA_OUTPUTS.exportFunctionName})`,
    )
    .option(
      '--local-export',
      `run the export handler in this process instead of invoking the Lambda (rehearsal; uses ${EXPORT_ENV.bucket}, ${EXPORT_ENV.masterSecretArn}, ${EXPORT_ENV.databaseName}, AWS_ENDPOINT_URL)`,
    )
    .option('--out <dir>', 'where to keep the downloaded export', '.')
    .option('--backup-dir <dir>', 'directory on the origin for the backup of its current database', undefined)
    .option('--replace-origin-data', "confirm that the origin's tables are replaced (after a backup)")
    .option('--force', 'load even if the origin changed since the pull')
    .addOption(stateFileOption())
    .addOption(restartOption('sync-back'))
    .option(
      '--cloud-db <host:port/db>',
      'the cloud database as reachable from here (e.g. a tunnel) for the row-level proof, one snapshot; password from CLOUD_MYSQL_PWD (default: the proof queries the cloud through the export function)',
    )
    .option('--cloud-user <user>', 'login for --cloud-db', 'admin')
    .option(
      '--delta',
      'send home only the rows that differ (one transaction per table on the origin), then prove the whole database row by row; makes no export',
    )
    .option('--chunk-size <rows>', 'rows per chunk for --delta and the proof', integerAtLeast('--chunk-size', 1))
    .action(async (opts) => {
      const cloud = opts.cloudDb ? parseEndpoint(opts.cloudDb) : undefined;
      if (cloud && cloud.database !== opts.database)
        throw new Error(
          `--cloud-db names database ${cloud.database}; the proof compares ${opts.database} on both sides`,
        );
      const result = await syncBack({
        ...opts,
        cloudDb: cloud
          ? () => connectRunner({ ...cloud, user: opts.cloudUser, password: env.CLOUD_MYSQL_PWD ?? '' })
          : undefined,
        sshEnv: cliSshEnvironment(env),
        // The export function also answers the proof's queries when the cloud DB is not reachable from here.
        invoker: opts.delta && cloud ? undefined : await exportInvoker(opts, env),
        chunkSize: opts.chunkSize === undefined ? undefined : Number(opts.chunkSize),
        // A local endpoint (AWS_ENDPOINT_URL) serves buckets by path, not by DNS name.
        s3: new S3Client({ forcePathStyle: Boolean(env.AWS_ENDPOINT_URL) }),
        replaceOriginData: Boolean(opts.replaceOriginData),
      });
      if (!result.identical) {
        process.exitCode = 2;
        console.error(
          `sync-back: the origin differs from the cloud in ${result.rowLevel.tables
            .filter((t) => !t.identical)
            .map((t) => t.table)
            .join(', ')}; ` + `the origin's previous data is in ${result.backupFile} on the origin`,
        );
      }
    });
}
