import { DumpSyntaxError, splitAll } from '../../src/sql/splitter';

const texts = (dump: string | Buffer, chunk?: number) =>
  splitAll(Buffer.isBuffer(dump) ? dump : Buffer.from(dump, 'utf8'), chunk).map((s) => s.sql.toString('utf8'));

describe('StatementSplitter', () => {
  const tricky = [
    '/*M!999999\\- enable the sandbox mode */ ',
    '-- a comment; with a semicolon',
    '# another; comment',
    '/* plain; comment */',
    '/*!40101 SET NAMES utf8mb4 */;',
    "INSERT INTO `t;1` VALUES ('a;b', \"c;d\", 'it''s', 'back\\\\slash\\';still', '🎓 選課'), ('-- no', '# no', '/* no */');",
    'SELECT 1--1;',
    'DELIMITER ;;',
    "CREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = ';'; SET NEW.b = 1; END ;;",
    '/*!50003 CREATE*/ /*!50003 PROCEDURE p() BEGIN SELECT 1; END */;;',
    'delimiter $$',
    'SELECT 2$$',
    'DELIMITER ;',
    'SELECT 3',
  ].join('\n');

  test('splits like the mysql client, whatever the chunk boundaries', () => {
    const expected = [
      '/*M!999999\\- enable the sandbox mode */',
      '/*!40101 SET NAMES utf8mb4 */',
      "INSERT INTO `t;1` VALUES ('a;b', \"c;d\", 'it''s', 'back\\\\slash\\';still', '🎓 選課'), ('-- no', '# no', '/* no */')",
      'SELECT 1--1',
      "CREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = ';'; SET NEW.b = 1; END",
      '/*!50003 CREATE*/ /*!50003 PROCEDURE p() BEGIN SELECT 1; END */',
      'SELECT 2',
      'SELECT 3',
    ];
    for (const chunk of [1, 2, 3, 5, 8, 13, 64 * 1024]) expect(texts(tricky, chunk)).toEqual(expected);
    const stmts = splitAll(Buffer.from(tricky, 'utf8'), 3);
    expect(stmts[0].clientCommand).toBe(true);
    expect(stmts.slice(1).every((s) => !s.clientCommand)).toBe(true);
  });

  test('offsets point at the bytes in the dump; endOffset is just past the delimiter', () => {
    const dump = Buffer.from(tricky, 'utf8');
    const stmts = splitAll(dump, 7);
    for (const s of stmts) {
      expect(dump.subarray(s.startOffset, s.startOffset + s.sql.length).equals(s.sql)).toBe(true);
    }
    const trigger = stmts[4];
    expect(dump.subarray(trigger.endOffset - 2, trigger.endOffset).toString()).toBe(';;');
    expect(stmts[stmts.length - 1].endOffset).toBe(dump.length);
    // Lines are 1-based: the INSERT is on line 6.
    expect(stmts[2].line).toBe(6);
  });

  test('binary bytes (invalid UTF-8, NUL, 0xFF) pass through unchanged', () => {
    const blob = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x27 /* escaped below */, 0x0a, 0x3b, 0xc3]);
    const escaped = Buffer.concat([
      Buffer.from("INSERT INTO b VALUES ('"),
      Buffer.from([0x5c, 0x30, 0xff, 0xfe, 0x80, 0x5c, 0x27, 0x5c, 0x6e, 0x3b, 0xc3]),
      Buffer.from("');\nSELECT 1;"),
    ]);
    const stmts = splitAll(escaped, 2);
    expect(stmts).toHaveLength(2);
    expect(stmts[0].sql.equals(escaped.subarray(0, escaped.indexOf(Buffer.from("');")) + 2))).toBe(true);
    expect(blob.length).toBe(8);
  });

  test('a dump that ends inside a string is reported as truncated, with the offset', () => {
    expect(() => splitAll(Buffer.from("SELECT 1;\nINSERT INTO t VALUES ('abc"))).toThrow(DumpSyntaxError);
    expect(() => splitAll(Buffer.from("SELECT 1;\nINSERT INTO t VALUES ('abc"))).toThrow(
      /ends inside a quoted string opened at offset 32.*truncated/,
    );
  });

  test('"--" without a following space is not a comment; "DELIMITER" inside a statement is not a command', () => {
    expect(texts('SELECT 5--2;SELECT 1;')).toEqual(['SELECT 5--2', 'SELECT 1']);
    expect(texts("SELECT 'x'\nDELIMITER $$\n;")).toEqual(["SELECT 'x'\nDELIMITER $$"]);
  });
});
