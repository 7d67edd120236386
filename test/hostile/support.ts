import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { LocalMariaDb } from '../../src/local/mariadb';
import { bufferDumpSource } from '../../src/sql/dump-source';
import { importDump, ImportOptions, ImportResult } from '../../src/sql/importer';

export const MASTER_PASSWORD = `pw-hostile-${process.pid}`;

/** Imports `data` into `database` as the RDS-like master user `master`; logs collected in `logs`. */
export function importer(db: () => LocalMariaDb) {
  return (
    database: string,
    data: Buffer,
    extra: Partial<ImportOptions> & { logs?: string[] } = {},
  ): Promise<ImportResult> => {
    const { logs, ...rest } = extra;
    return importDump({
      source: bufferDumpSource(data),
      target: { host: db().host, port: db().port, user: 'master', password: MASTER_PASSWORD, database },
      dumpHash: `hash-${database}`,
      log: logs ? (m) => logs.push(m) : undefined,
      ...rest,
    });
  };
}

/** Runs `rushhour <args>` as an operator would (password in MYSQL_PWD); returns exit code and output. */
export function cli(args: string[]): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [path.join(__dirname, '../../bin/rushhour.js'), ...args], {
    env: { ...process.env, MYSQL_PWD: MASTER_PASSWORD },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

export function cliTarget(db: LocalMariaDb, database: string): string[] {
  return ['--host', db.host, '--port', String(db.port), '--user', 'master', '--database', database, '--no-progress'];
}

/** Whether `database` exists on the server. */
export function databaseExists(db: LocalMariaDb, database: string): boolean {
  return db.sql(`SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name='${database}'`).trim() === '1';
}

/** Base tables of `database` other than the importer's own progress table. */
export function tablesOf(db: LocalMariaDb, database: string): string[] {
  return db
    .sql(
      `SELECT table_name FROM information_schema.tables WHERE table_schema='${database}' AND table_name <> 'rushhour_import_progress' ORDER BY 1`,
    )
    .split('\n')
    .filter(Boolean);
}
