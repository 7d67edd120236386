import { DumpStatement, DumpSyntaxError, splitAll, StatementSplitter } from '../../src/sql/splitter';

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

  describe('strings at every chunk boundary (the quoted strings jump to the next quote, backslash or newline)', () => {
    /** A seeded generator: the same "random" chunk sizes on every run, so a failure reproduces. */
    const rng = (seed: number) => () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const binary = Buffer.alloc(300);
    const rand = rng(42);
    for (let k = 0; k < binary.length; k++) binary[k] = Math.floor(rand() * 256);
    // mysqldump's escapes for the bytes that need one, the rest raw (0x80-0xFF, control bytes).
    const escapedBinary = Buffer.from(
      [...binary].flatMap((b) =>
        b === 0 ? [0x5c, 0x30] : b === 0x27 || b === 0x22 || b === 0x5c ? [0x5c, b] : b === 0x0a ? [0x5c, 0x6e] : [b],
      ),
    );
    const long = 'x'.repeat(70); // longer than the byte-stepped run before a native jump
    const dump = Buffer.concat([
      Buffer.from(
        [
          '/*M!999999\\- enable the sandbox mode */ ',
          'SET NAMES utf8mb4;',
          `INSERT INTO t VALUES ('a\\\\b', 'it''s', "say \\"hi\\"", 'raw\nnewline', "raw\n\nnewlines\n", 'esc\\\nnl', '${long}\\'${long}');`,
          `INSERT INTO t VALUES ('${long}\n${long}', "${long}'${long}", '${long}"${long}', '\\\\', '\\'', "\\"", '');`,
          '',
        ].join('\n'),
      ),
      Buffer.from("INSERT INTO b VALUES ('"),
      escapedBinary,
      Buffer.from('\', "'),
      escapedBinary,
      Buffer.from('");\n'),
      Buffer.from(`SELECT '${'y\\\\'.repeat(40)}', "${'\n'.repeat(5)}";\nSELECT 'end'`),
    ]);

    const split = (sizes: () => number): DumpStatement[] => {
      const s = new StatementSplitter();
      const out: DumpStatement[] = [];
      for (let i = 0; i < dump.length;) {
        const size = sizes();
        out.push(...s.push(dump.subarray(i, i + size)));
        i += size;
      }
      out.push(...s.end());
      return out;
    };
    const shape = (stmts: DumpStatement[]) =>
      stmts.map((st) => ({ sql: st.sql.toString('latin1'), start: st.startOffset, end: st.endOffset, line: st.line }));
    const whole = shape(split(() => dump.length));

    test('the whole-buffer result is right on its own: offsets, bytes and lines', () => {
      expect(whole).toHaveLength(7);
      for (const st of whole) {
        expect(dump.toString('latin1', st.start, st.start + st.sql.length)).toBe(st.sql);
        // The line is 1 + the newlines before the statement, raw or escaped, in strings or not.
        expect(st.line).toBe(1 + dump.subarray(0, st.start).filter((b) => b === 0x0a).length);
      }
      expect(whole[4].sql.startsWith("INSERT INTO b VALUES ('")).toBe(true);
      expect(whole[6]).toEqual({ sql: "SELECT 'end'", start: dump.length - 12, end: dump.length, line: whole[6].line });
    });

    test.each([1, 2, 3, 4, 5, 6, 7])('chunks of %i bytes give the same statements, offsets and lines', (size) => {
      expect(shape(split(() => size))).toEqual(whole);
    });

    test('random chunk sizes give the same statements, offsets and lines', () => {
      for (let seed = 1; seed <= 30; seed++) {
        const r = rng(seed);
        const max = [3, 20, 100, 700][seed % 4];
        expect(shape(split(() => 1 + Math.floor(r() * max)))).toEqual(whole);
      }
    });

    test('a dump cut inside a string is reported at the same offset whatever the chunks', () => {
      const cut = dump.subarray(0, dump.indexOf('raw\n') + 5);
      const errorAt = (size: number) => {
        try {
          splitAll(cut, size);
        } catch (err) {
          return (err as DumpSyntaxError).offset;
        }
        return undefined;
      };
      const expected = cut.lastIndexOf("'");
      for (const size of [1, 2, 3, 5, 7, 64 * 1024]) expect(errorAt(size)).toBe(expected);
    });
  });
});
