import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderEnvFile } from '../../src/site/env-file';
import { al2023Packages, renderInstallLines } from '../../src/site/packages';
import { al2023Layout } from '../../src/site/layout';
import { renderSite } from '../../src/site/render';
import { SiteConfigError, parseSite } from '../../src/site/schema';
import { phpPoolSize } from '../../src/site/sizing';
import { WireDbError, readDbSettings, renderTemplate } from '../../src/site/wire-db';

const layout = al2023Layout({ port: 80, vcpus: 2, memoryMiB: 1910 });
const spec = (site: unknown) => ({
  site: parseSite(site),
  ssmPrefix: '/rushhour/s/db',
  region: 'eu-west-1',
  healthCheckPath: '/healthz',
  layout,
});

test('config errors name the field', () => {
  expect(() => parseSite({ runtime: 'php', phpVersion: '7.4' })).toThrow(/web\.site\.phpVersion/);
  expect(() => parseSite({ runtime: 'node', nodeVersion: '20', startCommand: 'node s.js' })).toThrow(
    /web\.site\.nodeVersion/,
  );
  expect(() => parseSite({ runtime: 'php', configFiles: [{ path: '../etc/passwd', template: 't' }] })).toThrow(
    SiteConfigError,
  );
  expect(() => parseSite({ runtime: 'perl' })).toThrow(/web\.site\.runtime/);
});

test('the php-fpm pool rule: 8 per vCPU, 48 MiB each after the reserve, overridable', () => {
  expect(phpPoolSize({ vcpus: 2, memoryMiB: 2048 })).toBe(16); // t3.small
  expect(phpPoolSize({ vcpus: 2, memoryMiB: 1024 })).toBe(13); // t3.micro
  expect(phpPoolSize({ vcpus: 2, memoryMiB: 1024, apache: true })).toBe(9);
  expect(phpPoolSize({ vcpus: 8, memoryMiB: 32768 })).toBe(64);
  expect(phpPoolSize({ vcpus: 1, memoryMiB: 512 })).toBe(2);
  expect(phpPoolSize({ vcpus: 2, memoryMiB: 2048 }, 40)).toBe(40);
});

test('the env file carries any password byte for byte through bash', () => {
  const nasty = `a'b"c$HOME%d\\e\`x\` $(id) \n;#end`;
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-env-')), 'site.env');
  fs.writeFileSync(file, renderEnvFile({ DB_PASSWORD: nasty, DB_HOST: 'h' }));
  const out = execFileSync('/bin/bash', ['-c', `set -a && . ${file} && printf %s "$DB_PASSWORD"`], {
    encoding: 'utf8',
  });
  expect(out).toBe(nasty);
});

test('templates: known placeholders filled as they are, unknown ones refused', () => {
  expect(renderTemplate("'{{DB_HOST}}':{{ DB_PORT }}", { DB_HOST: 'db', DB_PORT: '3306' }, 't')).toBe("'db':3306");
  expect(() => renderTemplate('{{DB_HSOT}}', { DB_HOST: 'db' }, 'deploy/config.php.tmpl')).toThrow(
    /deploy\/config\.php\.tmpl: unknown placeholder\(s\) \{\{DB_HSOT\}\}/,
  );
});

test('missing SSM parameters fail naming them, without a value', async () => {
  const edge = { getParameters: async () => ({ '/p/host': 'h' }), getSecretString: async () => '{}' };
  await expect(readDbSettings(edge, '/p')).rejects.toThrow(WireDbError);
  await expect(readDbSettings(edge, '/p')).rejects.toThrow(/\/p\/port, \/p\/name, \/p\/user, \/p\/password-secret-arn/);
});

test('php units: database wiring before every start, env file sourced, no secret or ARN anywhere', () => {
  const r = renderSite(spec({ runtime: 'php', configFiles: [{ path: 'config.php', template: 'c.tmpl' }] }));
  const unit = r.files.find((f) => f.path === '/etc/systemd/system/rushhour-site.service')!.content;
  expect(unit).toContain(
    'ExecStartPre=+/usr/bin/node-22 /opt/rushhour/lib/site-boot.js wire-db --site /etc/rushhour/site.json',
  );
  expect(unit).toMatch(
    /^ExecStart=\/bin\/bash -c "set -a && \. \/etc\/rushhour\/site\.env .*\/usr\/sbin\/php-fpm --nodaemonize/m,
  );
  // 16 workers (t3.small) and a queue of 7 per worker in php-fpm's backlog (PHP_QUEUE_PER_WORKER).
  expect(r.maxInFlight).toBe(128);
  const nginx = r.files.find((f) => f.path === '/etc/rushhour/nginx.conf')!.content;
  expect(nginx).toContain('listen 80 default_server;');
  expect(nginx).toContain('server unix:/run/rushhour/php-site.sock max_conns=128;');
  expect(nginx).toContain('zone rushhour_site 64k;');
  const fpm = r.files.find((f) => f.path === '/etc/rushhour/php-fpm.conf')!.content;
  expect(fpm).toContain('pm.max_children = 16');
  expect(fpm).toContain('env[RDS_PASSWORD] = $RDS_PASSWORD');
  expect(fpm).toContain('clear_env = yes');
  for (const f of r.files) expect(f.content).not.toMatch(/arn:aws|password\s*=|secretsmanager/i);
});

test('node runtime: nginx proxies to the local port with the in-flight limit; the process drops to the site user', () => {
  const r = renderSite(
    spec({ runtime: 'node', nodeVersion: '24', startCommand: 'node server.js', staticDir: 'public' }),
  );
  const nginx = r.files.find((f) => f.path === '/etc/rushhour/nginx.conf')!.content;
  expect(nginx).toContain('server 127.0.0.1:8081 max_conns=128;');
  expect(nginx).toContain('try_files $uri @site;');
  const unit = r.files.find((f) => f.path === '/etc/systemd/system/rushhour-site.service')!.content;
  expect(unit).toContain('/usr/bin/setpriv --reuid=rushhour --regid=rushhour');
  expect(unit).toContain('Environment=PORT=8081');
  expect(unit).not.toMatch(/^User=/m);
});

test('AL2023 packages per runtime, installed with retries', () => {
  expect(
    al2023Packages(parseSite({ runtime: 'php', phpVersion: '8.4', webServer: 'apache', extensions: ['gd'] })),
  ).toEqual([
    'nginx',
    'nodejs22',
    'php8.4-fpm',
    'php8.4-cli',
    'php8.4-common',
    'php8.4-mysqlnd',
    'php8.4-pdo',
    'php8.4-mbstring',
    'php8.4-opcache',
    'php8.4-gd',
    'httpd',
  ]);
  expect(al2023Packages(parseSite({ runtime: 'node', nodeVersion: '24', startCommand: 'x' }))).toContain('nodejs24');
  const lines = renderInstallLines(['nginx', 'nodejs22']).join('\n');
  expect(lines).toContain('dnf install -y nginx nodejs22');
  expect(() => renderInstallLines(['x; rm -rf /'])).toThrow(/not a dnf package name/);
});
