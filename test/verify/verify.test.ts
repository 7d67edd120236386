import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';
import { bucketWidth, Column } from '../../src/verify/canonical';
import { repairDelta } from '../../src/verify/delta';
import { connectRunner, QueryRunner, spawnClientRunner } from '../../src/verify/runner';
import { verifyData, VerifyResult } from '../../src/verify/verify';

/**
 * Row-level verification and the delta repair on real MariaDB servers. The "origin" runs with the
 * pre-5.6 temporal format (what an upgraded old server keeps), so CHECKSUM TABLE differs for identical
 * rows; the "cloud" is a default server. Each case gets its own database on both.
 */
let origin: LocalMariaDb;
let cloud: LocalMariaDb;
const password = `pw-${Math.random().toString(36).slice(2)}`; // generated per run
const ROOT = path.resolve(__dirname, '..', '..');

beforeAll(async () => {
  [origin, cloud] = await Promise.all([
    startMariaDb({ serverArgs: ['--mysql56-temporal-format=OFF'] }),
    startMariaDb(),
  ]);
  origin.createUser('verifier', password);
  cloud.createUser('verifier', password);
}, 120000);

afterAll(async () => {
  await Promise.all([origin?.stop(), cloud?.stop()]);
});

/** Creates `db` on both servers with the same DDL, then runs each side's own SQL. */
function scenario(db: string, ddl: string, both: string, only: { origin?: string; cloud?: string } = {}) {
  for (const [server, extra] of [
    [origin, only.origin],
    [cloud, only.cloud],
  ] as const) {
    const sql = [`DROP DATABASE IF EXISTS ${db}`, `CREATE DATABASE ${db}`, `USE ${db}`, ddl, both, extra ?? ''];
    server.sql(sql.filter(Boolean).join(';\n'));
  }
}

const runners: QueryRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.close()));
});
/** mysql2 on the cloud side, the mariadb client process on the origin side: both runners in every case. */
async function sides(): Promise<{ left: QueryRunner; right: QueryRunner }> {
  const left = spawnClientRunner('mariadb', origin.clientArgs, 'origin');
  const right = await connectRunner({ host: '127.0.0.1', port: cloud.port, user: 'verifier', password });
  runners.push(left, right);
  return { left, right };
}

async function verify(db: string, chunkSize = 3): Promise<VerifyResult> {
  const { left, right } = await sides();
  return verifyData({ left, right, leftDatabase: db, chunkSize });
}

/** Repairs the origin from the cloud by delta, then proves it with a separate verify. */
async function repairAndProve(db: string) {
  const { left, right } = await sides();
  const result = await repairDelta({ source: right, target: left, sourceDatabase: db, chunkSize: 3 });
  expect(result.proof.identical).toBe(true);
  expect((await verify(db)).identical).toBe(true);
  return result;
}

const ROWS = Array.from(
  { length: 10 },
  (_, i) => `(${i + 1}, 'student ${i + 1}', '2024-03-0${(i % 9) + 1} 10:00:0${i % 10}.25')`,
);

