/**
 * bench/export: the export Lambda's code path (src/sql/export.ts: keyset slices, extended INSERTs,
 * gzip per part) against `mysqldump --single-transaction --hex-blob | gzip`, exporting the same
 * generated database from the same MariaDB in one run. Prints rows/s and MB/s of both, their
 * ratio, and the peak RSS of this process during our export.
 *
 *   npx tsx bench/export.ts [--mb 100] [--rounds 2]
 *
 * Rounds alternate mysqldump / export so a warmer cache does not favour one side.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createConnection } from 'mysql2/promise';
import { benchArgs, benchNumber } from './args';
import { benchRows, benchTables } from './course-tables';
import { dirStore } from '../src/local/export-store';
import { startMariaDb, LocalMariaDb } from '../src/local/mariadb';
import { exportSlice } from '../src/sql/export';

const USAGE = 'usage: npx tsx bench/export.ts [--mb 100] [--rounds 2]';
const args = benchArgs(USAGE, { mb: { type: 'string' }, rounds: { type: 'string' } });
const TARGET_MB = benchNumber(USAGE, '--mb', args.mb, 100);
const ROUNDS = benchNumber(USAGE, '--rounds', args.rounds, 2);
const PASSWORD = `bench-${process.pid}-${Date.now()}`;

function generate(db: LocalMariaDb): number {
  const { students, blobs } = benchRows(TARGET_MB);
  db.sql(`SET NAMES utf8mb4;
    CREATE DATABASE cloud CHARACTER SET utf8mb4;
    USE cloud;
    ${benchTables({ courseIndex: false })}
    INSERT INTO students SELECT seq, CONCAT('Student ', seq, ' O''Brien'), CONCAT('s', seq, '@example.edu'), IF(seq % 3 = 0, NULL, REPEAT(CONCAT('note ', seq, ' \\\\ "quoted" ; '), 3)) FROM seq_1_to_${students};
    INSERT INTO registrations SELECT s.seq, 1 + (s.seq * 7 + c.seq) % 43, '2027-02-01 07:30:00.123' FROM seq_1_to_${students} s JOIN seq_1_to_2 c;
    INSERT INTO photos SELECT seq, seq, RANDOM_BYTES(1024) FROM seq_1_to_${blobs};
    UPDATE photos SET data = CONCAT(data, RANDOM_BYTES(1024), RANDOM_BYTES(976));`);
  return Number(
    db
      .sql(
        'SELECT (SELECT COUNT(*) FROM cloud.students) + (SELECT COUNT(*) FROM cloud.registrations) + (SELECT COUNT(*) FROM cloud.photos) + 43',
      )
      .trim(),
  );
}

async function viaMysqldump(db: LocalMariaDb, out: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      'bash',
      [
        '-c',
        `set -o pipefail; mysqldump ${db.clientArgs.join(' ')} --single-transaction --quick --hex-blob --routines --triggers --events cloud | gzip -c > ${out}`,
      ],
      { stdio: 'inherit' },
    );
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mysqldump exited ${code}`))));
  });
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function viaExport(
  db: LocalMariaDb,
  dir: string,
): Promise<{ seconds: number; bytes: number; peakRss: number; parts: number }> {
  const store = dirStore(dir);
  const connection = await createConnection({
    host: '127.0.0.1',
    port: db.port,
    user: 'bench',
    password: PASSWORD,
    charset: 'utf8mb4',
  });
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);
  const t0 = process.hrtime.bigint();
  let manifest;
  try {
    for (let done = false; !done;) {
      const r = await exportSlice({ connection, store, database: 'cloud', exportId: 'bench', timeBudgetMs: 600000 });
      done = r.done;
      manifest = r.manifest;
    }
  } finally {
    clearInterval(sampler);
    await connection.end();
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const bytes = manifest!.parts.reduce((s, p) => s + p.bytes, 0);
  return { seconds, bytes, peakRss, parts: manifest!.parts.length };
}

(async () => {
  const db = await startMariaDb();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-bench-export-'));
  try {
    db.createUser('bench', PASSWORD, 'SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, PROCESS ON *.*');
    const rows = generate(db);
    console.log(`generated ${rows} rows; ${ROUNDS} rounds`);
    const dump: number[] = [];
    const ours: number[] = [];
    let last = { seconds: 0, bytes: 0, peakRss: 0, parts: 0 };
    let dumpBytes = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const out = path.join(dir, `mysqldump-${r}.sql.gz`);
      dump.push(await viaMysqldump(db, out));
      dumpBytes = fs.statSync(out).size;
      fs.rmSync(out);
      const exportDir = path.join(dir, `export-${r}`);
      last = await viaExport(db, exportDir);
      ours.push(last.seconds);
      fs.rmSync(exportDir, { recursive: true });
      console.log(`round ${r + 1}: mysqldump|gzip ${dump[r].toFixed(2)} s, export ${ours[r].toFixed(2)} s`);
    }
    const best = (xs: number[]) => Math.min(...xs);
    console.log(
      `mysqldump|gzip: ${(rows / best(dump)).toFixed(0)} rows/s, ${(dumpBytes / 1048576).toFixed(1)} MB gzip`,
    );
    console.log(
      `export (src/sql/export.ts): ${(rows / best(ours)).toFixed(0)} rows/s, ${(last.bytes / 1048576).toFixed(1)} MB gzip in ${last.parts} parts, peak RSS ${(last.peakRss / 1048576).toFixed(0)} MB`,
    );
    console.log(`ratio export/mysqldump throughput (best of ${ROUNDS}): ${(best(dump) / best(ours)).toFixed(2)}`);
    // The export runs CHECKSUM TABLE over every table at its start and end (its consistency check across slices).
    const t0 = process.hrtime.bigint();
    db.sql('CHECKSUM TABLE cloud.courses, cloud.students, cloud.registrations, cloud.photos');
    const checksumSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(
      `of which CHECKSUM TABLE (x2): ${(2 * checksumSeconds).toFixed(2)} s; without it the ratio would be ${(best(dump) / (best(ours) - 2 * checksumSeconds)).toFixed(2)}`,
    );
  } finally {
    await db.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
