import * as fs from 'node:fs';
import * as path from 'node:path';
import { Transform } from 'node:stream';
import { Command } from 'commander';
import { S3Client } from '@aws-sdk/client-s3';
import { ExportEvent, ExportResponse, handler as exportHandler, s3Store } from '../../../lambda/export-db';
import { readExportManifest, readExportParts } from '../../sql/export';
import {
  addOriginOptions,
  diffStats,
  OriginOptions,
  originClient,
  originTableStats,
  sshTarget,
  TableStat,
} from '../../ssh/origin';
import { progress } from '../../ssh/progress';
import { localSha256, shq, SshSession } from '../../ssh/session';
import { DEFAULT_STATE_FILE, StateFile } from '../../state/state-file';
import { PullRecord } from './pull-db';
import { stackNames } from '../../../lib/stack-names';
import { stackOutputs } from './status';
import { parseEndpoint } from '../../verify/endpoint';
import { connectRunner, QueryRunner } from '../../verify/runner';
import { sshClientRunner } from '../../verify/ssh-runner';
import { formatVerify, verifyData, VerifyResult } from '../../verify/verify';

/** Runs one slice of the export: the deployed Lambda, or the same handler in-process (rehearsal, tests). */
export interface ExportInvoker {
  invoke(event: ExportEvent): Promise<ExportResponse>;
}

/** The deployed export function, invoked synchronously (each slice fits its 15-minute timeout). */
export function lambdaInvoker(functionName: string): ExportInvoker {
  return {
    async invoke(event) {
      const { LambdaClient, InvokeCommand } = await import('@aws-sdk/client-lambda');
      const out = await new LambdaClient({}).send(
        new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(event)) }),
      );
      const body = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '{}';
      if (out.FunctionError) throw new Error(`the export function ${functionName} failed: ${body}`);
      return JSON.parse(body) as ExportResponse;
    },
  };
}

/** The export handler module called in this process; its AWS edge follows the environment (AWS_ENDPOINT_URL for moto). */
export function localInvoker(): ExportInvoker {
  return {
    async invoke(event) {
      return exportHandler(event, {});
    },
  };
}

export interface SyncBackOptions extends OriginOptions {
  readonly database: string;
  /** The `<db>.checksums.json` written by pull-db; the last pull of this origin/database in the state file when absent. */
  readonly pulled?: string;
  readonly invoker: ExportInvoker;
  /** S3 client for downloading the export. @default a client from the environment */
  readonly s3?: S3Client;
  /** @default '.' */
  readonly out?: string;
  /** Directory ON THE ORIGIN for the backup of what the load replaces. @default "$HOME/rushhour-backups" */
  readonly backupDir?: string;
  /** Overwrite the origin's tables with the export (the explicit flag). */
  readonly replaceOriginData: boolean;
  /** Load even though the origin changed since the pull. */
  readonly force?: boolean;
  /** @default DEFAULT_STATE_FILE */
  readonly stateFile?: string;
  /** Start over instead of resuming an interrupted sync-back. */
  readonly restart?: boolean;
  /**
   * A session on the cloud database for the row-level proof (verify-data against the origin's server
   * over SSH). When given, the verdict is row-level and CHECKSUM TABLE is extra information only.
   * @default none: the verdict is CHECKSUM TABLE and row counts (not portable across server versions)
   */
  readonly cloudDb?: () => Promise<QueryRunner>;
  readonly log?: (message: string) => void;
}

export interface TableComparison {
  readonly table: string;
  readonly cloud?: TableStat;
  readonly origin?: TableStat;
  readonly same: boolean;
}

export interface SyncBackResult {
  readonly exportId: string;
  readonly exportFile: string;
  readonly backupFile: string;
  readonly tables: TableComparison[];
  readonly identical: boolean;
  /** The row-level proof, when `cloudDb` was given (then `identical` is its verdict). */
  readonly rowLevel?: VerifyResult;
}

export class OriginChangedError extends Error {}

function lastPull(state: StateFile, origin: string, database: string): string {
  const op = state.list(`pull-db:${origin}/${database}`).find((o) => o.finishedAt);
  const file = op?.steps.finished?.data.checksumsFile;
  if (typeof file !== 'string') {
    throw new Error(
      `no finished pull-db of ${database} from ${origin} in ${state.file}: pass --pulled <db>.checksums.json (written by pull-db)`,
    );
  }
  return file;
}