test('identical rows under two temporal formats: CHECKSUM TABLE differs, verify-data says identical and exits 0', () => {
  scenario(
    'temporal',
    'CREATE TABLE reg (id INT PRIMARY KEY, name VARCHAR(40), at DATETIME(2), ts TIMESTAMP(3) NULL, t TIME(1))',
    `INSERT INTO reg VALUES ${ROWS.map((r) => r.replace(/\)$/, ", '2024-05-01 12:00:00.125', '-12:30:00.5')")).join(', ')}`,
  );
  const checksum = (s: LocalMariaDb) => s.sql('CHECKSUM TABLE temporal.reg').split('\t')[1].trim();
  // The guard: this pair still reproduces the problem the row-level proof exists for.
  expect(checksum(origin)).not.toBe(checksum(cloud));
  const cli = (extra: string[]) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          path.join(ROOT, 'bin', 'rushhour.js'),
          'verify-data',
          '--left',
          `127.0.0.1:${origin.port}/temporal`,
          '--right',
          `127.0.0.1:${cloud.port}/temporal`,
          '--user',
          'verifier',
          ...extra,
        ],
        { env: { ...process.env, LEFT_MYSQL_PWD: password, RIGHT_MYSQL_PWD: password } },
      );
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('exit', (code) => resolve({ code, out }));
    });
  return (async () => {
    const same = await cli([]);
    expect(same.out).toContain('all 1 tables identical');
    expect(same.code).toBe(0);
    cloud.sql("UPDATE temporal.reg SET ts = '2024-05-01 12:00:00.126' WHERE id = 7");
    const differs = await cli(['--json']);
    expect(differs.code).toBe(2);
    const json = JSON.parse(differs.out) as VerifyResult;
    expect(json.tables[0].differing).toEqual([{ raw: ['7'], display: { id: '7' }, columns: ['ts'] }]);
    const wrongPassword = await new Promise<number | null>((resolve) => {
      spawn(
        process.execPath,
        [path.join(ROOT, 'bin', 'rushhour.js'), 'verify-data', '--left', `127.0.0.1:${origin.port}/temporal`].concat([
          '--right',
          `127.0.0.1:${cloud.port}/temporal`,
          '--user',
          'verifier',
        ]),
        { env: { ...process.env, LEFT_MYSQL_PWD: 'wrong', RIGHT_MYSQL_PWD: password }, stdio: 'ignore' },
      ).on('exit', resolve);
    });
    expect(wrongPassword).toBe(1);
  })();
}, 60000);

const BASE = 'CREATE TABLE s (id INT PRIMARY KEY, name VARCHAR(40), note VARCHAR(20) NULL, at DATETIME(2))';
const FILL = `INSERT INTO s VALUES ${ROWS.map((r) => r.replace(/, '2024/, ", 'n', '2024")).join(', ')}`;

test('one changed column is named with its row; delta repairs it', async () => {
  scenario('changed', BASE, FILL, { cloud: "UPDATE s SET name = 'renamed' WHERE id = 5" });
  const v = (await verify('changed')).tables[0];
  expect(v.identical).toBe(false);
  expect(v.differing).toEqual([{ raw: ['5'], display: { id: '5' }, columns: ['name'] }]);
  expect(v.onlyLeft).toEqual([]);
  expect(v.onlyRight).toEqual([]);
  expect(v.differingChunks).toBe(1);
  const r = await repairAndProve('changed');
  expect(r.repairs).toEqual([{ table: 's', deleted: 1, inserted: 1, replacedWhole: false }]);
  expect(origin.sql('SELECT name FROM changed.s WHERE id = 5').trim()).toBe('renamed');
});

test('a row missing at the origin and an extra row there are named; delta inserts and deletes them', async () => {
  scenario('missing', BASE, FILL, {
    origin: "DELETE FROM s WHERE id = 4; INSERT INTO s VALUES (42, 'only at the origin', NULL, '2024-01-01')",
    cloud: "INSERT INTO s VALUES (11, 'new in the cloud', NULL, '2024-06-01 08:00:00.5')",
  });
  const v = (await verify('missing')).tables[0];
  expect(v.onlyRight.map((k) => k.display)).toEqual([{ id: '4' }, { id: '11' }]);
  expect(v.onlyLeft.map((k) => k.display)).toEqual([{ id: '42' }]);
  expect(v.differing).toEqual([]);
  await repairAndProve('missing');
  expect(origin.sql('SELECT COUNT(*) FROM missing.s').trim()).toBe('11');
});

