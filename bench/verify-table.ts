/**
 * The table bench/verify and bench/verify-exprs measure, from deterministic SQL (no random values), so two
 * servers given it start identical: an INT key, three utf8mb4 VARCHARs (one NULL in ten), DATE,
 * DATETIME(3), DECIMAL, DOUBLE and VARBINARY, about 250 bytes a row. Run in the `bench` database.
 */
export function verifyBenchTable(rows: number): string {
  return `CREATE TABLE students (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(120) NOT NULL,
      note VARCHAR(255), born DATE, at DATETIME(3) NOT NULL, balance DECIMAL(10,2), score DOUBLE,
      photo VARBINARY(64)) ENGINE=InnoDB;
    INSERT INTO students SELECT seq, CONCAT('Student ', seq, ' Müller'), CONCAT('s', seq, '@example.edu'),
      IF(seq % 10 = 0, NULL, CONCAT(MD5(seq), ' ', SHA1(seq), ' 수강 ', SHA2(seq, 256))), '2000-01-01' + INTERVAL seq % 9000 DAY,
      '2026-09-01 08:00:00.000' + INTERVAL seq SECOND, seq % 100000 / 100, seq / 7, UNHEX(MD5(seq))
      FROM seq_1_to_${rows};`;
}
