import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';
import { LocalMoto, startMoto } from '../../src/local/moto';
import { Browser, TestInstance, killTree, loadLampDatabase, putDbParameters, startInstance } from './support';
import { PHP_QUEUE_PER_WORKER } from '../../src/site/render';

// The same example site with `webServer: apache`: nginx in front, Apache (its .htaccess) behind, PHP
// through php-fpm. Debian's apache2 runs the rendered httpd.conf.

let db: LocalMariaDb;
let moto: LocalMoto;
let inst: TestInstance;
const PREFIX = '/rushhour/lamp-apache/db';

beforeAll(async () => {
  [db, moto] = await Promise.all([startMariaDb(), startMoto()]);
  const app = loadLampDatabase(db, 'courses');
  await putDbParameters(moto, PREFIX, { host: '127.0.0.1', port: db.port, name: 'courses', ...app });
  inst = await startInstance({
    site: {
      runtime: 'php',
      webServer: 'apache',
      documentRoot: 'public',
      configFiles: [{ path: 'config.php', template: 'deploy/config.php.tmpl' }],
      phpWorkers: 2,
    },
    moto,
    ssmPrefix: PREFIX,
    extraFiles: { 'public/slow.php': '<?php usleep((int) ($_GET["ms"] ?? 2000) * 1000); echo "slept";' },
  });
}, 90000);

afterAll(async () => {
  await inst?.stop();
  await Promise.all([db?.stop(), moto?.stop()]);
});

test('pages, login and registration through Apache; the .htaccess rewrite works', async () => {
  const browser = new Browser(inst.url);
  const login = await browser.request('/');
  expect(login.status).toBe(200);
  const courses = await browser.go('/index.php', {
    form: { csrf: browser.csrf(login.text), student_no: 'S0000011', password: 'pw-S0000011' },
  });
  expect(courses.text).toContain('Courses for Student 11');
  const done = await browser.go('/register.php', { form: { csrf: browser.csrf(courses.text), course_id: '3' } });
  expect(done.text).toContain('Registered.');
  expect(db.sql('SELECT COUNT(*) FROM registrations WHERE student_id = 11', 'courses').trim()).toBe('1');
  // /course/3 exists only through public/.htaccess (mod_rewrite).
  const pretty = await fetch(`${inst.url}/course/3`);
  expect(pretty.status).toBe(200);
  expect(await pretty.text()).toMatch(/Seats left: \d+ of \d+/);
  expect((await fetch(`${inst.url}/.htaccess`)).status).toBe(404);
});

test('the health path goes through Apache to php-fpm; the site is shed beyond capacity', async () => {
  const health = await fetch(`${inst.url}/healthz`);
  expect(health.status).toBe(200);
  expect(await health.text()).toMatch(/^ok php/);
  // 2 workers and PHP_QUEUE_PER_WORKER more per worker waiting in php-fpm's backlog; the next one is shed.
  const admitted = 2 * (1 + PHP_QUEUE_PER_WORKER);
  const slow = Array.from({ length: admitted }, () => fetch(`${inst.url}/slow.php?ms=1000`).then((r) => r.status));
  await new Promise((r) => setTimeout(r, 400));
  const shed = await fetch(`${inst.url}/slow.php`);
  expect(shed.status).toBe(503);
  expect(shed.headers.get('retry-after')).toBe('5');
  expect((await fetch(`${inst.url}/healthz`)).status).toBe(200);
  expect(await Promise.all(slow)).toEqual(Array.from({ length: admitted }, () => 200));
  await killTree(inst.processes['rushhour-apache']);
  expect((await fetch(`${inst.url}/healthz`)).status).not.toBe(200);
});
