/**
 * The load plan for any site: validation that names the bad field, the pure parts of the k6 scenario, the verdict,
 * and real k6 runs (a few seconds each, loopback) against a small PHP-shaped site on a real MariaDB: a correct site
 * passes with every write accounted for exactly; one that acknowledges writes it never makes fails with LOST rows;
 * sheds are counted apart from other 5xx.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expand, judge, drawVar, resolveLocation, scrapeValue, urlencode } from '../../loadtest/lib/site-logic';
import { parseSitePlan, readSitePlan, scaleRush, SitePlanError, SitePlanInput } from '../../loadtest/lib/site-plan';
import { runSiteLoadTest } from '../../loadtest/lib/site-runner';
import { siteVerdict, SiteVerdictInput } from '../../loadtest/lib/site-verdict';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';
import { startTestSite, TestSite } from './site-server';

const CSRF = 'name="csrf" value="([0-9a-f]+)"';
const MINE = 'name="course_id" value="(\\d+)"';

/** A plan for the test site: log in with a CSRF token, read the course page, register, drop, leave feedback. */
function testPlan(over: Partial<SitePlanInput> = {}): SitePlanInput {
  return {
    name: 'test site',
    vars: {
      student: { kind: 'range', min: 1, max: 50, pad: 4, per: 'vu', order: 'by-vu' },
      course: { kind: 'range', min: 1, max: 10 },
      author: { kind: 'name' },
      topic: { kind: 'pick', from: ['food', 'rooms'], weights: [3, 1] },
    },
    login: {
      steps: [
        { name: 'login page', path: '/login', scrape: { csrf: CSRF } },
        {
          name: 'log in',
          method: 'POST',
          path: '/login',
          form: { csrf: '{{csrf}}', student_no: 'S{{student}}', password: 'pw-S{{student}}' },
          success: { text: 'Courses for' },
        },
      ],
    },
    pages: [{ name: 'courses', path: '/courses', weight: 3, scrape: { mine: MINE } }],
    writes: [
      {
        name: 'register',
        path: '/register',
        weight: 3,
        form: { csrf: '{{csrf}}', course_id: '{{course}}' },
        success: { text: 'Registered.' },
        scrape: { mine: MINE },
        rows: { count: 'SELECT COUNT(*) FROM registrations' },
      },
      {
        name: 'drop',
        path: '/drop',
        weight: 1,
        form: { csrf: '{{csrf}}', course_id: '{{mine}}' },
        success: { text: 'Dropped.' },
        scrape: { mine: MINE },
        rows: { count: 'SELECT COUNT(*) FROM registrations', perSuccess: -1 },
      },
      {
        name: 'feedback',
        path: '/feedback',
        weight: 1,
        form: { csrf: '{{csrf}}', author: '{{author}}', topic: '{{topic}}' },
        success: { status: 201 },
        rows: { count: 'SELECT COUNT(*) FROM feedback' },
      },
    ],
    rush: {
      startRate: 5,
      stages: [
        { target: 30, duration: '2s' },
        { target: 30, duration: '2s' },
      ],
    },
    ...over,
  };
}

function issuesOf(input: unknown): string[] {
  try {
    parseSitePlan(input, 'plan.json');
  } catch (err) {
    expect(err).toBeInstanceOf(SitePlanError);
    expect((err as SitePlanError).name).toBe('SitePlanError');
    return (err as SitePlanError).issues.map((i) => `${i.field}: ${i.message}`);
  }
  throw new Error('the plan was accepted');
}

