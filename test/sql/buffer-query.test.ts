import { createHash } from 'node:crypto';
import type { Connection } from 'mysql2/promise';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';
import { queryBuffer, statementParts } from '../../src/sql/buffer-query';
import { connectWithRetry } from '../../src/sql/connect';

/**
 * src/sql/buffer-query.ts sends bytes through mysql2 by swapping the packet its Query command writes. These
 * tests pin what that relies on, on the installed mysql2: the bytes arrive as sent (every byte value, as
 * the binary connection promises), results and errors come back as from conn.query, the sequence of
 * commands on the connection stays in step, and a query above the 16 MiB packet limit is split as mysql2
 * splits its own.
 */
describe('queryBuffer: a multi-statement query sent as bytes', () => {
  let db: LocalMariaDb;
  let conn: Connection;
  const PASSWORD = `pw-bq-${process.pid}`;

  beforeAll(async () => {
    db = await startMariaDb();
    db.createRdsLikeMaster('master', PASSWORD);
    db.sql('CREATE DATABASE bq; CREATE TABLE bq.t (id INT PRIMARY KEY, b LONGBLOB NOT NULL) ENGINE=InnoDB');
    conn = await connectWithRetry({ host: db.host, port: db.port, user: 'master', password: PASSWORD });
    await conn.query('USE bq');
  });
  afterAll(async () => {
    await conn?.end();
    await db?.stop();
  });

  /** `INSERT INTO t VALUES (id, '<bytes, escaped as mysqldump escapes them>')` as bytes. */
  const insert = (id: number, bytes: Buffer) => {
    const esc: number[] = [];
    for (const c of bytes) {
      if (c === 0x27 || c === 0x5c) esc.push(0x5c, c);
      else if (c === 0) esc.push(0x5c, 0x30);
      else esc.push(c);
    }
    return { sql: Buffer.concat([Buffer.from(`INSERT INTO t VALUES (${id}, '`), Buffer.from(esc), Buffer.from("')")]) };
  };

  test('every byte value arrives as sent; the result is the multi-statement result of conn.query', async () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const result = await queryBuffer(
      conn,
      statementParts(
        Buffer.from('START TRANSACTION;\n'),
        [insert(1, all), insert(2, Buffer.from('ü 수강 🎓'))],
        Buffer.from('\n;\nCOMMIT'),
      ),
      '/* test */',
    );
    expect(Array.isArray(result)).toBe(true);
    expect((result as Array<{ affectedRows?: number }>).map((r) => r.affectedRows)).toEqual([0, 1, 1, 0]);
    const [rows] = await conn.query('SELECT id, HEX(b) AS h FROM t ORDER BY id');
    expect(rows).toEqual([
      { id: 1, h: all.toString('hex').toUpperCase() },
      { id: 2, h: Buffer.from('ü 수강 🎓').toString('hex').toUpperCase() },
    ]);
    // The connection goes on in step: an ordinary query after it gets its own answer.
    const [n] = await conn.query('SELECT COUNT(*) AS n FROM t');
    expect(n).toEqual([{ n: '2' }]);
  });

  test('a refused statement rejects with the server error fields (not a string of the SQL)', async () => {
    const err = await queryBuffer(conn, [insert(1, Buffer.from('dup')).sql], '/* the chunk at byte 7 */').catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: 'ER_DUP_ENTRY', errno: 1062 });
    expect((err as Error).message).toMatch(/Duplicate entry '1' for key 'PRIMARY'/);
    const [rows] = await conn.query('SELECT 1 AS one');
    expect(rows).toEqual([{ one: 1 }]);
  });

  test('above 16 MiB (one MySQL packet): split into packets and arrives whole', async () => {
    const big = Buffer.alloc(17 * 1024 * 1024, 0x61);
    big[0] = 0x27; // escaped by insert()
    big[big.length - 1] = 0x5c;
    await queryBuffer(conn, [insert(3, big).sql], '/* big */');
    const [rows] = await conn.query('SELECT LENGTH(b) AS n, MD5(b) AS m FROM t WHERE id = 3');
    const md5 = createHash('md5').update(big).digest('hex');
    expect(rows).toEqual([{ n: big.length, m: md5 }]);
  });
});
