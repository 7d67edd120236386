import { Command, InvalidArgumentError } from 'commander';
import { SingleBar } from 'cli-progress';
import { fileDumpSource, sha256File } from '../../sql/dump-source';
import { importDump, ImportResult } from '../../sql/importer';
import { formatBytes, formatDuration, formatProgress } from '../../sql/progress-report';
import { positiveNumber } from '../../util/options';
import type { CliEnv } from '../env';
import { AllowedKindsSchema, RefusableKind } from '../../sql/vetting';

export interface ImportDumpFlags {
  readonly dump: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly timeBudget?: number;
  readonly dumpHash?: string;
  readonly allowReimport?: boolean;
  readonly allowStatements?: readonly RefusableKind[];
  readonly allowIncompleteDump?: boolean;
  readonly progress?: boolean;
  /** Connections loading in parallel (1: the sequential import). */
  readonly connections?: number;
  /** The password, as the mysql client reads it from MYSQL_PWD (never a flag). */
  readonly password?: string;
}

/** `--allow-statements account,privilege`: validated against the vetting's kinds. */
function statementKinds(raw: string): RefusableKind[] {
  const parsed = AllowedKindsSchema.safeParse(
    raw
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean),
  );
  if (!parsed.success)
    throw new InvalidArgumentError(`--allow-statements: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  return parsed.data;
}

/**
 * The same import as the custom resource's, from a local file: for the rehearsal and for an operator
 * who resumes or redoes an import by hand. Exit code 0 only when the whole dump is in.
 */
export async function runImportDump(
  flags: ImportDumpFlags,
  out: NodeJS.WriteStream = process.stderr,
): Promise<ImportResult> {
  const password = flags.password;
  if (password === undefined)
    throw new Error(
      'set the password in the MYSQL_PWD environment variable (as the mysql client reads it); it is never taken as a flag so it stays out of shell history and ps',
    );
  const source = fileDumpSource(flags.dump);
  const dumpHash = flags.dumpHash ?? (await sha256File(flags.dump));
  const bar =
    flags.progress !== false && out.isTTY
      ? new SingleBar({
          format:
            'import [{bar}] {percentage}% {done}/{size} | {statements} statements | {rate}/s | ETA {eta_formatted}',
          etaBuffer: 50,
          stream: out,
        })
      : undefined;
  let lastLine = 0;
  const log = (m: string) => {
    if (bar) bar.stop();
    out.write(`${m}\n`);
  };
  bar?.start(source.size ?? 0, 0, { done: '0 B', size: formatBytes(source.size ?? 0), statements: 0, rate: '0 B' });
  try {
    return await importDump({
      source,
      dumpHash,
      allowReimport: flags.allowReimport,
      allowStatements: flags.allowStatements,
      allowIncompleteDump: flags.allowIncompleteDump,
      connections: flags.connections,
      target: { host: flags.host, port: flags.port, user: flags.user, password, database: flags.database },
      timeBudgetMs: flags.timeBudget !== undefined ? flags.timeBudget * 1000 : undefined,
      log,
      onProgress: (p) => {
        if (bar) {
          bar.update(p.bytesRead, {
            done: formatBytes(p.bytesRead),
            size: formatBytes(p.totalBytes ?? 0),
            statements: p.statements,
            rate: formatBytes(p.bytesPerSecond),
          });
        } else if (Date.now() - lastLine > 5000 || p.phase === 'done') {
          lastLine = Date.now();
          out.write(`${formatProgress(p)}\n`);
        }
      },
    });
  } finally {
    bar?.stop();
  }
}

export function register(program: Command, env: CliEnv): void {
  const action = async (opts: ImportDumpFlags) => {
    const result = await runImportDump({ ...opts, password: env.MYSQL_PWD });
    const rate = result.elapsedMs > 0 ? formatBytes((result.bytesThisRun * 1000) / result.elapsedMs) : '-';
    if (result.alreadyComplete) {
      process.stderr.write(`already imported: ${result.statements} statements; nothing to do\n`);
    } else if (result.complete) {
      process.stderr.write(
        `imported ${formatBytes(result.offset)} (${result.statements} statements) in ${formatDuration(result.elapsedMs)}, ${rate}/s\n`,
      );
    } else {
      process.stderr.write(
        `stopped at the time budget: ${formatBytes(result.offset)} (${result.statements} statements) committed; run the same command again to resume\n`,
      );
      process.exitCode = 3;
    }
  };
  const define = (name: string, description: string) =>
    program
      .command(name)
      .description(description)
      .requiredOption('--dump <file>', 'the mysqldump, .sql or .sql.gz')
      .requiredOption('--host <host>', 'database host')
      .option('--port <port>', 'database port', positiveNumber('--port'), 3306)
      .requiredOption('--user <user>', 'database user (password from MYSQL_PWD)')
      .requiredOption('--database <name>', 'database to import into (created if missing)')
      .option(
        '--time-budget <seconds>',
        'stop cleanly after this many seconds (exit code 3); run again to resume',
        positiveNumber('--time-budget'),
      )
      .option(
        '--dump-hash <hash>',
        "progress record to continue (default: sha256 of the file; pass the CDK asset hash to continue a deployment's import)",
      )
      .option(
        '--allow-reimport',
        "import even though the database holds another dump's import (overwrites data changed since)",
      )
      .option(
        '--allow-statements <kinds>',
        'comma-separated statement kinds the dump may contain anyway (account, privilege, system-schema, other-database, plugin, global-setting, server-admin, file-access, dynamic-sql)',
        statementKinds,
      )
      .option(
        '--allow-incomplete-dump',
        'import a dump without the "-- Dump completed" trailer mysqldump writes (a dump cut at a line end looks complete otherwise)',
      )
      .option(
        '--connections <n>',
        'connections loading in parallel: tables and chunks concurrently, secondary indexes after the data (docs/import.md); 1 is the sequential import',
        positiveNumber('--connections', { integer: true }),
        1,
      )
      .option('--no-progress', 'no progress bar, even on a terminal')
      .action(action);
  define(
    'import-dump',
    'Import a mysqldump into MySQL/MariaDB the way the deployment does: streamed, RDS rewrites, resumable (exit 0 only when complete).',
  );
  define(
    'resume-import',
    "Same as import-dump: continues the progress record of an interrupted import (e.g. a deployment's, with --dump-hash).",
  );
}
