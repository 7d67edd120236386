/**
 * bench/split: the import's CPU-bound parsing alone, no server: MiB/s of the statement splitter
 * (src/sql/splitter.ts, fed 64 KiB chunks as the file stream delivers them) and of the whole safety
 * pre-pass (src/sql/dump-check.ts checkDump: read, split, vet) on a generated dump of about --mb MiB in
 * mysqldump's shape: extended INSERTs of text (utf8mb4, quotes, mysqldump's backslash escapes) and binary
 * rows (random bytes escaped as mysql_real_escape_string does), plus a few rows with raw newlines.
 * Prints the best of --rounds runs of each (the least disturbed by other processes on the machine).
 *
 *   npx tsx bench/split.ts [--mb 100] [--rounds 3]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchArgs, benchNumber } from './args';
import { checkDump } from '../src/sql/dump-check';
import { fileDumpSource } from '../src/sql/dump-source';
import { StatementSplitter } from '../src/sql/splitter';

const USAGE = 'usage: npx tsx bench/split.ts [--mb 100] [--rounds 3]';
const args = benchArgs(USAGE, { mb: { type: 'string' }, rounds: { type: 'string' } });
const TARGET_MB = benchNumber(USAGE, '--mb', args.mb, 100);
const ROUNDS = benchNumber(USAGE, '--rounds', args.rounds, 3);
/** mysqldump's default --net-buffer-length: an extended INSERT is cut at about 1 MB. */
const INSERT_BYTES = 1024 * 1024;

/** A small deterministic generator (xorshift32): the same dump on every run and commit. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** The bytes mysql_real_escape_string escapes, as mysqldump writes them inside '...'. */
function escapeBinary(bytes: Buffer): Buffer {
  const out: number[] = [];
  for (const b of bytes) {
    if (b === 0x00) out.push(0x5c, 0x30);
    else if (b === 0x0a) out.push(0x5c, 0x6e);
    else if (b === 0x0d) out.push(0x5c, 0x72);
    else if (b === 0x1a) out.push(0x5c, 0x5a);
    else if (b === 0x27 || b === 0x22 || b === 0x5c) out.push(0x5c, b);
    else out.push(b);
  }
  return Buffer.from(out);
}

function generate(file: string, mib: number): void {
  const rand = rng(18);
  const parts: Buffer[] = [];
  let size = 0;
  const add = (s: string | Buffer) => {
    const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
    parts.push(b);
    size += b.length;
  };
  add(
    '/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n--\n' +
      '/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n/*!40101 SET NAMES utf8mb4 */;\n' +
      'DROP TABLE IF EXISTS `students`;\nCREATE TABLE `students` (\n  `id` int(11) NOT NULL,\n  `name` varchar(100) NOT NULL,\n' +
      '  `note` varchar(255) DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n' +
      'DROP TABLE IF EXISTS `photos`;\nCREATE TABLE `photos` (\n  `id` int(11) NOT NULL,\n  `data` mediumblob NOT NULL,\n' +
      '  PRIMARY KEY (`id`)\n) ENGINE=InnoDB;\n',
  );
  const target = mib * 1024 * 1024;
  let id = 0;
  while (size < target) {
    // 3/4 text rows, 1/4 binary rows by bytes, as a course database with some photos.
    const binary = rand() < 0.25;
    add(binary ? 'INSERT INTO `photos` VALUES ' : 'INSERT INTO `students` VALUES ');
    let stmt = 0;
    let first = true;
    while (stmt < INSERT_BYTES) {
      id++;
      let row: Buffer;
      if (binary) {
        const data = Buffer.alloc(2048 + Math.floor(rand() * 2048));
        for (let k = 0; k < data.length; k++) data[k] = Math.floor(rand() * 256);
        row = Buffer.concat([Buffer.from(`(${id},'`), escapeBinary(data), Buffer.from("')")]);
      } else {
        const raw = id % 997 === 0 ? '\n' : ''; // a raw newline now and then (a hand-edited dump)
        row = Buffer.from(
          `(${id},'Student ${id} Müller 수강','note \\'${id}\\'; -- \\"quoted\\" ${raw}🎓 back\\\\slash ${(id * 2654435761) % 1e9}')`,
          'utf8',
        );
      }
      add(first ? row : Buffer.concat([Buffer.from(','), row]));
      first = false;
      stmt += row.length + 1;
    }
    add(';\n');
  }
  add('/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;\n\n-- Dump completed on 2026-12-02  1:00:00\n');
  fs.writeFileSync(file, Buffer.concat(parts));
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-bench-split-'));
  try {
    const file = path.join(dir, 'dump.sql');
    generate(file, TARGET_MB);
    const dump = fs.readFileSync(file);
    const mib = dump.length / 1024 / 1024;
    const chunk = 64 * 1024;
    let bestSplit = Infinity;
    let bestCheck = Infinity;
    let statements = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = process.hrtime.bigint();
      const s = new StatementSplitter();
      let count = 0;
      for (let i = 0; i < dump.length; i += chunk) count += s.push(dump.subarray(i, i + chunk)).length;
      count += s.end().length;
      const splitMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const t1 = process.hrtime.bigint();
      const c = await checkDump({ source: fileDumpSource(file), database: 'origin' });
      const checkMs = Number(process.hrtime.bigint() - t1) / 1e6;
      statements = count;
      if (c.statements !== count - 1) throw new Error(`checkDump saw ${c.statements} statements, split ${count}`);
      console.log(
        `round ${r + 1}: split ${splitMs.toFixed(0)} ms (${((mib * 1000) / splitMs).toFixed(0)} MiB/s), ` +
          `checkDump ${checkMs.toFixed(0)} ms (${((mib * 1000) / checkMs).toFixed(0)} MiB/s)`,
      );
      bestSplit = Math.min(bestSplit, splitMs);
      bestCheck = Math.min(bestCheck, checkMs);
    }
    console.log(
      `${mib.toFixed(1)} MiB dump, ${statements} statements; best of ${ROUNDS}: split ${((mib * 1000) / bestSplit).toFixed(0)} MiB/s, ` +
        `checkDump (read + split + vet) ${((mib * 1000) / bestCheck).toFixed(0)} MiB/s`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