export function formatComparison(rows: TableComparison[]): string {
  const header = ['table', 'cloud checksum', 'origin checksum', 'cloud rows', 'origin rows', ''];
  const body = rows.map((r) => [
    r.table,
    r.cloud?.checksum ?? '-',
    r.origin?.checksum ?? '-',
    String(r.cloud?.rows ?? '-'),
    String(r.origin?.rows ?? '-'),
    r.same ? 'ok' : 'DIFFERENT',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  return [header, ...body]
    .map((cols) =>
      cols
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * Brings the week's data home: export the cloud database (sliced), download and verify it, refuse if
 * the origin changed since the pull (unless forced), back up the origin's database on the origin,
 * stream the export into the origin's `mysql` over SSH, then compare CHECKSUM TABLE and row counts,
 * table by table. Each step is recorded; a rerun resumes after the last completed one.
 *
 * The load runs the origin's own `mysql` client fed through the SSH channel: the origin's DB login
 * never leaves the origin (no port forward, no password here), and mysql is the reference reader of
 * mysqldump-format files (DELIMITER blocks, version comments).
 */
export async function syncBack(o: SyncBackOptions): Promise<SyncBackResult> {
  const log = o.log ?? ((m: string) => console.log(m));
  if (!o.replaceOriginData) {
    throw new Error(
      "sync-back replaces the origin's tables with the cloud's: pass --replace-origin-data to confirm (a backup is taken on the origin first)",
    );
  }
  const target = sshTarget(o);
  const state = new StateFile(o.stateFile ?? DEFAULT_STATE_FILE);
  const pulledFile = o.pulled ?? lastPull(state, o.origin, o.database);
  const pulled = JSON.parse(fs.readFileSync(pulledFile, 'utf8')) as PullRecord;
  if (pulled.database !== o.database)
    throw new Error(`${pulledFile} records database ${pulled.database}, not ${o.database}`);
  const op = state.operation(`sync-back:${o.origin}/${o.database}`, { fresh: o.restart });
  const outDir = path.resolve(o.out ?? '.');
  fs.mkdirSync(outDir, { recursive: true });

  // 1. Export, slice by slice, continuing the same export id after a crash.
  let exportId = op.done('export-started')?.data.exportId as string | undefined;
  const exported = await op.step(
    'export',
    async () => {
      let res = await o.invoker.invoke(exportId ? { exportId } : {});
      if (!exportId) {
        exportId = res.exportId;
        op.record('export-started', { exportId });
      }
      for (let slice = 1; !res.done; slice++) {
        log(`export ${exportId}: slice ${slice} done (${res.parts} parts so far)`);
        if (slice > 1000) throw new Error(`export ${exportId} did not finish in 1000 slices`);
        res = await o.invoker.invoke({ exportId });
      }
      log(`export ${exportId}: complete, ${res.parts} parts in s3://${res.bucket}/${res.prefix}`);
      return { exportId: res.exportId, bucket: res.bucket };
    },
    log,
  );

  // 2. Download and verify every part; keep the cloud's checksums from the manifest.
  const exportFile = path.join(outDir, `${o.database}.export-${exported.exportId}.sql.gz`);
  const downloaded = await op.step(
    'download',
    async () => {
      const store = s3Store(
        o.s3 ?? new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL) }),
        String(exported.bucket),
      );
      const manifest = (await readExportManifest(store, String(exported.exportId)))!;
      const tmp = `${exportFile}.part`;
      const fd = fs.openSync(tmp, 'w', 0o600);
      try {
        for await (const part of readExportParts(store, String(exported.exportId))) fs.writeSync(fd, part);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, exportFile);
      const cloud: Record<string, TableStat> = {};
      for (const t of manifest.tables)
        cloud[t.name] = { checksum: manifest.checksumsAtEnd?.[t.name] ?? null, rows: manifest.rowCounts[t.name] ?? 0 };
      return { exportFile, sha256: await localSha256(exportFile), bytes: fs.statSync(exportFile).size, cloud };
    },
    log,
  );
  const cloud = downloaded.cloud as Record<string, TableStat>;

  let session = await SshSession.connect(target);
  try {
    // 3. Has anyone written to the origin since the pull?
    await op.step(
      'origin-unchanged',
      async () => {
        const now = await originTableStats(session, o, o.database);
        const changed = diffStats(pulled.tables, now);
        if (changed.length > 0 && !o.force) {
          throw new OriginChangedError(
            `the origin's database ${o.database} changed since the pull at ${pulled.pulledAt} (tables ${changed.join(', ')}): ` +
              'someone wrote to it during the week, and loading the export would overwrite that. Reconcile by hand, or rerun with --force ' +
              '(the origin is backed up on the origin first).',
          );
        }
        if (changed.length > 0)
          log(
            `--force: the origin changed since the pull (tables ${changed.join(', ')}); loading anyway after a backup`,
          );
        return { changed };
      },
      log,
    );

    // 4. Back up what the load replaces, on the origin.
    const backup = await op.step(
      'backup',
      async () => {
        const stamp = new Date().toISOString().replace(/[:.]/g, '-');
        const dir = o.backupDir ? shq(o.backupDir) : '"$HOME/rushhour-backups"';
        const file =
          (
            await session.run(`umask 077 && mkdir -p ${dir} && cd ${dir} && pwd`, 'creating the backup directory')
          ).trim() + `/${o.database}-before-sync-back-${stamp}.sql.gz`;
        await session.run(
          `bash -c ${shq(
            `set -o pipefail; ${originClient(o, 'mysqldump')} --single-transaction --quick --routines --triggers --events --hex-blob ` +
              `--default-character-set=utf8mb4 ${shq(o.database)} | gzip -c > ${shq(file)}`,
          )}`,
          "backing up the origin's database",
        );
        log(`backed up the origin's ${o.database} to ${file} (on the origin)`);
        return { backupFile: file, sha256: await session.remoteSha256(file) };
      },
      log,
    );

    // 5. Stream the export into the origin's mysql.
    await op.step(
      'load',
      async () => {
        const size = fs.statSync(exportFile).size;
        const bar = progress(`sync-back load ${o.database}`);
        let sent = 0;
        const counter = new Transform({
          transform(chunk: Buffer, _e, cb) {
            sent += chunk.length;
            bar.update(sent, size);
            cb(null, chunk);
          },
        });
        try {
          const r = await session.exec(
            `bash -c ${shq(`set -o pipefail; gzip -dc | ${originClient(o, 'mysql')} --default-character-set=utf8mb4 ${shq(o.database)}`)}`,
            { stdin: fs.createReadStream(exportFile).pipe(counter) },
          );
          if (r.code !== 0) {
            // mysql echoes the failing statement (rows of data) before its ERROR line: report only the error.
            const reason =
              r.stderr
                .split('\n')
                .filter((l) => /^ERROR/.test(l))
                .join('; ') || r.stderr.trim().slice(-500);
            throw new Error(
              `loading the export on the origin failed (exit ${r.code ?? r.signal}): ${reason}. ` +
                `The origin's previous data is in ${backup.backupFile}; rerun sync-back to retry the load.`,
            );
          }
        } finally {
          bar.stop();
        }
        return { bytes: size, sha256: downloaded.sha256 };
      },
      log,
    );

    // 6. Prove it, table by table.
    if (session.isClosed) session = await SshSession.connect(target);
    const after = await originTableStats(session, o, o.database);
    const names = [...new Set([...Object.keys(cloud), ...Object.keys(after)])].sort();
    const tables = names.map((t) => ({
      table: t,
      cloud: cloud[t],
      origin: after[t],
      same: Boolean(cloud[t] && after[t] && cloud[t].checksum === after[t].checksum && cloud[t].rows === after[t].rows),
    }));
    log(formatComparison(tables));
    let rowLevel: VerifyResult | undefined;
    if (o.cloudDb) {
      const [originDb, cloudDb] = [await sshClientRunner(session, o), await o.cloudDb()];
      try {
        rowLevel = await verifyData({ left: originDb, right: cloudDb, leftDatabase: o.database });
      } finally {
        await Promise.all([originDb.close(), cloudDb.close()]);
      }
      log(formatVerify(rowLevel, 20, { left: 'at the origin', right: 'in the cloud' }));
    }
    const identical = rowLevel ? rowLevel.identical : tables.every((t) => t.same);
    const result = {
      exportId: String(exported.exportId),
      exportFile,
      backupFile: String(backup.backupFile),
      tables,
      identical,
      rowLevel,
    };
    if (identical) {
      op.finish({ exportId: result.exportId, backupFile: result.backupFile, tables: tables.length, identical });
      log(
        `sync-back: all ${tables.length} tables identical on the origin and in the cloud (${rowLevel ? 'row by row' : 'CHECKSUM TABLE and row counts'})`,
      );
    } else {
      const different = rowLevel ? rowLevel.tables.filter((t) => !t.identical) : tables.filter((t) => !t.same);
      op.record('prove', { identical, different: different.map((t) => t.table) });
    }
    return result;
  } finally {
    session.close();
  }
}

export function register(program: Command): void {
  addOriginOptions(program.command('sync-back'))
    .description(
      'After the week: export the cloud DB, load it on the origin over SSH (after a backup there) and prove it by CHECKSUM TABLE',
    )
    .requiredOption('--database <name>', 'database on the origin')
    .option(
      '--site <siteName>',
      'the deployment: stack rushhour-<site>-data has the export function (not needed with --export-function or --local-export)',
    )
    .option('--pulled <file>', 'the <db>.checksums.json written by pull-db (default: the last pull in the state file)')
    .option('--export-function <name>', 'export function name (default: the stack output ExportFunctionName)')
    .option(
      '--local-export',
      'run the export handler in this process instead of invoking the Lambda (rehearsal; uses EXPORT_BUCKET, MASTER_SECRET_ARN, DATABASE_NAME, AWS_ENDPOINT_URL)',
    )
    .option('--out <dir>', 'where to keep the downloaded export', '.')
    .option('--backup-dir <dir>', 'directory on the origin for the backup of its current database', undefined)
    .option('--replace-origin-data', "confirm that the origin's tables are replaced (after a backup)")
    .option('--force', 'load even if the origin changed since the pull')
    .option('--state-file <file>', 'local state file', DEFAULT_STATE_FILE)
    .option('--restart', 'start over instead of resuming an interrupted sync-back')
    .option(
      '--cloud-db <host:port/db>',
      'the cloud database as reachable from here (e.g. a tunnel) for the row-level proof; password from CLOUD_MYSQL_PWD',
    )
    .option('--cloud-user <user>', 'login for --cloud-db', 'admin')
    .action(async (opts) => {
      const cloud = opts.cloudDb ? parseEndpoint(opts.cloudDb) : undefined;
      if (cloud && cloud.database !== opts.database)
        throw new Error(
          `--cloud-db names database ${cloud.database}; the proof compares ${opts.database} on both sides`,
        );
      const cloudDb = cloud
        ? () => connectRunner({ ...cloud, user: opts.cloudUser, password: process.env.CLOUD_MYSQL_PWD ?? '' })
        : undefined;
      let invoker: ExportInvoker;
      if (opts.localExport) invoker = localInvoker();
      else {
        if (!opts.exportFunction && !opts.site)
          throw new Error(
            'pass --site <siteName> (to find the export function in the stack outputs) or --export-function <name>',
          );
        const fn = opts.exportFunction ?? (await stackOutputs(stackNames(opts.site).data)).ExportFunctionName;
        if (!fn)
          throw new Error(
            `stack ${stackNames(opts.site).data} has no output ExportFunctionName: is the data stack deployed?`,
          );
        invoker = lambdaInvoker(fn);
      }
      const result = await syncBack({ ...opts, cloudDb, invoker, replaceOriginData: Boolean(opts.replaceOriginData) });
      if (!result.identical) {
        process.exitCode = 2;
        console.error(
          `sync-back: the origin differs from the cloud in ${result.tables
            .filter((t) => !t.same)
            .map((t) => t.table)
            .join(', ')}; ` + `the origin's previous data is in ${result.backupFile} on the origin`,
        );
      }
    });
}
