/**
 * Makes examples/course-selection.sql.gz: a real mysqldump of the reference schema, migrated and
 * seeded by the app's own code (43 courses, 300 students, no registrations yet: the rush starts empty).
 *
 *   npx tsx scripts/make-example-dump.ts [out.sql.gz] [--students N]
 *
 * The output is reproducible: the dump date is left out and gzip stores no name or time.
 */
import * as path from 'node:path';
import { writeExampleDump } from '../src/local/example-dump';

async function makeExampleDump(outFile: string, students: number): Promise<void> {
  const { sqlBytes, gzipBytes } = await writeExampleDump(outFile, { courses: 43, students });
  console.log(`wrote ${outFile}: ${sqlBytes} bytes of SQL, ${gzipBytes} gzipped (43 courses, ${students} students)`);
}

const args = process.argv.slice(2);
const studentsAt = args.indexOf('--students');
const students = studentsAt >= 0 ? Number(args.splice(studentsAt, 2)[1]) : 300;
const out = args[0] ?? path.join(__dirname, '..', 'examples', 'course-selection.sql.gz');
if (!Number.isInteger(students) || students < 0) {
  console.error('--students must be a non-negative integer');
  process.exit(2);
}
makeExampleDump(out, students).catch((err) => {
  console.error(`make-example-dump: ${err.message}`);
  process.exit(1);
});
