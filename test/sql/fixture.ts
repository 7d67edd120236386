import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import { LocalMariaDb } from '../../src/local/mariadb';
import { OWN_TABLES } from '../../lib/contracts';
import type { ImportResult } from '../../src/sql/importer';
import { quoteIdent } from '../../src/util/sql-ident';

/**
 * A schema with every object kind mysqldump writes specially: tables with blobs (random binary),
 * utf8mb4 text (emoji, CJK), quotes, semicolons and comment markers in data; a view; triggers,
 * a procedure, a function and an event (DELIMITER blocks). Seeded, so runs are reproducible.
 */
export function buildFixtureSchema(db: LocalMariaDb, database: string, rows = 300, seed = 7): void {
  let state = seed;
  const rand = () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state;
  };
  const hex = (n: number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = rand() & 0xff;
    return b.toString('hex');
  };
  const texts = [
    'plain',
    'semi;colon',
    'quote \' and " and `',
    'back\\slash',
    '-- not a comment',
    '/* nor this */',
    '# nor this',
    'emoji 🎓📚',
    'CJK 選課 수강 登録',
    'DELIMITER ;;',
    'line\nbreak\r\n',
    'tab\tand \u0000 nul',
  ];
  const q = (s: string) =>
    `'${s
      .replace(/\\/g, '\\\\')
      .replace(/'/g, "\\'")
      .replaceAll('\0', '\\0')
      .replace(/\n/g, '\\n')
      .replace(/\r/g, '\\r')}'`;
  const sql: string[] = [
    `CREATE DATABASE ${database} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    `USE ${database}`,
    `CREATE TABLE courses (id INT PRIMARY KEY AUTO_INCREMENT, code VARCHAR(16) NOT NULL UNIQUE, title VARCHAR(200) NOT NULL, seats INT NOT NULL, taken INT NOT NULL DEFAULT 0) ENGINE=InnoDB`,
    `CREATE TABLE students (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(100) NOT NULL, note TEXT, photo MEDIUMBLOB) ENGINE=InnoDB`,
    `CREATE TABLE registrations (student_id INT NOT NULL, course_id INT NOT NULL, created_at DATETIME(3) NOT NULL, PRIMARY KEY (student_id, course_id),
       FOREIGN KEY (student_id) REFERENCES students(id), FOREIGN KEY (course_id) REFERENCES courses(id)) ENGINE=InnoDB`,
    'CREATE TABLE `odd ``name`` ; table` (`col;1` VARCHAR(20), `col``2` DECIMAL(10,2)) ENGINE=InnoDB',
    'CREATE TABLE audit (id BIGINT PRIMARY KEY AUTO_INCREMENT, what VARCHAR(50) NOT NULL) ENGINE=InnoDB',
  ];
  for (let i = 1; i <= 20; i++)
    sql.push(
      `INSERT INTO courses (code, title, seats) VALUES ('C${i}', ${q(texts[i % texts.length])}, ${10 + (rand() % 40)})`,
    );
  for (let i = 1; i <= rows; i++) {
    const photo = i % 5 === 0 ? 'NULL' : `0x${hex(1 + (rand() % 3000))}`;
    sql.push(
      `INSERT INTO students (name, note, photo) VALUES (${q(`student ${i} ${texts[i % texts.length]}`)}, ${q(texts[rand() % texts.length].repeat(1 + (rand() % 5)))}, ${photo})`,
    );
  }
  for (let i = 1; i <= rows; i++) {
    sql.push(`INSERT IGNORE INTO registrations VALUES (${i}, ${1 + (rand() % 20)}, '2026-09-01 08:00:00.123')`);
  }
  sql.push("INSERT INTO `odd ``name`` ; table` VALUES ('a;b', 1.50), ('c''d', NULL)");
  sql.push(
    `CREATE VIEW course_load AS SELECT c.code, COUNT(r.student_id) AS n FROM courses c LEFT JOIN registrations r ON r.course_id = c.id GROUP BY c.code`,
  );
  sql.push(`DELIMITER ;;
CREATE TRIGGER reg_taken AFTER INSERT ON registrations FOR EACH ROW BEGIN
  UPDATE courses SET taken = taken + 1 WHERE id = NEW.course_id; -- keep the count; in step
  INSERT INTO audit (what) VALUES ('registered; "ok"');
END ;;
CREATE TRIGGER reg_untaken AFTER DELETE ON registrations FOR EACH ROW UPDATE courses SET taken = taken - 1 WHERE id = OLD.course_id ;;
CREATE PROCEDURE register(IN s INT, IN c INT)
BEGIN
  DECLARE free INT;
  SELECT seats - taken INTO free FROM courses WHERE id = c; /* seats; left */
  IF free > 0 THEN INSERT INTO registrations VALUES (s, c, NOW(3)); END IF;
END ;;
CREATE FUNCTION seats_left(c INT) RETURNS INT READS SQL DATA DETERMINISTIC
BEGIN
  RETURN (SELECT seats - taken FROM courses WHERE id = c);
END ;;
CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO DELETE FROM audit WHERE id < 0 ;;
DELIMITER ;`);
  db.sql('SET NAMES utf8mb4;\n' + sql.join(';\n') + ';\n');
}

/** A real dump of `database` made by the installed mysqldump (MariaDB's), with routines, triggers and events. */
export function dumpDatabase(db: LocalMariaDb, database: string, extraArgs: string[] = []): Buffer {
  return execFileSync(
    'mysqldump',
    [...db.clientArgs, '--routines', '--triggers', '--events', '--single-transaction', ...extraArgs, database],
    {
      maxBuffer: 1024 * 1024 * 1024,
    },
  );
}

/** `CHECKSUM TABLE` for every base table, and the names of views, triggers, routines and events. */
export function describeDatabase(db: LocalMariaDb, database: string): Record<string, string[]> {
  const tables = db
    .sql(
      `SELECT table_name FROM information_schema.tables WHERE table_schema='${database}' AND table_type='BASE TABLE' ORDER BY 1`,
    )
    .trim()
    .split('\n')
    .filter((t) => t && !OWN_TABLES.test(t));
  const checksums = tables.map((t) => {
    const out = db
      .sql(`CHECKSUM TABLE ${quoteIdent(t)}`, database)
      .trim()
      .split('\t');
    return `${t}=${out[1]}`;
  });
  const list = (query: string) => db.sql(query).trim().split('\n').filter(Boolean);
  // SHOW CREATE TABLE: columns, indexes in order, foreign keys, options (a deferred index must come back as it was).
  const schemas = tables.map((t) =>
    db
      .sql(`SHOW CREATE TABLE ${quoteIdent(t)}`, database)
      .trim()
      .split('\t')
      .slice(1)
      .join('\t'),
  );
  return {
    checksums,
    schemas,
    views: list(
      `SELECT CONCAT(table_name, ':', view_definition) FROM information_schema.views WHERE table_schema='${database}' ORDER BY 1`,
    ).map((v) => v.split(`\`${database}\`.`).join('')),
    triggers: list(
      `SELECT CONCAT(trigger_name, ':', action_timing, ':', event_manipulation, ':', MD5(action_statement)) FROM information_schema.triggers WHERE trigger_schema='${database}' ORDER BY 1`,
    ),
    routines: list(
      `SELECT CONCAT(routine_type, ':', routine_name, ':', MD5(routine_definition)) FROM information_schema.routines WHERE routine_schema='${database}' ORDER BY 1`,
    ),
    events: list(
      `SELECT CONCAT(event_name, ':', MD5(event_definition), ':', status) FROM information_schema.events WHERE event_schema='${database}' ORDER BY 1`,
    ),
  };
}

export function sha256(b: Buffer): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

/** What `sliceToEnd` saw: the last slice's result, how many slices ran, and the statements they ran. */
export interface Slices {
  readonly result: ImportResult;
  readonly runs: number;
  /** Statements executed, summed over the slices. */
  readonly executed: number;
  /** The most statements one slice executed. */
  readonly most: number;
}

/**
 * Runs `slice` (one time-budgeted import run) until the import is complete or `limit` slices have run;
 * `afterIncomplete` is called after each slice that stopped short (to check the record in between).
 */
export async function sliceToEnd(
  slice: () => Promise<ImportResult>,
  limit: number,
  afterIncomplete?: () => void,
): Promise<Slices> {
  let runs = 0;
  let executed = 0;
  let most = 0;
  let result: ImportResult;
  do {
    result = await slice();
    runs++;
    executed += result.statementsThisRun;
    most = Math.max(most, result.statementsThisRun);
    if (!result.complete) afterIncomplete?.();
  } while (!result.complete && runs < limit);
  return { result, runs, executed, most };
}