test('NULL and the empty string differ; so does a separator moved between two columns', async () => {
  scenario('nulls', BASE, FILL, {
    origin: "UPDATE s SET note = NULL WHERE id = 2; UPDATE s SET name = 'a#', note = 'b' WHERE id = 3",
    cloud: "UPDATE s SET note = '' WHERE id = 2; UPDATE s SET name = 'a', note = '#b' WHERE id = 3",
  });
  const v = (await verify('nulls')).tables[0];
  expect(v.differing).toEqual([
    { raw: ['2'], display: { id: '2' }, columns: ['note'] },
    { raw: ['3'], display: { id: '3' }, columns: ['name', 'note'] },
  ]);
  await repairAndProve('nulls');
  expect(origin.sql("SELECT note IS NULL, note = '' FROM nulls.s WHERE id = 2").trim()).toBe('0\t1');
});

test('trailing spaces: CHAR padding is not data (even under PAD_CHAR_TO_FULL_LENGTH); in VARCHAR they are', async () => {
  scenario('spaces', 'CREATE TABLE c (id INT PRIMARY KEY, code CHAR(8), label VARCHAR(8))', '', {
    origin: "INSERT INTO c VALUES (1, 'ab', 'x'), (2, 'cd', 'y  ')",
    cloud: "INSERT INTO c VALUES (1, 'ab    ', 'x'), (2, 'cd', 'y')",
  });
  origin.sql("SET GLOBAL sql_mode = CONCAT(@@sql_mode, ',PAD_CHAR_TO_FULL_LENGTH')");
  try {
    const v = (await verify('spaces')).tables[0];
    expect(v.differing).toEqual([{ raw: ['2'], display: { id: '2' }, columns: ['label'] }]);
  } finally {
    origin.sql("SET GLOBAL sql_mode = REPLACE(@@sql_mode, ',PAD_CHAR_TO_FULL_LENGTH', '')");
  }
  await repairAndProve('spaces');
  expect(origin.sql("SELECT CONCAT('[', label, ']') FROM spaces.c WHERE id = 2").trim()).toBe('[y]');
});

test('latin1 and utf8mb4 columns with the same text are identical; a differing accent is not', async () => {
  scenario('charsets', '', '', {
    origin:
      "CREATE TABLE p (id INT PRIMARY KEY, city VARCHAR(30) CHARACTER SET latin1, code CHAR(4) CHARACTER SET latin1) ENGINE=InnoDB; INSERT INTO p VALUES (1, 'Zürich', 'ß'), (2, 'Genève', 'é'), (3, 'Köln', 'ö')",
    cloud:
      "CREATE TABLE p (id INT PRIMARY KEY, city VARCHAR(30) CHARACTER SET utf8mb4, code CHAR(4) CHARACTER SET utf8mb4) ENGINE=InnoDB; INSERT INTO p VALUES (1, 'Zürich', 'ß'), (2, 'Genève', 'é'), (3, 'Koln', 'ö')",
  });
  const checksum = (s: LocalMariaDb) => s.sql('CHECKSUM TABLE charsets.p').split('\t')[1].trim();
  expect(checksum(origin)).not.toBe(checksum(cloud));
  const v = (await verify('charsets')).tables[0];
  expect(v.differing).toEqual([{ raw: ['3'], display: { id: '3' }, columns: ['city'] }]);
  await repairAndProve('charsets');
  expect(origin.sql('SELECT HEX(city) FROM charsets.p WHERE id = 1').trim()).toBe('5AFC72696368'); // latin1 bytes
});

test('a table without a primary key: compared as a multiset of rows (duplicates count), replaced whole by delta', async () => {
  scenario(
    'nokey',
    'CREATE TABLE log (at DATETIME, msg VARCHAR(20))',
    "INSERT INTO log VALUES ('2024-01-01', 'a'), ('2024-01-01', 'a'), ('2024-01-02', 'b')",
    {
      cloud: "INSERT INTO log VALUES ('2024-01-02', 'b')",
      origin: "INSERT INTO log VALUES ('2024-01-01', 'a')",
    },
  );
  const v = (await verify('nokey')).tables[0];
  expect(v.key).toEqual([]);
  expect(v.leftRows).toBe(4);
  expect(v.rightRows).toBe(4);
  expect(v.unkeyed.map((u) => [u.left, u.right]).sort()).toEqual([
    [1, 2],
    [3, 2],
  ]);
  const r = await repairAndProve('nokey');
  expect(r.repairs[0]).toMatchObject({ replacedWhole: true, deleted: 4, inserted: 4 });
});

