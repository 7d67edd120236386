import { execFileSync } from 'node:child_process';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';
import { bufferDumpSource } from '../../src/sql/dump-source';
import { importDump } from '../../src/sql/importer';
import { DumpRewriter, DumpRewriteError } from '../../src/sql/rewrites';
import { splitAll } from '../../src/sql/splitter';

/** What MySQL 5.7/8.0 mysqldump writes around the data, with the parts RDS refuses. */
const MYSQL8_STYLE_DUMP = `/*M!999999\\- enable the sandbox mode */
-- MySQL dump 10.13  Distrib 8.0.36
/*!40101 SET NAMES utf8mb4 */;
SET @MYSQLDUMP_TEMP_LOG_BIN = @@SESSION.SQL_LOG_BIN;
SET @@SESSION.SQL_LOG_BIN= 0;
SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,
4E11FA47-71CA-11E1-9E33-C80AA9429562:1-7';
CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(60)) ENGINE=InnoDB;
LOCK TABLES \`t\` WRITE;
INSERT INTO t VALUES (1,'DEFINER=\`root\`@\`%\` stays in data');
UNLOCK TABLES;
/*!50003 SET sql_mode = 'STRICT_TRANS_TABLES,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION' */ ;
DELIMITER ;;
/*!50003 CREATE*/ /*!50017 DEFINER=\`root\`@\`localhost\`*/ /*!50003 TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW SET NEW.v = UPPER(NEW.v) */;;
CREATE DEFINER=\`root\`@\`%\` PROCEDURE p() SQL SECURITY DEFINER BEGIN SELECT COUNT(*) FROM t; END ;;
CREATE DEFINER='root'@'localhost' FUNCTION f() RETURNS INT DETERMINISTIC RETURN 42 ;;
/*!50106 CREATE*/ /*!50117 DEFINER=\`root\`@\`localhost\`*/ /*!50106 EVENT e ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM t WHERE id < 0 */ ;;
DELIMITER ;
/*!50001 CREATE ALGORITHM=UNDEFINED */
/*!50013 DEFINER=\`root\`@\`localhost\` SQL SECURITY DEFINER */
/*!50001 VIEW \`v\` AS select \`t\`.\`id\` AS \`id\` from \`t\` */;
SET @@SESSION.SQL_LOG_BIN = @MYSQLDUMP_TEMP_LOG_BIN;

-- Dump completed on 2026-11-30 12:00:00
`;

describe('RDS rewrites', () => {
  test('drop or rewrite exactly what RDS refuses, and count it', () => {
    const r = new DumpRewriter('db');
    const out = splitAll(Buffer.from(MYSQL8_STYLE_DUMP))
      .map((s) => r.prepare(s))
      .filter((s) => s)
      .map((s) => s!.sql.toString());
    expect(out.filter((s) => !s.startsWith('INSERT')).join('\n')).not.toMatch(
      /SQL_LOG_BIN\s*=|GTID_PURGED|sandbox|LOCK TABLES|NO_AUTO_CREATE_USER|DEFINER\s*=\s*[`'"]root/,
    );
    // Data is never touched, and what is kept is kept byte for byte.
    expect(out).toContain("INSERT INTO t VALUES (1,'DEFINER=`root`@`%` stays in data')");
    expect(out).toContain('SET @MYSQLDUMP_TEMP_LOG_BIN = @@SESSION.SQL_LOG_BIN');
    expect(out).toContain('CREATE PROCEDURE p() SQL SECURITY DEFINER BEGIN SELECT COUNT(*) FROM t; END');
    expect(out).toContain(
      '/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50013 SQL SECURITY DEFINER */\n/*!50001 VIEW `v` AS select `t`.`id` AS `id` from `t` */',
    );
    expect(r.summary()).toEqual({
      'dropped: client command (MariaDB sandbox-mode line)': 1,
      'dropped: SET @@SESSION.SQL_LOG_BIN': 2,
      'dropped: SET @@GLOBAL.GTID_PURGED': 1,
      'dropped: LOCK/UNLOCK TABLES': 2,
      'rewritten: NO_AUTO_CREATE_USER removed from sql_mode': 1,
      'rewritten: DEFINER clause removed': 5,
    });
  });

  test('a dump that switches to another database is refused with what to do', () => {
    const r = new DumpRewriter('shop');
    const [create, use] = splitAll(Buffer.from('CREATE DATABASE /*!32312 IF NOT EXISTS*/ `other`;\nUSE `other`;\n'));
    expect(r.prepare(create)).toBeUndefined();
    expect(() => r.prepare(use)).toThrow(DumpRewriteError);
    expect(() => r.prepare(use)).toThrow(/switches to database "other".*without --databases/);
  });

  describe('against MariaDB as an RDS-like master user (no SUPER)', () => {
    let db: LocalMariaDb;
    beforeAll(async () => {
      db = await startMariaDb();
      db.createRdsLikeMaster('master', 'pw-rewrites');
    });
    afterAll(() => db?.stop());

    test('the raw dump fails with the mysql client, the rewritten one imports completely', async () => {
      db.sql('CREATE DATABASE raw');
      expect(() =>
        execFileSync('mariadb', ['--no-defaults', '-h127.0.0.1', `-P${db.port}`, '-umaster', 'raw'], {
          input: MYSQL8_STYLE_DUMP.replace(/^\/\*M!.*\n/, ''),
          env: { ...process.env, MYSQL_PWD: 'pw-rewrites' },
          stdio: 'pipe',
        }),
      ).toThrow(/SUPER|denied|Unknown system variable/i);

      const logs: string[] = [];
      const result = await importDump({
        source: bufferDumpSource(Buffer.from(MYSQL8_STYLE_DUMP)),
        dumpHash: 'rewrites',
        target: { host: db.host, port: db.port, user: 'master', password: 'pw-rewrites', database: 'rds' },
        log: (m) => logs.push(m),
      });
      expect(result.complete).toBe(true);
      expect(logs.join('\n')).toMatch(/rds rewrite: rewritten: DEFINER clause removed x5/);
      expect(
        db
          .sql(
            "SELECT CONCAT(routine_type, ':', routine_name, ':', definer) FROM information_schema.routines WHERE routine_schema='rds' ORDER BY 1",
          )
          .trim()
          .split('\n'),
      ).toEqual(['FUNCTION:f:master@127.0.0.1', 'PROCEDURE:p:master@127.0.0.1']);
      expect(db.sql("SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema='rds'").trim()).toBe('1');
      expect(db.sql("SELECT COUNT(*) FROM information_schema.events WHERE event_schema='rds'").trim()).toBe('1');
      expect(db.sql('SELECT v FROM rds.t').trim()).toBe('DEFINER=`root`@`%` stays in data');
      expect(db.sql('SELECT COUNT(*) FROM rds.v').trim()).toBe('1');
    });
  });
});
