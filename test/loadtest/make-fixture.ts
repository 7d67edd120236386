/**
 * Regenerates the real k6 output the unit tests read (test/loadtest/fixtures/): a short `rush` over two weighted
 * app servers on a seeded MariaDB, with registrations contending for a 5-seat course.
 * Run: npx tsx test/loadtest/make-fixture.ts
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runLoadTest } from '../../loadtest/run';
import { startDeployment } from './support';

async function main(): Promise<void> {
  const dep = await startDeployment({ apps: 2, students: 300 });
  try {
    const first = ((await (await fetch(`${dep.urls[0]}/api/courses`)).json()) as Array<{ id: number }>)[0];
    dep.db.sql(`UPDATE courses SET seats = 5 WHERE id = ${first.id}`, 'course_selection');
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-fixture-'));
    const r = await runLoadTest({
      scenario: 'rush',
      targets: [`${dep.urls[0]}=2`, `${dep.urls[1]}=1`],
      peak: 40,
      duration: '10s',
      students: 300,
      p95Ms: 20,
      extraEnv: { HOT_COURSES: '1', HOT_SHARE: '0.8' },
      outDir,
    });
    const dest = path.join(__dirname, 'fixtures');
    fs.copyFileSync(r.files.k6Points, path.join(dest, 'rush-k6-points.json.gz'));
    fs.copyFileSync(r.files.k6Summary, path.join(dest, 'rush-k6-summary.json'));
    console.log(r.summaryText);
    fs.rmSync(outDir, { recursive: true, force: true });
  } finally {
    await dep.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
