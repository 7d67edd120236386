/**
 * bench/verify: the row-level proof (src/verify) against CHECKSUM TABLE and against pt-table-checksum,
 * on the same table on two MariaDB servers in one run; then the delta repair against a full reload
 * (mysqldump of the source piped into the target's mariadb client, what sync-back's load does minus S3
 * and gzip) with 1% of the rows changed. Prints times and ratios against the baselines of the same run.
 *
 *   npx tsx bench/verify.ts [--mb 1024] [--chunk 1000]
 *
 * Both servers get the table from the same deterministic SQL (no random values), so they start
 * identical; each side's work runs concurrently on its own server, as the proof in sync-back does.
 */
import { execFileSync, spawn } from 'node:child_process';
import { startMariaDb, LocalMariaDb } from '../src/local/mariadb';
import { repairDelta } from '../src/verify/delta';
import { connectRunner, QueryRunner } from '../src/verify/runner';
import { verifyData } from '../src/verify/verify';
import { verifyBenchTable } from './verify-table';

const args = process.argv.slice(2);
const arg = (name: string, def: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const TARGET_MB = arg('--mb', 1024);
const CHUNK = arg('--chunk', 1000);
const PASSWORD = `bench-${process.pid}-${Date.now()}`;
const ROW_BYTES = 262; // what one generated row takes in InnoDB (data + PK), measured at 168k rows

const secs = (ms: number) => (ms / 1000).toFixed(1);
async function timed<T>(what: string, f: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const t = Date.now();
  const value = await f();
  const ms = Date.now() - t;
  console.log(`  ${what}: ${secs(ms)} s`);
  return { ms, value };
}

function generate(db: LocalMariaDb, rows: number): void {
  db.sql(`CREATE DATABASE bench CHARACTER SET utf8mb4; USE bench; ${verifyBenchTable(rows)} ANALYZE TABLE students;`);
}

function sizeMb(db: LocalMariaDb): number {
  return Number(
    db.sql("SELECT (DATA_LENGTH + INDEX_LENGTH) / 1048576 FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'bench'"),
  );
}

function run(cmd: string, argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exit ${code}: ${err.slice(-500)}`))));
  });
}

/** pt-table-checksum on one server, standalone (no replicas): its chunk queries over the table. */
function ptTableChecksum(db: LocalMariaDb): Promise<void> {
  return run('pt-table-checksum', [
    `S=${db.socket},u=root`,
    '--databases=bench',
    '--tables=students',
    '--recursion-method=none',
    '--no-check-binlog-format',
    '--no-check-replication-filters',
    '--no-version-check',
    '--chunk-time=0.5',
    '--quiet',
  ]).catch((e: Error) => {
    // It exits non-zero with flags for warnings (e.g. no replicas found); its queries still ran.
    if (!/exit (16|32|64)\b/.test(e.message)) throw e;
  });
}

async function main() {
  const started = Date.now();
  const serverArgs = ['--innodb-buffer-pool-size=3G', '--innodb-log-file-size=512M'];
  const [left, right] = await Promise.all([startMariaDb({ serverArgs }), startMariaDb({ serverArgs })]);
  const runners: QueryRunner[] = [];
  try {
    for (const db of [left, right]) db.createUser('bench', PASSWORD);
    const rows = Math.round((TARGET_MB * 1024 * 1024) / ROW_BYTES);
    console.log(`bench/verify: ${rows} rows (target ${TARGET_MB} MB), chunk ${CHUNK}`);
    await timed('generate on both servers', () =>
      Promise.all([left, right].map((db) => Promise.resolve(generate(db, rows)))),
    );
    const mb = sizeMb(left);
    console.log(`  table size: ${mb.toFixed(0)} MB (data + index, information_schema), ${rows} rows`);
    const connect = async (db: LocalMariaDb) => {
      const r = await connectRunner({ host: '127.0.0.1', port: db.port, user: 'bench', password: PASSWORD });
      runners.push(r);
      return r;
    };
    const [l, r] = [await connect(left), await connect(right)];
    // Warm both buffer pools the same way before any measurement.
    await Promise.all([
      l.query('SELECT COUNT(*), SUM(LENGTH(note)) FROM bench.students'),
      r.query('SELECT COUNT(*), SUM(LENGTH(note)) FROM bench.students'),
    ]);

    console.log('proof of identical tables (both sides concurrently):');
    const checksum = await timed('CHECKSUM TABLE', () =>
      Promise.all([l.query('CHECKSUM TABLE bench.students'), r.query('CHECKSUM TABLE bench.students')]),
    );
    const pt = await timed('pt-table-checksum (chunk queries, --chunk-time 0.5)', () =>
      Promise.all([ptTableChecksum(left), ptTableChecksum(right)]),
    );
    const verify = await timed(`verify-data (chunk ${CHUNK})`, () =>
      verifyData({ left: l, right: r, leftDatabase: 'bench', chunkSize: CHUNK, exclude: /^$/ }),
    );
    if (!verify.value.identical) throw new Error('verify-data found a difference between identical tables');

    console.log('1% of the rows changed on the source (right):');
    const changed = Math.floor(rows / 100);
    right.sql(`UPDATE bench.students SET note = CONCAT('changed ', id) WHERE id % 100 = 0`);
    const delta = await timed('delta repair (verify, repair, verify again)', () =>
      repairDelta({
        source: r,
        target: l,
        sourceDatabase: 'bench',
        chunkSize: CHUNK,
        log: (m) => console.log(`    ${secs(Date.now() - started)} s ${m}`),
      }),
    );
    if (!delta.value.proof.identical) throw new Error('the delta repair did not converge');
    const repaired = delta.value.repairs.reduce((n, t) => n + t.inserted, 0);
    console.log(`  repaired ${repaired} rows (expected ${changed}) in ${delta.value.passes} pass(es)`);
    const reload = await timed('full reload (mysqldump source | mariadb target)', () =>
      Promise.resolve(
        execFileSync('bash', [
          '-c',
          `set -o pipefail; mysqldump ${right.clientArgs.join(' ')} --single-transaction --quick bench | mariadb ${left.clientArgs.join(' ')} bench`,
        ]),
      ),
    );
    const proofAfterReload = await timed('verify-data after the reload (its proof)', () =>
      verifyData({ left: l, right: r, leftDatabase: 'bench', chunkSize: CHUNK, exclude: /^$/ }),
    );
    if (!proofAfterReload.value.identical) throw new Error('the reload did not reproduce the source');

    console.log('\nresults');
    console.log(`  table: ${mb.toFixed(0)} MB, ${rows} rows per side`);
    console.log(`  verify-data / CHECKSUM TABLE      = ${(verify.ms / checksum.ms).toFixed(2)}x (target <= 2x)`);
    console.log(`  verify-data / pt-table-checksum   = ${(verify.ms / pt.ms).toFixed(2)}x`);
    console.log(`  full reload / delta               = ${(reload.ms / delta.ms).toFixed(2)}x faster (target >= 5x)`);
    console.log(
      `  (full reload + its proof) / delta = ${((reload.ms + proofAfterReload.ms) / delta.ms).toFixed(2)}x faster`,
    );
    console.log(`  total bench time: ${secs(Date.now() - started)} s`);
  } finally {
    await Promise.all(runners.map((x) => x.close()));
    await Promise.all([left.stop(), right.stop()]);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
