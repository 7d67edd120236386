/**
 * bench/import: the import's code path (streamed splitter, RDS rewrites, progress records; with
 * `--connections N` > 1 the parallel import: chunks and tables on N connections, secondary indexes after
 * the data) against the `mariadb` command-line client and myloader (`-t 4`, from a mydumper dump of the
 * same data), importing the same generated data (>= 200 MB of mysqldump) into the same MariaDB. Prints each
 * run, then the median of the rounds with the ratios importer/myloader and importer/client (throughput).
 *
 *   npx tsx bench/import.ts [--mb 200] [--rounds 3] [--connections 4] [--gzip] [--pin]
 *
 * `--pin` puts the server on CPU 0 and every loader (this process with the importer, the client, myloader) on
 * CPU 1, the way a deployed import runs: the importer in Lambda, the server on RDS, neither taking the
 * other's CPU. Without it (the issue's target) the loaders and the server share both cores.
 *
 * The dumps are generated here (seeded tables filled by SQL, then mysqldump and mydumper) in a temp dir and
 * removed at the end. The order of the three loaders rotates per round so a warmer cache favours none.
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

const USAGE = 'usage: npx tsx bench/import.ts [--mb 200] [--rounds 3] [--connections 4] [--gzip] [--pin]';
const args = benchArgs(USAGE, {
  mb: { type: 'string' },
  rounds: { type: 'string' },
  connections: { type: 'string' },
  gzip: { type: 'boolean' },
  pin: { type: 'boolean' },
});
const TARGET_MB = benchNumber(USAGE, '--mb', args.mb, 200);
const ROUNDS = benchNumber(USAGE, '--rounds', args.rounds, 3);
const CONNECTIONS = benchNumber(USAGE, '--connections', args.connections, 4);
const MYLOADER_THREADS = 4;
const GZIP = args.gzip ?? false;
const PIN = args.pin ?? false;
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

/** Runs a command to its end (stderr shown, the password in the environment for the client). */
function run(command: string, argv: string[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(PIN ? 'taskset' : command, PIN ? ['-c', '1', command, ...argv] : argv, {
      env: { ...process.env, MYSQL_PWD: PASSWORD },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited ${code}`))));
  });
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
    // mydumper of the same data for myloader: one file per table chunk (100k rows), triggers, routines, events.
    const mydumperDir = path.join(dir, 'mydumper');
    t = Date.now();
    execFileSync('mydumper', [
      ...['-h', '127.0.0.1', '-P', String(db.port), '-u', 'cli', '-p', PASSWORD],
      ...['-B', 'origin', '-o', mydumperDir, '-t', '4', '--rows', '100000', '-G', '-E', '-R'],
    ]);
    console.log(
      `mydumper wrote ${fs.readdirSync(mydumperDir).length} files in ${((Date.now() - t) / 1000).toFixed(1)} s`,
    );
    const reference = checksums(db, 'origin');
    if (PIN) {
      // All threads of the server on CPU 0, this process (the importer) on CPU 1; children inherit CPU 1.
      execFileSync('taskset', ['-apc', '0', String(db.pid)], { stdio: 'ignore' });
      execFileSync('taskset', ['-apc', '1', String(process.pid)], { stdio: 'ignore' });
    }
    db.sql('DROP DATABASE origin');

    const TOOLS = ['mariadb CLI', 'importer', 'myloader'] as const;
    type Tool = (typeof TOOLS)[number];
    const results: Array<{ tool: Tool; seconds: number }> = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const order = TOOLS.map((_, i) => TOOLS[(i + round - 1) % TOOLS.length]);
      for (const tool of order) {
        const database = `r${round}_${tool.split(' ')[0].toLowerCase()}`;
        // myloader creates the database itself (from the dump's schema file).
        if (tool !== 'myloader') db.sql(`CREATE DATABASE ${database} CHARACTER SET utf8mb4`);
        t = Date.now();
        let note = '';
        if (tool === 'importer') {
          const res = await importDump({
            // The safety pre-pass (src/sql/dump-check.ts) is part of the import's time; printed so the
            // gap to myloader (which runs whatever it is given) can be read against it.
            log: (m) => {
              const ms = /^checked .* \((\d+) ms\)$/.exec(m)?.[1];
              if (ms) note = `, of which the pre-pass ${(Number(ms) / 1000).toFixed(1)} s`;
            },
            source: fileDumpSource(file),
            dumpHash: 'bench',
            connections: CONNECTIONS,
            target: { host: db.host, port: db.port, user: 'master', password: PASSWORD, database },
          });
          if (!res.complete) throw new Error('importer did not complete');
        } else if (tool === 'myloader') {
          await run('myloader', [
            ...['-h', '127.0.0.1', '-P', String(db.port), '-u', 'cli', '-p', PASSWORD],
            ...['-d', mydumperDir, '-B', database, '-t', String(MYLOADER_THREADS)],
          ]);
        } else {
          // The way an operator would: over TCP, streaming the file in (gunzip in a pipe for .gz).
          const cmd = `${GZIP ? `gzip -dc '${file}'` : `cat '${file}'`} | mariadb --no-defaults -h127.0.0.1 -P${db.port} -ucli ${database}`;
          await run('bash', ['-o', 'pipefail', '-c', cmd]);
        }
        const seconds = (Date.now() - t) / 1000;
        if (checksums(db, database) !== reference) throw new Error(`${tool}: checksums differ from the original`);
        results.push({ tool, seconds });
        console.log(
          `round ${round} ${tool.padEnd(12)} ${seconds.toFixed(1)} s  ${(plainSize / 1048576 / seconds).toFixed(1)} MiB/s (of mysqldump), checksums identical${note}`,
        );
        db.sql(`DROP DATABASE ${database}`);
      }
    }
    const times = (tool: Tool) =>
      results
        .filter((r) => r.tool === tool)
        .map((r) => r.seconds)
        .sort((a, b) => a - b);
    const median = (xs: number[]) =>
      xs.length % 2 ? xs[(xs.length - 1) / 2] : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2;
    const mib = plainSize / 1048576;
    const cli = median(times('mariadb CLI'));
    const ours = median(times('importer'));
    const myloader = median(times('myloader'));
    console.log(
      `median of ${ROUNDS}: mariadb CLI ${(mib / cli).toFixed(1)} MiB/s, myloader -t ${MYLOADER_THREADS} ${(mib / myloader).toFixed(1)} MiB/s, importer (${CONNECTIONS} connections) ${(mib / ours).toFixed(1)} MiB/s`,
    );
    console.log(
      `ratio importer/myloader ${(myloader / ours).toFixed(2)} (target >= 1.0), importer/client ${(cli / ours).toFixed(2)} (target >= 1.5)`,
    );
    console.log(
      `(a ${mib.toFixed(0)} MiB dump${GZIP ? ', read as .sql.gz' : ''}${PIN ? '; server pinned to CPU 0, loaders to CPU 1' : ''}; load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}; the machine's other load shows up as spread between rounds)`,
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
