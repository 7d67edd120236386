import { LocalMariaDb } from '../../src/local/mariadb';

/**
 * A schema with what an export must carry exactly: binary (all 256 byte values), utf8mb4 (emoji, CJK),
 * quotes/backslashes/NUL/newlines, BIT, JSON, DECIMAL, DATETIME(3), NULLs, a generated column, a
 * composite key, a table without any key, nested views, triggers, a procedure, a function and an event.
 */
export function buildExportFixture(db: LocalMariaDb, database: string, rows = 500): void {
  const texts = [
    'plain',
    'semi;colon',
    'quote \' and " and `',
    'back\\slash',
    'emoji 🎓📚',
    'CJK 選課 수강',
    'line\nbreak\r\n',
    'nul \0 here',
    'ctrl-z \x1a',
  ];
  const q = (t: string) =>
    "'" +
    t.replace(
      // eslint-disable-next-line no-control-regex -- NUL and Ctrl-Z are exactly what MySQL string literals escape
      /[\\'\0\n\r\x1a]/g,
      (c) => ({ '\\': '\\\\', "'": "\\'", '\0': '\\0', '\n': '\\n', '\r': '\\r', '\x1a': '\\Z' })[c] as string,
    ) +
    "'";
  const sql: string[] = [
    'SET NAMES utf8mb4',
    `CREATE DATABASE ${database} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    `USE ${database}`,
    "CREATE TABLE courses (id INT PRIMARY KEY AUTO_INCREMENT, code VARCHAR(16) NOT NULL UNIQUE, title VARCHAR(200) NOT NULL, seats INT NOT NULL, taken INT NOT NULL DEFAULT 0, price DECIMAL(10,2), flags BIT(10), meta JSON, label VARCHAR(230) AS (CONCAT(code, ':', title)) VIRTUAL) ENGINE=InnoDB",
    'CREATE TABLE students (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(100) NOT NULL, note TEXT, photo MEDIUMBLOB, born DATETIME(3)) ENGINE=InnoDB',
    'CREATE TABLE registrations (student_id INT NOT NULL, course_id INT NOT NULL, created_at DATETIME(3) NOT NULL, PRIMARY KEY (student_id, course_id)) ENGINE=InnoDB',
    'CREATE TABLE nokey (a VARCHAR(20), b VARBINARY(16)) ENGINE=InnoDB',
    'CREATE TABLE audit (id BIGINT PRIMARY KEY AUTO_INCREMENT, what VARCHAR(50) NOT NULL) ENGINE=InnoDB',
    'CREATE TABLE rushhour_import_progress (id INT PRIMARY KEY) ENGINE=InnoDB',
  ];
  for (let i = 1; i <= 30; i++) {
    sql.push(
      `INSERT INTO courses (code, title, seats, price, flags, meta) VALUES ('C${i}', ${q(texts[i % texts.length])}, ${10 + i}, ${i}.5${i % 10}, b'${((i * 37) % 1024).toString(2)}', ${i % 4 === 0 ? 'NULL' : `'{"k": ${i}, "s": "x\\\\"y"}'`})`,
    );
  }
  const values: string[] = [];
  for (let i = 1; i <= rows; i++) {
    const photo =
      i % 7 === 0
        ? 'NULL'
        : i === 1
          ? `0x${Buffer.from(Array.from({ length: 256 }, (_, b) => b)).toString('hex')}`
          : `0x${Buffer.from(`p${i}\x00\xff\x27\x5c`, 'latin1').toString('hex')}`;
    values.push(
      `(${q(`student ${i} ${texts[i % texts.length]}`)}, ${i % 3 ? q(texts[(i * 5) % texts.length].repeat(1 + (i % 4))) : 'NULL'}, ${photo}, '2001-02-03 04:05:06.${String(i % 1000).padStart(3, '0')}')`,
    );
  }
  sql.push(`INSERT INTO students (name, note, photo, born) VALUES ${values.join(',')}`);
  const regs: string[] = [];
  for (let i = 1; i <= rows; i++)
    regs.push(
      `(${i}, ${1 + (i % 30)}, '2026-09-01 08:00:00.123')`,
      `(${i}, ${1 + ((i + 11) % 30)}, '2026-09-01 08:00:01.456')`,
    );
  sql.push(`INSERT IGNORE INTO registrations VALUES ${regs.join(',')}`);
  sql.push("INSERT INTO nokey VALUES ('dup', 0x00), ('dup', 0x00), (NULL, NULL), ('x''y', 0xFF27)");
  sql.push(
    'CREATE VIEW course_load AS SELECT c.code, COUNT(r.student_id) AS n FROM courses c LEFT JOIN registrations r ON r.course_id = c.id GROUP BY c.code',
  );
  sql.push('CREATE VIEW busy_courses AS SELECT code FROM course_load WHERE n > 30');
  sql.push(`DELIMITER ;;
CREATE TRIGGER reg_taken AFTER INSERT ON registrations FOR EACH ROW BEGIN
  UPDATE courses SET taken = taken + 1 WHERE id = NEW.course_id; -- keep; the count
  INSERT INTO audit (what) VALUES ('registered; "ok"');
END ;;
CREATE PROCEDURE register(IN s INT, IN c INT)
BEGIN
  DECLARE free INT;
  SELECT seats - taken INTO free FROM courses WHERE id = c;
  IF free > 0 THEN INSERT INTO registrations VALUES (s, c, NOW(3)); END IF;
END ;;
CREATE FUNCTION seats_left(c INT) RETURNS INT READS SQL DATA DETERMINISTIC
BEGIN
  RETURN (SELECT seats - taken FROM courses WHERE id = c);
END ;;
CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO DELETE FROM audit WHERE id < 0 ;;
DELIMITER ;`);
  db.sql(sql.join(';\n') + ';\n');
}

/** CHECKSUM TABLE of the fixture's tables, with the database name stripped. */
export function fixtureChecksums(db: LocalMariaDb, database: string): string {
  return db
    .sql(
      `CHECKSUM TABLE ${['courses', 'students', 'registrations', 'nokey', 'audit'].map((t) => `${database}.${t}`).join(', ')}`,
    )
    .split(`${database}.`)
    .join('');
}

/** The routines, triggers, views and events of a database, as a comparable text. */
export function fixtureObjects(db: LocalMariaDb, database: string): string {
  return db.sql(`SELECT 'routine', ROUTINE_TYPE, ROUTINE_NAME, MD5(ROUTINE_DEFINITION) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '${database}'
    UNION ALL SELECT 'trigger', EVENT_OBJECT_TABLE, TRIGGER_NAME, MD5(ACTION_STATEMENT) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '${database}'
    UNION ALL SELECT 'view', TABLE_NAME, '', MD5(REPLACE(VIEW_DEFINITION, '\`${database}\`.', '')) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = '${database}'
    UNION ALL SELECT 'event', EVENT_NAME, STATUS, MD5(EVENT_DEFINITION) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = '${database}'
    ORDER BY 1, 2, 3`);
}
