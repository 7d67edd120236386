/**
 * Makes examples/course-selection.sql.gz: a real mysqldump of the reference schema, migrated and
 * seeded by the app's own code (43 courses, 300 students, no registrations yet: the rush starts empty).
 *
 *   npx tsx scripts/make-example-dump.ts [out.sql.gz] [--students N]
 *
 * The output is reproducible: the dump date is left out and gzip stores no name or time.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createPool, seed } from '../app/db';
import { startMariaDb } from '../src/local/mariadb';
import { requireTool } from '../src/local/process';

async function makeExampleDump(outFile: string, students: number): Promise<void> {
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
      await seed(pool, { courses: 43, students });
      // The only clock-dependent value; pinned so the same code gives the same dump bytes.
      await pool.query("UPDATE schema_migrations SET applied_at = '2026-01-01 00:00:00'");
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
    // gzip without file name or mtime in the header, so the same data gives the same bytes.
    fs.writeFileSync(outFile, zlib.gzipSync(sql, { level: 9 }));
    console.log(
      `wrote ${outFile}: ${sql.length} bytes of SQL, ${fs.statSync(outFile).size} gzipped (43 courses, ${students} students)`,
    );
  } finally {
    await db.stop();
  }
}

const args = process.argv.slice(2);
const studentsAt = args.indexOf('--students');
const students = studentsAt >= 0 ? Number(args.splice(studentsAt, 2)[1]) : 300;
const out = args[0] ?? path.join(__dirname, '..', 'examples', 'course-selection.sql.gz');
if (!Number.isInteger(students) || students < 0) {
  console.error('--students must be a non-negative integer');
  process.exit(2);
}
makeExampleDump(out, students).catch((err) => {
  console.error(`make-example-dump: ${err.message}`);
  process.exit(1);
});
