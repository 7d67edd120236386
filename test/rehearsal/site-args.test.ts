/**
 * Which rehearsal runs, decided from the flags and the config before anything starts: the reference app, or the
 * operator's site with all three site flags. Real files (the example LAMP site), the real plan parser, and the
 * command as the operator types it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../lib/config';
import { SitePlanError } from '../../loadtest/lib/site-plan';
import { RehearseArgsError, siteRehearsalInputs } from '../../src/rehearsal/site-args';

const ROOT = path.join(__dirname, '..', '..');
const LAMP = path.join(ROOT, 'examples', 'lamp-site');
const lampConfig = loadConfig(path.join(LAMP, 'rushhour.config.json'), { checkFiles: false });
const referenceConfig = loadConfig(path.join(ROOT, 'examples', 'rushhour.config.json'), { checkFiles: false });
const flags = {
  originSite: 'examples/lamp-site',
  originDump: 'examples/lamp-site/course-selection-lamp.sql.gz',
  plan: 'examples/lamp-site/loadtest-plan.json',
};
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-rehearse-args-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function refusal(fn: () => unknown): RehearseArgsError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RehearseArgsError);
    return err as RehearseArgsError;
  }
  throw new Error('expected a RehearseArgsError');
}

test('no site flag and a config without web.site: the reference rehearsal, as before', () => {
  expect(siteRehearsalInputs({}, referenceConfig, ROOT)).toBeUndefined();
  expect(siteRehearsalInputs({ students: 300 }, referenceConfig, ROOT)).toBeUndefined();
});

test('all three flags and a site config: resolved paths and the parsed plan', () => {
  const inputs = siteRehearsalInputs(flags, lampConfig, ROOT)!;
  expect(inputs.originSite).toBe(LAMP);
  expect(inputs.originDump).toBe(path.join(LAMP, 'course-selection-lamp.sql.gz'));
  expect(inputs.planFile).toBe(path.join(LAMP, 'loadtest-plan.json'));
  expect(inputs.plan.writes.map((w) => w.name)).toEqual(['register', 'drop']);
});

test('a site config without the flags is refused instead of rehearsing the reference app against it', () => {
  const e = refusal(() => siteRehearsalInputs({}, lampConfig, ROOT));
  expect(e.flag).toBe('--origin-site');
  expect(e.message).toMatch(/names a php site \(web\.site\).*--origin-site DIR --origin-dump FILE --plan FILE/);
});

test('the site flags go together: the missing one is named', () => {
  const e = refusal(() => siteRehearsalInputs({ originSite: flags.originSite, plan: flags.plan }, lampConfig, ROOT));
  expect(e.flag).toBe('--origin-dump');
  expect(e.message).toMatch(/required with --origin-site and --plan/);
  expect(refusal(() => siteRehearsalInputs({ plan: flags.plan }, lampConfig, ROOT)).flag).toBe('--origin-site');
});

test('site flags with a config that has no web.site, or with --students, are refused', () => {
  expect(refusal(() => siteRehearsalInputs(flags, referenceConfig, ROOT)).message).toMatch(/no web\.site/);
  const e = refusal(() => siteRehearsalInputs({ ...flags, students: 100 }, lampConfig, ROOT));
  expect(e.flag).toBe('--students');
});

test('paths that are not what they must be are refused, naming the flag and the path', () => {
  const file = path.join(tmp, 'not-a-dir.txt');
  fs.writeFileSync(file, 'x');
  expect(refusal(() => siteRehearsalInputs({ ...flags, originSite: file }, lampConfig, ROOT)).message).toBe(
    `--origin-site: not a directory: ${file}`,
  );
  expect(refusal(() => siteRehearsalInputs({ ...flags, originDump: file }, lampConfig, ROOT)).message).toMatch(
    /^--origin-dump: must name a \.sql or \.sql\.gz/,
  );
  const gone = path.join(tmp, 'gone.sql.gz');
  expect(refusal(() => siteRehearsalInputs({ ...flags, originDump: gone }, lampConfig, ROOT)).message).toBe(
    `--origin-dump: file not found: ${gone}`,
  );
  expect(
    refusal(() => siteRehearsalInputs({ ...flags, plan: path.join(tmp, 'nope.json') }, lampConfig, ROOT)).flag,
  ).toBe('--plan');
});

test("a plan with a wrong field fails with the plan's own error, naming the field", () => {
  const plan = JSON.parse(fs.readFileSync(path.join(LAMP, 'loadtest-plan.json'), 'utf8'));
  plan.writes[0].rows.count = 'DELETE FROM registrations';
  const bad = path.join(tmp, 'bad-plan.json');
  fs.writeFileSync(bad, JSON.stringify(plan));
  let err: unknown;
  try {
    siteRehearsalInputs({ ...flags, plan: bad }, lampConfig, ROOT);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SitePlanError);
  expect((err as Error).message).toMatch(/writes\[0\]\.rows\.count/);
});

test('the command refuses a bad combination at once, before starting anything', () => {
  const t0 = Date.now();
  const r = spawnSync(
    process.execPath,
    [
      path.join(ROOT, 'bin', 'rushhour.js'),
      'rehearse',
      '--config',
      path.join(LAMP, 'rushhour.config.json'),
      '--out',
      path.join(tmp, 'out'),
    ],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' } },
  );
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/--origin-site: the config names a php site/);
  expect(r.stdout).not.toMatch(/== 1\./);
  expect(fs.existsSync(path.join(tmp, 'out'))).toBe(false);
  expect(Date.now() - t0).toBeLessThan(30000);
});
