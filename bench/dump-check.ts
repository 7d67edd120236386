/**
 * bench/dump-check: what the import's pre-pass (src/sql/dump-check.ts: one streamed read, split and
 * vetting of the whole dump before any statement runs) costs next to the import itself, on a generated
 * mysqldump of about --mb MB, plain and gzip.
 *
 *   npx tsx bench/dump-check.ts [--mb 150]
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { startMariaDb } from '../src/local/mariadb';
import { checkDump } from '../src/sql/dump-check';
import { fileDumpSource } from '../src/sql/dump-source';
import { importDump } from '../src/sql/importer';

const args = process.argv.slice(2);
const MB = args.includes('--mb') ? Number(args[args.indexOf('--mb') + 1]) : 150;

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-bench-check-'));
  const db = await startMariaDb();
  try {
    const rows = Math.round((MB * 1024 * 1024) / 160);
    db.sql(`SET NAMES utf8mb4; CREATE DATABASE origin; USE origin;
      CREATE TABLE students (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(120) NOT NULL, note VARCHAR(255)) ENGINE=InnoDB;
      INSERT INTO students SELECT seq, CONCAT('student ', seq, ' 選課'), CONCAT('s', seq, '@example.edu'), REPEAT(CONCAT('note ''', seq, '''; '), 4) FROM seq_1_to_${rows};`);
    const file = path.join(dir, 'dump.sql');
    fs.writeFileSync(
      file,
      execFileSync('mysqldump', [...db.clientArgs, '--single-transaction', 'origin'], { maxBuffer: 2 ** 31 }),
    );
    fs.writeFileSync(`${file}.gz`, zlib.gzipSync(fs.readFileSync(file), { level: 6 }));
    const size = fs.statSync(file).size;
    const mib = (b: number) => (b / 1024 / 1024).toFixed(1);
    db.createRdsLikeMaster('master', 'bench-pw');
    for (const f of [file, `${file}.gz`]) {
      const t0 = Date.now();
      const c = await checkDump({ source: fileDumpSource(f), database: 'target' });
      const checkMs = Date.now() - t0;
      const t1 = Date.now();
      const database = f.endsWith('.gz') ? 'target_gz' : 'target';
      let preMs = 0;
      await importDump({
        source: fileDumpSource(f),
        target: { host: db.host, port: db.port, user: 'master', password: 'bench-pw', database },
        dumpHash: 'bench',
        log: (m) => {
          const ms = /nothing refused \((\d+) ms\)/.exec(m);
          if (ms) preMs = Number(ms[1]);
        },
      });
      const importMs = Date.now() - t1;
      console.log(
        `${path.basename(f)}: ${mib(size)} MiB SQL, ${c.statements} statements; pre-pass alone ${checkMs} ms ` +
          `(${mib((size * 1000) / checkMs)} MiB/s); import ${importMs} ms of which pre-pass ${preMs} ms ` +
          `(${((preMs / importMs) * 100).toFixed(1)}%)`,
      );
    }
  } finally {
    await db.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
