/**
 * bench/verify-exprs: what each part of the row-level proof's chunk query costs, as single queries over
 * the bench/verify table on one MariaDB (best of 3), against CHECKSUM TABLE and COUNT(*).
 *
 *   npx tsx bench/verify-exprs.ts [--rows 300000] [--chunk 1000]
 */
import { startMariaDb } from '../src/local/mariadb';
import { rowHashNumber, rowText } from '../src/verify/canonical';
import { connectRunner } from '../src/verify/runner';
import { readShapes } from '../src/verify/side';
import { verifyBenchTable } from './verify-table';

const args = process.argv.slice(2);
const arg = (name: string, def: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const ROWS = arg('--rows', 300000);
const CHUNK = arg('--chunk', 1000);
const PASSWORD = `bench-${process.pid}-${Date.now()}`;

async function main() {
  const db = await startMariaDb({ serverArgs: ['--innodb-buffer-pool-size=1G'] });
  try {
    db.createUser('bench', PASSWORD);
    db.sql(`CREATE DATABASE bench CHARACTER SET utf8mb4; USE bench; ${verifyBenchTable(ROWS)}`);
    const r = await connectRunner({ host: '127.0.0.1', port: db.port, user: 'bench', password: PASSWORD });
    await r.execute('SET SESSION group_concat_max_len = 1073741824');
    const shape = (await readShapes(r, 'bench')).get('students')!;
    // Both sides alike (the bench's case): the server's own text where canonical() allows it.
    const same = shape.columns.map((c) => ({ ...c, sameOnBothSides: true, utf8OnBothSides: true }));
    const norm = shape.columns.map((c) => ({ ...c, sameOnBothSides: false, utf8OnBothSides: true }));
    const g = `GROUP BY id DIV ${CHUNK}`;
    const text = rowText(same);
    const cases: Array<[string, string]> = [
      ['COUNT(*)', 'SELECT COUNT(*) FROM bench.students'],
      ['CHECKSUM TABLE', 'CHECKSUM TABLE bench.students'],
      ['chunks: COUNT(*) per chunk', `SELECT COUNT(*) FROM bench.students ${g}`],
      ['row text only (SUM(LENGTH))', `SELECT SUM(LENGTH(${text})) FROM bench.students ${g}`],
      ['MD5 per row (SUM(LENGTH(MD5)))', `SELECT SUM(LENGTH(MD5(${text}))) FROM bench.students ${g}`],
      [
        'current: BIT_XOR(CAST(CONV(LEFT(MD5,16))))',
        `SELECT COUNT(*), BIT_XOR(${rowHashNumber(same)}) FROM bench.students ${g}`,
      ],
      ['current, normalised columns', `SELECT COUNT(*), BIT_XOR(${rowHashNumber(norm)}) FROM bench.students ${g}`],
      [
        'MD5(GROUP_CONCAT(row text ORDER BY id))',
        `SELECT COUNT(*), MD5(GROUP_CONCAT(${text} ORDER BY id SEPARATOR '')) FROM bench.students ${g}`,
      ],
      [
        'MD5(GROUP_CONCAT(row text)) no ORDER BY',
        `SELECT COUNT(*), MD5(GROUP_CONCAT(${text} SEPARATOR '')) FROM bench.students ${g}`,
      ],
      [
        'MD5(GROUP_CONCAT(UNHEX(MD5(row)) ORDER BY id))',
        `SELECT COUNT(*), MD5(GROUP_CONCAT(UNHEX(MD5(${text})) ORDER BY id SEPARATOR '')) FROM bench.students ${g}`,
      ],
      [
        'BIT_XOR(CRC32(row text)) (linear, for scale)',
        `SELECT COUNT(*), BIT_XOR(CRC32(${text})) FROM bench.students ${g}`,
      ],
      [
        'BIT_XOR(CONV(LEFT(MD5,16),16,10)) no CAST',
        `SELECT COUNT(*), BIT_XOR(CONV(LEFT(MD5(${text}), 16), 16, 10)) FROM bench.students ${g}`,
      ],
    ];
    for (const c of shape.columns) {
      const one = norm.find((n) => n.name === c.name)!;
      cases.push([
        `column ${c.name} (${c.dataType}) normalised text`,
        `SELECT SUM(LENGTH(${rowText([one])})) FROM bench.students ${g}`,
      ]);
    }
    for (const [what, sql] of cases) {
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t = Date.now();
        await r.query(sql);
        times.push(Date.now() - t);
      }
      console.log(`${String(Math.min(...times)).padStart(6)} ms  ${what}`);
    }
    await r.close();
  } finally {
    await db.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