describe('plan validation names the field', () => {
  test('a good plan resolves with its defaults', () => {
    const p = parseSitePlan(testPlan());
    expect(p.writes[0].method).toBe('POST');
    expect(p.writes[0].rows.perSuccess).toBe(1);
    expect(p.pages[0].method).toBe('GET');
    expect(p.thresholds).toEqual({ http_req_duration: ['p(95)<500'], http_req_failed: ['rate<0.01'] });
    expect(p.rush).toMatchObject({ peak: 30, totalSeconds: 4, maxVUs: 60, preAllocatedVUs: 5 });
  });

  test('the example LAMP site plan is valid', () => {
    const p = readSitePlan(path.join(__dirname, '..', '..', 'examples', 'lamp-site', 'loadtest-plan.json'));
    expect(p.writes.map((w) => [w.name, w.rows.perSuccess])).toEqual([
      ['register', 1],
      ['drop', -1],
    ]);
  });

  test('bad fields, each named by its path', () => {
    const plan = testPlan() as Record<string, unknown> & ReturnType<typeof testPlan>;
    const bad = {
      ...plan,
      vars: { ...plan.vars, Course: { kind: 'range', min: 5, max: 1 }, seq: { kind: 'counter' } },
      pages: [{ name: 'x', path: 'courses', weight: 0, form: { a: '1' } }],
      writes: [
        { ...plan.writes![0], rows: { count: 'DELETE FROM registrations' } },
        { ...plan.writes![1], name: 'register', success: {} },
        { ...plan.writes![2], name: 'Feed-back', success: { location: '/x', text: 'y' } },
      ],
      rush: { stages: [{ target: 10, duration: '10 minutes' }] },
      thresholds: { 'http req': ['p(95)<1'] },
      extra: true,
    };
    const issues = issuesOf(bad);
    const fields = issues.map((i) => i.slice(0, i.indexOf(':')));
    expect(fields).toEqual(
      expect.arrayContaining([
        'vars.Course',
        'vars.seq.kind',
        'pages[0].path',
        'pages[0].weight',
        'writes[0].rows.count',
        'writes[1].success',
        'writes[2].name',
        'writes[2].success',
        'rush.stages[0].duration',
        'thresholds.http req',
        '(plan)',
      ]),
    );
    expect(issues.join('\n')).toMatch(/writes\[0\]\.rows\.count: count must be one SELECT/);
    expect(issues.join('\n')).toMatch(/\(plan\): Unrecognized key: "extra"/);
  });

  test('cross-field rules: unknown placeholders, duplicate writes, a GET with a form, a scrape without a group', () => {
    const plan = testPlan();
    const issues = issuesOf({
      ...plan,
      pages: [{ name: 'p', path: '/c/{{nope}}', weight: 1, form: { a: 'b' }, scrape: { tok: 'value="[0-9]+"' } }],
      writes: [plan.writes![0], { ...plan.writes![0], form: { course_id: '{{missing}}' } }],
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^pages\[0\]\.method: a GET has no body/),
        expect.stringMatching(/^pages\[0\]\.scrape\.tok: the regex needs a capture group/),
        expect.stringMatching(/^writes\[1\]\.name: write "register" is named twice/),
        expect.stringMatching(/^writes\[1\]\.form\.course_id: \{\{missing\}\} is not a variable/),
        expect.stringMatching(/^pages\[0\]\.path: \{\{nope\}\} is not a variable/),
      ]),
    );
  });

  test('a file that is not JSON names the file', () => {
    const f = path.join(os.tmpdir(), `plan-${process.pid}.json`);
    fs.writeFileSync(f, '{ "name": ');
    expect(() => readSitePlan(f)).toThrow(new RegExp(`${f.replace(/[.]/g, '\\.')}: the load plan is not valid`));
    fs.rmSync(f);
  });

  test('scaleRush keeps the shape and recomputes the VU bounds', () => {
    const p = scaleRush(parseSitePlan(testPlan()), { peak: 300, duration: '40s' });
    expect(p.rush.stages).toEqual([
      { target: 300, duration: '20s' },
      { target: 300, duration: '20s' },
    ]);
    expect(p.rush).toMatchObject({ startRate: 50, peak: 300, maxVUs: 600, preAllocatedVUs: 30 });
  });
});

describe('the scenario logic', () => {
  test('templates, variables, forms, scrapes and redirects', () => {
    expect(expand('S{{student}}-{{ vu }}', { student: '0007', vu: '3' })).toBe('S0007-3');
    expect(expand('{{mine}}', { mine: undefined })).toBeUndefined();
    const r = () => 0.999;
    expect(drawVar({ kind: 'range', min: 1, max: 300, pad: 7, per: 'vu', order: 'by-vu' }, 302, r)).toBe('0000002');
    expect(drawVar({ kind: 'range', min: 10, max: 12, per: 'request', order: 'random' }, 1, r)).toBe('12');
    expect(drawVar({ kind: 'pick', from: ['a', 'b'], weights: [1, 99], per: 'request' }, 1, () => 0.02)).toBe('b');
    expect(drawVar({ kind: 'name', per: 'vu' }, 1, () => 0)).toMatch(/^\S+ \S+$/);
    expect(urlencode({ csrf: 'a b', n: 'ä&' })).toBe('csrf=a+b&n=%C3%A4%26');
    expect(scrapeValue('value="1" value="2"', 'value="(\\d)"', () => 0.99)).toBe('2');
    expect(scrapeValue('nothing', 'value="(\\d)"', () => 0)).toBeUndefined();
    expect(resolveLocation('http://h:1/app/register.php', 'courses.php')).toBe('http://h:1/app/courses.php');
    expect(resolveLocation('http://h:1/app/x/register.php', '../index.php?a=1')).toBe('http://h:1/app/index.php?a=1');
    expect(resolveLocation('http://h:1/a/b', '/c')).toBe('http://h:1/c');
    expect(resolveLocation('http://h:1/a/b', 'http://o:2/d')).toBe('http://o:2/d');
  });

  test('judge: ok, failed (the site said no, or the front door shed it) and unconfirmed (nobody can tell)', () => {
    const redirect = { status: 302, headers: { Location: 'courses.php' } };
    const page = (body: string, status = 200) => ({ status, headers: {}, body });
    const registered = { text: 'Registered.' };
    expect(judge(registered, [redirect, page('<p>Registered.</p>')])).toBe('ok');
    expect(judge(registered, [redirect, page('<p>That course is full.</p>')])).toBe('failed');
    expect(judge(registered, [{ status: 503, headers: { 'Retry-After': '5' } }])).toBe('failed');
    expect(judge(registered, [{ status: 503, headers: {} }])).toBe('unconfirmed');
    expect(judge(registered, [{ status: 0, headers: {} }])).toBe('unconfirmed');
    expect(judge(registered, [redirect, { status: 503, headers: { 'Retry-After': '5' } }])).toBe('unconfirmed');
    expect(judge(registered, [page('bad request', 400)])).toBe('failed');
    expect(judge({ location: 'courses' }, [redirect])).toBe('ok');
    expect(judge({ location: 'index' }, [redirect])).toBe('failed');
    expect(judge({ status: 201 }, [page('', 201)])).toBe('ok');
    expect(judge({ status: [200, 201], notText: 'error' }, [page('an error', 200)])).toBe('failed');
    expect(judge(undefined, [page('', 404)])).toBe('failed');
  });
});

