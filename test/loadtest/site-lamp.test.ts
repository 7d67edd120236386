/**
 * The example LAMP site's own load plan (examples/lamp-site/loadtest-plan.json), scaled to a few seconds, run by the
 * real k6 against the example site on an "instance" started from the rendered configs (nginx front door + php-fpm,
 * Debian's binaries, DB wired in from SSM + Secrets Manager on moto), with its rows counted on the real MariaDB.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runSiteLoadTest } from '../../loadtest/lib/site-runner';
import { readSitePlan } from '../../loadtest/lib/site-plan';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';
import { LocalMoto, startMoto } from '../../src/local/moto';
import { loadLampDatabase, putDbParameters, startInstance, TestInstance } from '../site/support';

const PLAN = path.join(__dirname, '..', '..', 'examples', 'lamp-site', 'loadtest-plan.json');
const PREFIX = '/rushhour/lamp-plan/db';
let db: LocalMariaDb;
let moto: LocalMoto;
let instance: TestInstance;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-lamp-plan-'));

beforeAll(async () => {
  [db, moto] = await Promise.all([startMariaDb(), startMoto()]);
  const app = loadLampDatabase(db, 'courses');
  await putDbParameters(moto, PREFIX, { host: '127.0.0.1', port: db.port, name: 'courses', ...app });
  instance = await startInstance({
    site: {
      runtime: 'php',
      documentRoot: 'public',
      configFiles: [{ path: 'config.php', template: 'deploy/config.php.tmpl' }],
    },
    moto,
    ssmPrefix: PREFIX,
  });
}, 90000);

afterAll(async () => {
  await instance?.stop();
  await Promise.all([db?.stop(), moto?.stop()]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('the example plan logs in with the CSRF token, registers and drops; every acknowledged write is in the database', async () => {
  const before = Number(db.sql('SELECT COUNT(*) FROM registrations', 'courses').trim());
  const r = await runSiteLoadTest({
    plan: readSitePlan(PLAN),
    peak: 25,
    duration: '6s',
    targets: [instance.url],
    outDir: path.join(tmp, 'run'),
    countRows: async (sql) => Number(db.sql(sql, 'courses').trim()),
  });
  expect(r.verdict.failures).toEqual([]);
  expect(r.counters.site_login_failed).toBe(0);
  expect(r.counters.write_register).toBeGreaterThan(3);
  expect(r.counters.write_drop).toBeGreaterThan(0);
  expect(Number(db.sql('SELECT COUNT(*) FROM registrations', 'courses').trim()) - before).toBe(
    r.counters.write_register - r.counters.write_drop,
  );
  // The site's own invariant holds too: taken counts the registrations.
  expect(
    db
      .sql(
        'SELECT COUNT(*) FROM courses c WHERE taken <> (SELECT COUNT(*) FROM registrations r WHERE r.course_id = c.id)',
        'courses',
      )
      .trim(),
  ).toBe('0');
}, 120000);
