/**
 * Makes examples/lamp-site/course-selection-lamp.sql.gz: the reference app's schema and seed (app/db.ts,
 * so the reference app and this PHP site can serve the same data) plus `student_passwords` with
 * PHP password_hash() values, dumped by mariadb-dump (with its "-- Dump completed" trailer).
 *
 *   npx tsx examples/lamp-site/make-dump.ts [out.sql.gz]
 *
 * Demo logins, known to the tests and the rehearsal: student S0000001 ... S0000300 with the password
 * `pw-S0000001` ... (an example, not a secret).
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { writeExampleDump } from '../../src/local/example-dump';
import { requireTool } from '../../src/local/process';

export const LAMP_STUDENTS = 300;
export const LAMP_COURSES = 43;
export const demoPassword = (studentNo: string) => `pw-${studentNo}`;
export const PASSWORDS_TABLE_SQL = `CREATE TABLE student_passwords (
  student_id INT UNSIGNED NOT NULL PRIMARY KEY,
  password_hash VARCHAR(255) NOT NULL,
  CONSTRAINT fk_student_passwords_student FOREIGN KEY (student_id) REFERENCES students (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;

async function makeDump(outFile: string): Promise<void> {
  const php = requireTool('php', 'apt-get install -y php-cli');
  const { sqlBytes, gzipBytes } = await writeExampleDump(outFile, {
    courses: LAMP_COURSES,
    students: LAMP_STUDENTS,
    extend: async (pool) => {
      await pool.query(PASSWORDS_TABLE_SQL);
      const [rows] = await pool.query('SELECT id, student_no FROM students ORDER BY id');
      const students = rows as { id: number; student_no: string }[];
      // PHP's own password_hash (bcrypt, PASSWORD_DEFAULT), so the site verifies exactly what PHP makes.
      const hashes = JSON.parse(
        execFileSync(
          php,
          [
            '-r',
            'echo json_encode(array_map(fn($p) => password_hash($p, PASSWORD_DEFAULT), json_decode(stream_get_contents(STDIN))));',
          ],
          { input: JSON.stringify(students.map((s) => demoPassword(s.student_no))), encoding: 'utf8' },
        ),
      ) as string[];
      await pool.query('INSERT INTO student_passwords (student_id, password_hash) VALUES ?', [
        students.map((s, i) => [s.id, hashes[i]]),
      ]);
    },
  });
  console.log(`wrote ${outFile}: ${sqlBytes} bytes of SQL, ${gzipBytes} gzipped`);
}

if (require.main === module) {
  makeDump(process.argv[2] ?? path.join(__dirname, 'course-selection-lamp.sql.gz')).catch((err) => {
    console.error(`make-dump: ${err.message}`);
    process.exit(1);
  });
}
