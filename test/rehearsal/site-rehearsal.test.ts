/**
 * The site rehearsal end to end on the example LAMP site, on real parts: origin MariaDB loaded from the site's dump
 * and sshd, pull-db and pull-web, the import handler against moto, three instances rendered by the boot step and
 * started from their unit files, three HAProxy balancers, k6 running the site's plan, sync-back and the verdict.
 * `npm test` rehearses the nginx front door + php-fpm form with the CLI (scripts/test.sh); this one rehearses the
 * Apache + php-fpm form (web.site.webServer "apache") so both PHP runtimes are carried end to end.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../lib/config';
import { rehearseSite } from '../../src/rehearsal/site';
import { siteRehearsalInputs } from '../../src/rehearsal/site-args';
import { formatSiteReport, SiteRehearsalReport } from '../../src/rehearsal/site-report';

process.env.AWS_EC2_METADATA_DISABLED = 'true';
const ROOT = path.join(__dirname, '..', '..');
const LAMP = path.join(ROOT, 'examples', 'lamp-site');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-site-rehearsal-'));
const out = path.join(tmp, 'out');
let report: SiteRehearsalReport;
let seconds: number;
const logged: string[] = [];

beforeAll(async () => {
  // The example config with Apache behind the front door; its relative paths made absolute for the temp copy.
  const raw = JSON.parse(fs.readFileSync(path.join(LAMP, 'rushhour.config.json'), 'utf8'));
  raw.import.dumpPath = path.join(LAMP, raw.import.dumpPath);
  raw.cost.priceTable = path.join(ROOT, 'pricing', 'us-east-1.json');
  raw.web.site.webServer = 'apache';
  const configFile = path.join(tmp, 'rushhour.config.json');
  fs.writeFileSync(configFile, JSON.stringify(raw));
  const inputs = siteRehearsalInputs(
    {
      originSite: LAMP,
      originDump: path.join(LAMP, 'course-selection-lamp.sql.gz'),
      plan: path.join(LAMP, 'loadtest-plan.json'),
    },
    loadConfig(configFile, { checkFiles: false }),
  )!;
  const t0 = Date.now();
  report = await rehearseSite({
    ...inputs,
    configFile,
    outDir: out,
    peak: 20,
    duration: '10s',
    processesPerBalancer: 1,
    importSliceMs: 2000,
    log: (m) => logged.push(m),
  });
  seconds = (Date.now() - t0) / 1000;
  console.log(`site rehearsal (apache + php-fpm, 10 s rush at 20/s): ${seconds.toFixed(1)} s`);
}, 240000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('the verdict passes with every check made', () => {
  expect(report.verdict.failures).toEqual([]);
  expect(report.verdict.passed).toBe(true);
  expect(report.verdict.complete).toBe(true);
  expect(report.site).toMatchObject({ runtime: 'php', webServer: 'apache', instances: 3, balancers: 3 });
  expect(formatSiteReport(report)).toMatch(/\nVERDICT: PASSED\n/);
  expect(fs.readFileSync(report.files.report, 'utf8')).toBe(formatSiteReport(report));
});

test('every acknowledged write is at the origin after sync-back, and the cloud agrees', () => {
  const account = report.verdict.accounts[0];
  const ok = Object.fromEntries(account.writes.map((w) => [w.name, w.ok]));
  expect(ok.register).toBeGreaterThan(0);
  const [rows] = report.rows;
  expect(rows.count).toBe('SELECT COUNT(*) FROM registrations');
  expect(rows.origin).toBe(rows.cloud);
  expect(rows.origin - rows.before).toBe(ok.register - (ok.drop ?? 0));
  expect(report.syncBack).toMatchObject({ identical: true, rowLevel: true });
});

test('all three balancers carried the rush, through the health-checked front doors', () => {
  expect(report.load.perInstance.map((p) => p.balancer).sort()).toEqual([1, 2, 3]);
  for (const p of report.load.perInstance) expect(p.requests).toBeGreaterThan(0);
  expect(Object.keys(report.load.statusCounts).filter((s) => Number(s) >= 500)).toEqual([]);
  // Apache's own log and the front door's, kept after the instances' trees were removed.
  const logs = fs.readdirSync(path.join(report.files.instanceLogs, '1-1'));
  expect(logs).toEqual(expect.arrayContaining(['nginx-access.log', 'php-fpm.log']));
  expect(logs.some((f) => /^httpd|^apache/.test(f))).toBe(true);
});

test("pull-web took the site's code and left the dump and rushhour's files on the origin (.rushhourignore)", () => {
  const entries = execFileSync('tar', ['-tzf', path.join(out, 'pulled', 'lamp-site.tar.gz')], { encoding: 'utf8' });
  expect(entries).toMatch(/public\/courses\.php/);
  expect(entries).toMatch(/deploy\/config\.php\.tmpl/);
  expect(entries).not.toMatch(/\.sql\.gz|rushhour\.config\.json|loadtest-plan\.json|make-dump\.ts/);
});

test('the steps ran in order, each timed', () => {
  expect(report.steps.map((s) => s.name.trim().slice(0, 2))).toEqual(['1.', '2.', '3.', '4.', '5.', 'dr', '6.']);
  expect(logged.join('\n')).toMatch(/sessions table rushhour_sessions is there/);
  expect(seconds).toBeLessThan(180);
});
