import { execFileSync } from 'node:child_process';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';
import { splitAll } from '../../src/sql/splitter';
import { importer, MASTER_PASSWORD } from './support';

/**
 * Issue 16 item 12: in sjis, cp932, big5 and gbk a two-byte character can end in 0x5C (backslash) or
 * 0x60 (backtick). A real mariadb-dump of such tables, made in their own charset, must split as the
 * server reads it and import the same rows as the mariadb client imports.
 */
describe('hostile dumps: multibyte charsets whose characters contain 0x5C', () => {
  let db: LocalMariaDb;
  const run = importer(() => db);
  /**
   * Per charset: values whose characters have 0x5C (or 0x60: sjis 〜 is 81 60) as trail byte (checked below), and a
   * column name in it. (mariadb-dump 10.11 cannot quote a column whose name has a 0x60 trail byte: it doubles it.)
   */
  const charsets: Array<[string, string[], string]> = [
    ['sjis', ['表', 'ソ', '能力', "予定's", '〜', '表\\'], '値'],
    ['cp932', ['表', 'ソ', '十', "予'", '表\\'], '値'],
    ['big5', ['許', '功', '蓋', "許'功", '許\\'], '值'],
    ['gbk', ['乗', '怽', "乗'", '怽\\'], '值'],
  ];
  const rows = (database: string) => db.sql(`SELECT id, HEX(v) FROM \`${database}\`.t ORDER BY id`);

  beforeAll(async () => {
    db = await startMariaDb();
    db.createRdsLikeMaster('master', MASTER_PASSWORD);
  });
  afterAll(() => db?.stop());

  test.each(charsets)(
    '%s: split as the server reads it, imported like the mariadb client',
    async (cs, values, column) => {
      const origin = `origin_${cs}`;
      const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
      db.sql(
        `CREATE DATABASE ${origin} CHARACTER SET ${cs};
       CREATE TABLE ${origin}.t (id INT PRIMARY KEY, v VARCHAR(50), \`${column}\` VARCHAR(10)) CHARACTER SET ${cs};
       INSERT INTO ${origin}.t VALUES ${values.map((v, i) => `(${i + 1}, ${q(v)}, ${q(v)})`).join(', ')};`,
      );
      const dump = execFileSync('mariadb-dump', [
        ...db.clientArgs.filter((a) => !a.startsWith('--default-character-set')),
        `--default-character-set=${cs}`,
        origin,
      ]);
      // Honest test: the dump really has a trail byte 0x5C just before a closing quote (what broke the splitter).
      expect(dump.toString('latin1')).toContain(`SET NAMES ${cs}`);
      const hex = dump.toString('hex');
      expect(hex).toMatch(/^(?:[0-9a-f]{2})*?[89a-f][0-9a-f]5c27(?:2c|29)/);

      // The same statements whatever the chunk boundaries.
      const whole = splitAll(dump).map((s) => s.sql.toString('hex'));
      for (const chunk of [1, 2, 3, 7, 4096])
        expect(splitAll(dump, chunk).map((s) => s.sql.toString('hex'))).toEqual(whole);
      const insert = splitAll(dump).find((s) => s.sql.toString('latin1').startsWith('INSERT INTO `t`'))!;
      expect(insert.charset).toBe(cs);
      expect(splitAll(dump).find((s) => s.sql.toString('latin1').startsWith('CREATE TABLE'))!.charset).toBeUndefined();

      db.sql(`CREATE DATABASE cli_${cs}`);
      // The client lexes in its own --default-character-set (it does not follow the dump's SET NAMES): with
      // utf8mb4 it fails on these dumps ("Unknown command '\\''"), so it is told the dump's charset.
      const client = db.clientArgs.filter((a) => !a.startsWith('--default-character-set'));
      expect(() => execFileSync('mariadb', [...db.clientArgs, `cli_${cs}`], { input: dump, stdio: 'pipe' })).toThrow(
        /Unknown command|syntax/,
      );
      db.sql(`DROP DATABASE cli_${cs}; CREATE DATABASE cli_${cs}`);
      execFileSync('mariadb', [...client, `--default-character-set=${cs}`, `cli_${cs}`], { input: dump });
      expect(rows(`cli_${cs}`)).toBe(rows(origin));
      const result = await run(`imp_${cs}`, dump);
      expect(result.complete).toBe(true);
      expect(rows(`imp_${cs}`)).toBe(rows(origin));
      expect(db.sql(`SELECT HEX(\`${column}\`) FROM imp_${cs}.t ORDER BY id`)).toBe(
        db.sql(`SELECT HEX(\`${column}\`) FROM ${origin}.t ORDER BY id`),
      );
    },
  );
});