test('a composite key across chunks, with a text part and every awkward type', async () => {
  const ddl =
    'CREATE TABLE g (course VARCHAR(10), seq INT, price DECIMAL(8,3), w FLOAT, d DOUBLE, flags BIT(4), doc JSON, ' +
    'raw BLOB, kind ENUM("a","b"), PRIMARY KEY (course, seq))';
  const rows = Array.from(
    { length: 12 },
    (_, i) =>
      `('c${i % 3}', ${i}, ${i}.5, ${i}.1, ${i / 7}, b'${(i % 16).toString(2)}', '{"n": ${i}}', X'00ff${i.toString(16).padStart(2, '0')}', 'a')`,
  );
  scenario('composite', ddl, `INSERT INTO g VALUES ${rows.join(', ')}`, {
    cloud:
      "UPDATE g SET w = 99.25, raw = X'0000' WHERE course = 'c1' AND seq = 4; DELETE FROM g WHERE course = 'c2' AND seq = 5",
  });
  const v = (await verify('composite')).tables[0];
  expect(v.chunks).toBeGreaterThan(3);
  expect(v.differing).toEqual([{ raw: ['6331', '4'], display: { course: 'c1', seq: '4' }, columns: ['w', 'raw'] }]);
  expect(v.onlyLeft.map((k) => k.display)).toEqual([{ course: 'c2', seq: '5' }]);
  await repairAndProve('composite');
  // The repair carried exact values: a FLOAT, a DOUBLE of 1/7 and the bytes round-trip.
  expect(origin.sql("SELECT w, d, HEX(raw) FROM composite.g WHERE course = 'c1' AND seq = 4").trim()).toBe(
    '99.25\t0.5714285714285714\t0000',
  );
});

test('killed mid-way, the delta repair is rerun and converges', async () => {
  const ddl = `CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(10)); CREATE TABLE b (id INT PRIMARY KEY, v VARCHAR(10)); CREATE TABLE c (id INT PRIMARY KEY, v VARCHAR(10))`;
  const fill = ['a', 'b', 'c'].map((t) => `INSERT INTO ${t} VALUES (1, 'x'), (2, 'y'), (3, 'z')`).join('; ');
  scenario('killed', ddl, fill, { cloud: "UPDATE a SET v = 'new'; UPDATE b SET v = 'new'; UPDATE c SET v = 'new'" });
  const { left, right } = await sides();
  const [[connectionId]] = await left.query('SELECT CONNECTION_ID()');
  // The origin's session is killed inside b's transaction, after its DELETE and before its INSERT.
  const dying: QueryRunner = {
    ...left,
    query: (sql) => left.query(sql),
    close: () => left.close(),
    async execute(sql) {
      if (sql.startsWith('INSERT INTO `killed`.`b`')) origin.sql(`KILL CONNECTION ${connectionId}`);
      return left.execute(sql);
    },
  };
  const interrupted = repairDelta({ source: right, target: dying, sourceDatabase: 'killed' });
  await expect(interrupted).rejects.toThrow();
  expect(
    origin
      .sql(
        'SELECT GROUP_CONCAT(v ORDER BY id) FROM killed.a UNION ALL SELECT GROUP_CONCAT(v ORDER BY id) FROM killed.b',
      )
      .trim()
      .split('\n'),
  ).toEqual(['new,new,new', 'x,y,z']);
  const r = await repairAndProve('killed');
  expect(r.repairs.map((x) => x.table)).toEqual(['b', 'c']);
});

