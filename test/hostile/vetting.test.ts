import { splitAll } from '../../src/sql/splitter';
import { redactLiterals, vetStatement } from '../../src/sql/vetting';

const vet = (sql: string) => vetStatement(splitAll(Buffer.from(sql))[0], 'courses').map((f) => `${f.kind}: ${f.what}`);

describe('vetting rules (pure)', () => {
  test.each([
    [
      "INSERT INTO t VALUES (1,'a\\'b','c''d'), ((SELECT authentication_string FROM mysql.user LIMIT 1))",
      'system-schema: mysql.user',
    ],
    ['INSERT INTO t VALUES (2) ON DUPLICATE KEY UPDATE a = (SELECT 1 FROM other.t)', 'other-database: other.t'],
    ['SELECT other.t.col FROM t', 'other-database: other.t.col'],
    ['CREATE TABLE t (id INT, FOREIGN KEY (id) REFERENCES other.p (id))', 'other-database: other.p'],
    ['SELECT 1 FROM t AS x, other.y', 'other-database: other.y'],
    ['CREATE INDEX i ON other.t (a)', 'other-database: other.t'],
    ['SELECT * FROM "mysql"."user"', 'system-schema: `mysql`.`user`'],
    ['/*!99999 GRANT ALL ON *.* TO x */', 'privilege: GRANT'],
    ['SET @@GLOBAL.read_only = 1', 'global-setting: SET GLOBAL read_only'],
    ['CREATE PROCEDURE p() BEGIN PREPARE s FROM @q; EXECUTE s; END', 'dynamic-sql: PREPARE ... FROM'],
  ])('refused: %s', (sql, finding) => expect(vet(sql)).toContain(finding));

  test.each([
    "INSERT INTO t VALUES ('GRANT'), ('mysql.user'), (1.5), (x.y), (.5), (1.5e-3)",
    'CREATE VIEW v AS SELECT c.code, r.x FROM courses c JOIN registrations r ON r.id = c.id WHERE c.x = 1',
    "INSERT INTO t VALUES (1.5, 'a.b', REPLACE(x.y, 'a', 'b'))",
    'CREATE TABLE t (a TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)',
    'INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE t.a = 2',
    'SET @x = @@GLOBAL.time_zone',
    "SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ 'uuid:1-5'",
    'ALTER DATABASE `origin` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci',
    '/*!40000 DROP DATABASE IF EXISTS `courses`*/',
    'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `courses`',
    'USE `courses`',
    'RESET MASTER',
    'SELECT `courses`.`t`.`c` FROM `courses`.`t`',
  ])('passes: %s', (sql) => expect(vet(sql)).toEqual([]));

  test('redaction keeps the shape, never the literal', () => {
    expect(redactLiterals("CREATE USER 'a'@'%' IDENTIFIED BY 'p\\'w''x' -- `id`")).toBe(
      "CREATE USER '…'@'…' IDENTIFIED BY '…' -- `id`",
    );
    expect(redactLiterals("IDENTIFIED BY 'cut in the midd")).toBe("IDENTIFIED BY '…");
  });
});
