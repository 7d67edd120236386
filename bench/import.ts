/**
 * bench/import: the import's code path (streamed splitter, RDS rewrites, batched transactions with
 * progress records) against the `mariadb` command-line client, importing the same generated mysqldump
 * (>= 200 MB) into the same MariaDB in one run. Prints the throughput of both and their ratio.
 *
 *   npx tsx bench/import.ts [--mb 200] [--rounds 2] [--gzip]
 *
 * The dump is generated here (seeded tables filled by SQL, then mysqldump) in a temp dir and removed
 * at the end. Rounds alternate CLI / importer so a warmer cache does not favour one side.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { benchArgs, benchNumber } from './args';
import { benchRows, benchTables } from './course-tables';
import { RDS_LIKE_MASTER_PRIVILEGES, startMariaDb, LocalMariaDb } from '../src/local/mariadb';
import { fileDumpSource } from '../src/sql/dump-source';
import { importDump } from '../src/sql/importer';

const USAGE = 'usage: npx tsx bench/import.ts [--mb 200] [--rounds 2] [--gzip]';
const args = benchArgs(USAGE, { mb: { type: 'string' }, rounds: { type: 'string' }, gzip: { type: 'boolean' } });
const TARGET_MB = benchNumber(USAGE, '--mb', args.mb, 200);
const ROUNDS = benchNumber(USAGE, '--rounds', args.rounds, 2);
const GZIP = args.gzip ?? false;
const PASSWORD = `bench-${process.pid}-${Date.now()}`;

function generate(db: LocalMariaDb, dir: string): string {
  // Roughly the shape of a course-selection database, scaled: many small rows plus some blobs and utf8mb4 text.
  const { students, blobs } = benchRows(TARGET_MB);
  const registrations = students * 2;
  db.sql(`SET NAMES utf8mb4;
    CREATE DATABASE origin CHARACTER SET utf8mb4;
    USE origin;
    ${benchTables({ courseIndex: true })}
    INSERT INTO students SELECT seq, CONCAT('Student ', seq, ' Müller'), CONCAT('s', seq, '@example.edu'), CONCAT(MD5(seq), ' ', SHA1(seq), ' ; -- ''quoted'' 수강') FROM seq_1_to_${students};
    INSERT INTO registrations SELECT 1 + (seq DIV 2), 1 + (seq * 7) % 43, '2026-09-01 08:00:00.000' + INTERVAL seq SECOND FROM seq_0_to_${registrations - 1};
    INSERT INTO photos SELECT seq, seq, CONCAT(RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024)) FROM seq_1_to_${blobs};
    DELIMITER ;;
    CREATE TRIGGER reg_taken AFTER INSERT ON registrations FOR EACH ROW UPDATE courses SET taken = taken + 1 WHERE id = NEW.course_id;;
    DELIMITER ;
  `);
  const file = path.join(dir, 'bench.sql');
  execFileSync('bash', [
    '-c',
    `mysqldump ${db.clientArgs.join(' ')} --routines --triggers --events --single-transaction origin > ${file}`,
  ]);
  return file;
}

function checksums(db: LocalMariaDb, database: string): string {
  return db
    .sql(`CHECKSUM TABLE courses, students, registrations, photos`, database)
    .replace(new RegExp(`${database}\\.`, 'g'), '');
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-bench-import-'));
  const db = await startMariaDb({
    dir: path.join(dir, 'db'),
    serverArgs: ['--innodb-buffer-pool-size=1G', '--innodb-log-file-size=512M'],
  });
  try {
    db.createUser('master', PASSWORD, RDS_LIKE_MASTER_PRIVILEGES);
    // The CLI gets every privilege: it runs the dump unmodified, DEFINER clauses included (which need SUPER).
    db.sql(
      `CREATE USER 'cli'@'127.0.0.1' IDENTIFIED BY '${PASSWORD}'; GRANT ALL PRIVILEGES ON *.* TO 'cli'@'127.0.0.1';`,
    );
    let t = Date.now();
    let file = generate(db, path.join(dir));
    const plainSize = fs.statSync(file).size;
    console.log(
      `generated a ${(plainSize / 1048576).toFixed(1)} MiB mysqldump in ${((Date.now() - t) / 1000).toFixed(1)} s`,
    );
    if (plainSize < 200 * 1024 * 1024 && TARGET_MB >= 200)
      throw new Error('the generated dump is smaller than 200 MiB: raise --mb');
    if (GZIP) {
      await pipeline(fs.createReadStream(file), zlib.createGzip({ level: 6 }), fs.createWriteStream(`${file}.gz`));
      fs.rmSync(file);
      file = `${file}.gz`;
    }
    const reference = checksums(db, 'origin');
    db.sql('DROP DATABASE origin');

    const results: Array<{ tool: string; seconds: number }> = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const tool of round % 2 ? ['mariadb CLI', 'importer'] : ['importer', 'mariadb CLI']) {
        const database = `r${round}_${tool === 'importer' ? 'importer' : 'cli'}`;
        db.sql(`CREATE DATABASE ${database} CHARACTER SET utf8mb4`);
        t = Date.now();
        if (tool === 'importer') {
          const res = await importDump({
            source: fileDumpSource(file),
            dumpHash: 'bench',
            target: { host: db.host, port: db.port, user: 'master', password: PASSWORD, database },
          });
          if (!res.complete) throw new Error('importer did not complete');
        } else {
          // The way an operator would: over TCP, streaming the file in (gunzip in a pipe for .gz).
          const cmd = `${GZIP ? `gzip -dc '${file}'` : `cat '${file}'`} | mariadb --no-defaults -h127.0.0.1 -P${db.port} -ucli ${database}`;
          await new Promise<void>((resolve, reject) => {
            const child = spawn('bash', ['-o', 'pipefail', '-c', cmd], {
              env: { ...process.env, MYSQL_PWD: PASSWORD },
              stdio: ['ignore', 'ignore', 'inherit'],
            });
            child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mariadb CLI exited ${code}`))));
          });
        }
        const seconds = (Date.now() - t) / 1000;
        if (checksums(db, database) !== reference) throw new Error(`${tool}: checksums differ from the original`);
        results.push({ tool, seconds });
        console.log(
          `round ${round} ${tool.padEnd(12)} ${seconds.toFixed(1)} s  ${(plainSize / 1048576 / seconds).toFixed(1)} MiB/s (uncompressed), checksums identical`,
        );
        db.sql(`DROP DATABASE ${database}`);
      }
    }
    const times = (tool: string) =>
      results
        .filter((r) => r.tool === tool)
        .map((r) => r.seconds)
        .sort((a, b) => a - b);
    const median = (xs: number[]) =>
      xs.length % 2 ? xs[(xs.length - 1) / 2] : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2;
    const mib = plainSize / 1048576;
    for (const [label, pick] of [
      ['best', (xs: number[]) => xs[0]],
      ['median', median],
    ] as const) {
      const cli = pick(times('mariadb CLI'));
      const ours = pick(times('importer'));
      console.log(
        `${label} of ${ROUNDS}: mariadb CLI ${(mib / cli).toFixed(1)} MiB/s, importer ${(mib / ours).toFixed(1)} MiB/s, ratio importer/CLI throughput ${(cli / ours).toFixed(2)}`,
      );
    }
    console.log(
      `(a ${mib.toFixed(0)} MiB dump${GZIP ? ', read as .sql.gz' : ''}; the machine's other load shows up as spread between rounds)`,
    );
  } finally {
    await db.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
