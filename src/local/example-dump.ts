import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { Pool } from 'mysql2/promise';
import { createPool, seed } from '../../app/db';
import { startMariaDb } from './mariadb';
import { requireTool } from './process';

export interface ExampleDumpOptions {
  readonly courses: number;
  readonly students: number;
  /** Runs on the seeded database before it is dumped (the LAMP site adds its password table). @default nothing */
  readonly extend?: (pool: Pool) => Promise<void>;
}

/**
 * Writes a gzip mysqldump of the reference schema, migrated and seeded by the app's own code on a private
 * MariaDB, as the example dumps in examples/ are made. The same data gives the same bytes: the migration
 * time is pinned, the dump date left out, and gzip stores no name or time.
 */
export async function writeExampleDump(
  outFile: string,
  options: ExampleDumpOptions,
): Promise<{ readonly sqlBytes: number; readonly gzipBytes: number }> {
  const dump = requireTool('mariadb-dump', 'apt-get install -y --no-install-recommends mariadb-client');
  const db = await startMariaDb();
  try {
    const password = randomBytes(12).toString('hex');
    db.sql('CREATE DATABASE course_selection CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci');
    db.createUser('seed', password, 'ALL PRIVILEGES ON course_selection.*');
    const pool = createPool(
      { host: '127.0.0.1', port: db.port, user: 'seed', password, database: 'course_selection' },
      { size: 1, queueLimit: 10, timeoutMs: 30000 },
    );
    try {
      await seed(pool, { courses: options.courses, students: options.students });
      // The only clock-dependent value; pinned so the same code gives the same dump bytes.
      await pool.query("UPDATE schema_migrations SET applied_at = '2026-01-01 00:00:00'");
      await options.extend?.(pool);
    } finally {
      await pool.end();
    }
    const sql = execFileSync(
      dump,
      [
        ...db.clientArgs,
        '--single-transaction',
        '--skip-dump-date',
        '--routines',
        '--triggers',
        '--hex-blob',
        '--default-character-set=utf8mb4',
        '--no-tablespaces',
        'course_selection',
      ],
      { maxBuffer: 512 * 1024 * 1024 },
    );
    fs.mkdirSync(path.dirname(outFile), { recursive: true });
    // zlib's gzip header has no file name and a zero mtime.
    fs.writeFileSync(outFile, zlib.gzipSync(sql, { level: 9 }));
    return { sqlBytes: sql.length, gzipBytes: fs.statSync(outFile).size };
  } finally {
    await db.stop();
  }
}