test('changes spread over big chunks: sums per key bucket name exactly the differing rows, in both search modes', async () => {
  // 3000 rows in chunks of 1000: 125 buckets of ~8 keys per chunk, so a few scattered changes list only
  // their buckets' rows, and a block of new rows makes most buckets differ (then all rows are listed).
  scenario(
    'spread',
    'CREATE TABLE s (id INT PRIMARY KEY, name VARCHAR(40) CHARACTER SET utf8mb4, code CHAR(4) CHARACTER SET latin1)',
    "INSERT INTO s SELECT seq, CONCAT('student ', seq), 'ab' FROM seq_1_to_3000",
    {
      cloud:
        "UPDATE s SET name = 'renamed' WHERE id IN (17, 1500, 2999); DELETE FROM s WHERE id = 640; " +
        "INSERT INTO s SELECT seq, 'new', 'cd' FROM seq_5001_to_5600",
      origin: "UPDATE s SET code = 'ab ' WHERE id = 900; UPDATE s SET name = 'Student 901' WHERE id = 901",
    },
  );
  const { left, right } = await sides();
  for (const mode of [{}, { bucketsFirst: true, nameColumns: false }]) {
    const v = (await verifyData({ left, right, leftDatabase: 'spread', chunkSize: 1000, ...mode })).tables[0];
    expect(v.chunks).toBe(4); // the last one open-ended: the new rows beyond the left's last key
    expect(v.differing.map((d) => d.raw[0]).sort((a, b) => Number(a) - Number(b))).toEqual([
      '17',
      '901',
      '1500',
      '2999',
    ]);
    if (!('nameColumns' in mode)) expect(v.differing.every((d) => d.columns.join() === 'name')).toBe(true);
    expect(v.onlyLeft.map((k) => k.raw[0])).toEqual(['640']);
    expect(v.onlyRight).toHaveLength(600);
  }
  const r = await repairDelta({ source: right, target: left, sourceDatabase: 'spread', chunkSize: 1000 });
  expect(r.proof.identical).toBe(true);
  expect(r.repairs).toEqual([{ table: 's', deleted: 5, inserted: 604, replacedWhole: false }]);
}, 60000);

const intKey: Column = {
  name: 'id',
  dataType: 'int',
  kind: 'int',
  charset: '',
  collation: '',
  scale: 0,
  generated: false,
  nullable: false,
};

test('key-range buckets (a single integer key): sparse and negative keys, and the CRC32 buckets where ranges do not apply', async () => {
  expect(bucketWidth([intKey], 125, ['1000'], ['2000'])).toBe(8);
  expect(bucketWidth([intKey], 125, ['-5'], ['2000'])).toBeUndefined(); // DIV truncates toward zero
  expect(bucketWidth([intKey], 125, undefined, ['2000'])).toBeUndefined();
  expect(bucketWidth([intKey, intKey], 125, ['1', '1'], ['2', '2'])).toBeUndefined();
  // Keys 1000 apart, negative ones too: buckets of a chunk hold one key each or none.
  scenario(
    'sparse',
    'CREATE TABLE t (id BIGINT PRIMARY KEY, v VARCHAR(20))',
    "INSERT INTO t SELECT (CAST(seq AS SIGNED) - 100) * 1000, CONCAT('v', seq) FROM seq_1_to_400",
    {
      cloud: "UPDATE t SET v = 'x' WHERE id IN (-57000, 3000, 250000); INSERT INTO t VALUES (250001, 'new')",
      origin: 'DELETE FROM t WHERE id = 120000',
    },
  );
  const { left, right } = await sides();
  for (const mode of [{}, { bucketsFirst: true }]) {
    const v = (await verifyData({ left, right, leftDatabase: 'sparse', chunkSize: 50, bucketRows: 4, ...mode }))
      .tables[0];
    expect(v.differing.map((d) => d.raw[0])).toEqual(['-57000', '3000', '250000']);
    expect(v.onlyRight.map((k) => k.raw[0]).sort()).toEqual(['120000', '250001']);
    expect(v.onlyLeft).toEqual([]);
  }
  const r = await repairDelta({ source: right, target: left, sourceDatabase: 'sparse', chunkSize: 50 });
  expect(r.proof.identical).toBe(true);
}, 60000);
