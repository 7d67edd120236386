import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { quoteIdent } from '../util/sql-ident';
import type { LocalMariaDb } from './mariadb';

/** The origin's dump did not load: the client's exit code and the end of what it said. */
export class DumpLoadError extends Error {
  override readonly name = 'DumpLoadError';
  constructor(
    message: string,
    readonly file: string,
    readonly exitCode: number | null,
  ) {
    super(message);
  }
}

/**
 * Loads a mysqldump (`.sql` or `.sql.gz`) into `database` on a local MariaDB, as the operator's origin holds it:
 * the database is created first (a single-database dump has no CREATE DATABASE), then the dump is streamed
 * through the mariadb client, so a large dump never sits in memory.
 */
export async function loadDumpInto(db: LocalMariaDb, database: string, file: string): Promise<void> {
  db.sql(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(database)} CHARACTER SET utf8mb4`);
  const child = spawn('mariadb', [...db.clientArgs, database], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const source = fs.createReadStream(file);
  try {
    await (file.endsWith('.gz') ? pipeline(source, zlib.createGunzip(), child.stdin) : pipeline(source, child.stdin));
  } catch (err) {
    child.kill('SIGKILL');
    await exited.catch(() => undefined);
    throw new DumpLoadError(`cannot load ${file} into "${database}": ${(err as Error).message} ${stderr}`, file, null);
  }
  const code = await exited;
  if (code !== 0)
    throw new DumpLoadError(`loading ${file} into "${database}" failed (mariadb exit ${code}): ${stderr}`, file, code);
}