describe('the verdict', () => {
  const plan = parseSitePlan(testPlan());
  const REG = 'SELECT COUNT(*) FROM registrations';
  const FB = 'SELECT COUNT(*) FROM feedback';
  const good: SiteVerdictInput = {
    writes: plan.writes,
    k6ExitCode: 0,
    thresholds: [{ metric: 'http_req_failed', threshold: 'rate<0.01', ok: true }],
    counters: {
      site_sheds: 4,
      site_server_errors: 0,
      site_no_answer: 0,
      write_register: 10,
      write_drop: 3,
      write_feedback: 5,
    },
    syncBackProved: true,
    rows: { before: { [REG]: 100, [FB]: 0 }, after: { [REG]: 107, [FB]: 5 } },
  };
  const failures = (over: Partial<SiteVerdictInput>) => siteVerdict({ ...good, ...over }).failures;

  test('every check passed: thresholds, sheds apart, sync-back, writes accounted exactly', () => {
    const v = siteVerdict(good);
    expect(v.failures).toEqual([]);
    expect([v.passed, v.complete, v.sheds, v.serverErrors]).toEqual([true, true, 4, 0]);
    expect(v.accounts.map((a) => [a.count, a.expected, a.delta, a.state])).toEqual([
      [REG, 7, 7, 'passed'],
      [FB, 5, 5, 'passed'],
    ]);
  });

  test('a lost write, a row nobody acknowledged, and the window of unconfirmed writes', () => {
    expect(failures({ rows: { before: good.rows!.before, after: { [REG]: 106, [FB]: 5 } } })).toEqual([
      expect.stringMatching(/^accounting: .*registrations: 106 - 100 = 6 rows, .* = 7: LOST 1 acknowledged row/),
    ]);
    expect(failures({ rows: { before: good.rows!.before, after: { [REG]: 107, [FB]: 6 } } })).toEqual([
      expect.stringMatching(/feedback: 6 - 0 = 6 rows.*1 row\(s\) that no success accounts for/),
    ]);
    // Two registrations and one drop whose answers were lost may or may not be there: 6..9 rows are honest.
    const unconfirmed = { ...good.counters, write_register_unconfirmed: 2, write_drop_unconfirmed: 1 };
    for (const [rows, ok] of [
      [105, false],
      [106, true],
      [109, true],
      [110, false],
    ] as const)
      expect(
        siteVerdict({
          ...good,
          counters: unconfirmed,
          rows: { before: good.rows!.before, after: { [REG]: rows, [FB]: 5 } },
        }).passed,
      ).toBe(ok);
  });

  test('5xx that are not sheds, crossed thresholds, a failed sync-back, k6 errors, a write that never succeeded', () => {
    expect(failures({ counters: { ...good.counters, site_server_errors: 2 } })).toEqual([
      expect.stringMatching(/^server errors: 2 5xx that were not the front door's sheds; 4 sheds/),
    ]);
    expect(
      failures({ k6ExitCode: 99, thresholds: [{ metric: 'http_req_duration', threshold: 'p(95)<5', ok: false }] }),
    ).toEqual(['thresholds: crossed: http_req_duration p(95)<5']);
    expect(failures({ syncBackProved: false })).toEqual(['sync-back: the origin differs from the cloud database']);
    expect(failures({ k6ExitCode: 107 })).toEqual(['k6: k6 exited with 107 (not a threshold failure)']);
    const { write_drop: _d, ...noDrop } = good.counters;
    expect(failures({ counters: noDrop, rows: { before: good.rows!.before, after: { [REG]: 110, [FB]: 5 } } })).toEqual(
      ['writes: no success for drop: the rush proved nothing about it'],
    );
    // Counters missing: k6 never reached teardown, nothing can be accounted for.
    expect(failures({ counters: {} })).toEqual(
      expect.arrayContaining([
        'k6: k6 did not reach teardown: its counters are missing',
        'accounting: k6 did not finish: successes unknown',
      ]),
    );
  });

  test('without sync-back or row counts it passes but says what it did not check', () => {
    const v = siteVerdict({ ...good, syncBackProved: undefined, rows: undefined });
    expect([v.passed, v.complete]).toEqual([true, false]);
    expect(v.checks.filter((c) => c.state === 'not checked').map((c) => c.name)).toEqual(['sync-back', 'accounting']);
  });
});

describe('real k6 runs against a site on MariaDB', () => {
  let db: LocalMariaDb;
  let site: TestSite;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-site-plan-'));

  beforeAll(async () => {
    db = await startMariaDb();
  });
  beforeEach(async () => {
    site = await startTestSite(db, `site_${Math.random().toString(36).slice(2, 8)}`);
  });
  afterEach(async () => site?.stop());
  afterAll(async () => {
    await db?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('a correct site: log in with CSRF, cookies kept, every acknowledged write counted exactly', async () => {
    const r = await runSiteLoadTest({
      plan: parseSitePlan(testPlan()),
      targets: [site.url],
      outDir: path.join(tmp, 'good'),
      countRows: site.count,
    });
    expect(r.verdict.failures).toEqual([]);
    expect(r.verdict.passed).toBe(true);
    expect(r.counters.site_login_failed).toBe(0);
    expect(r.counters.write_register).toBeGreaterThan(5);
    expect(r.counters.write_feedback).toBeGreaterThan(1);
    // The rows really are there: the database agrees with k6's counts, from the runner's own count.
    expect(await site.count('SELECT COUNT(*) FROM registrations')).toBe(
      r.counters.write_register - r.counters.write_drop,
    );
    expect(r.rows?.before).toEqual({ 'SELECT COUNT(*) FROM registrations': 0, 'SELECT COUNT(*) FROM feedback': 0 });
    expect(r.analysis.byName['log in'].requests).toBeLessThanOrEqual(r.plan.rush.maxVUs);
    expect(fs.readFileSync(r.files.summaryText, 'utf8')).toMatch(/VERDICT: PASSED/);
  }, 60000);

  test('a site that acknowledges registrations it never writes fails with LOST rows', async () => {
    site.faults.loseEvery = 4;
    const r = await runSiteLoadTest({
      plan: parseSitePlan(testPlan({ writes: testPlan().writes!.filter((w) => w.name === 'register') })),
      targets: [site.url],
      outDir: path.join(tmp, 'lose'),
      countRows: site.count,
    });
    expect(r.verdict.passed).toBe(false);
    expect(r.verdict.failures).toEqual([expect.stringMatching(/^accounting: .*LOST \d+ acknowledged row/)]);
    const a = r.verdict.accounts[0];
    expect(a.expected - a.delta!).toBeGreaterThanOrEqual(Math.floor(r.counters.write_register / 4) - 1);
  }, 60000);

  test('sheds (503 with Retry-After) are counted apart; a bare 500 fails the verdict', async () => {
    site.faults.shedEvery = 7;
    site.faults.failEvery = 11;
    const r = await runSiteLoadTest({
      plan: parseSitePlan(testPlan({ thresholds: { http_req_failed: ['rate<0.5'] } })),
      targets: [site.url],
      outDir: path.join(tmp, 'shed'),
      countRows: site.count,
    });
    expect(r.counters.site_sheds).toBeGreaterThan(0);
    expect(r.counters.site_server_errors).toBeGreaterThan(0);
    expect(r.analysis.statusCounts['503']).toBe(r.counters.site_sheds);
    expect(r.analysis.statusCounts['500']).toBe(r.counters.site_server_errors);
    expect(r.verdict.failures).toEqual([expect.stringMatching(/^server errors: \d+ 5xx that were not/)]);
    // Writes whose redirect target was shed are unconfirmed, and the accounting allows exactly those.
    expect(r.verdict.checks.find((c) => c.name === 'accounting')!.state).toBe('passed');
  }, 60000);
});
