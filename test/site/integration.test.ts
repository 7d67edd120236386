import * as fs from 'node:fs';
import * as path from 'node:path';
import { RushhourConfigSchema } from '../../lib/config';
import { startMariaDb } from '../../src/local/mariadb';
import { ensureSessionsTable } from '../../src/site/sessions-table';

const example = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', '..', 'examples', 'rushhour.config.json'), 'utf8'),
) as Record<string, Record<string, unknown>>;
const withWeb = (web: Record<string, unknown>) => ({ ...example, web: { ...example.web, ...web } });

test('web.site in the rushhour config: validated, errors name the field; port 80 only with the front door', () => {
  const ok = RushhourConfigSchema.parse(
    withWeb({ port: 80, bundlePath: 'site.tar.gz', site: { runtime: 'php', documentRoot: 'public' } }),
  );
  expect(ok.web.site).toMatchObject({ runtime: 'php', phpVersion: '8.3', webServer: 'nginx', sessions: 'database' });
  const noSite = RushhourConfigSchema.safeParse(withWeb({ port: 80 }));
  expect(noSite.success).toBe(false);
  expect(noSite.error!.issues[0].path).toEqual(['web', 'port']);
  const bad = RushhourConfigSchema.safeParse(withWeb({ site: { runtime: 'php', phpVersion: '5.6' } }));
  expect(bad.error!.issues[0].path.join('.')).toMatch(/^web\.site\.phpVersion/);
});

test('the import creates the sessions table with the master user, idempotently', async () => {
  const db = await startMariaDb();
  try {
    db.sql('CREATE DATABASE site');
    db.createRdsLikeMaster('master', 'master-pw-for-test');
    const target = {
      host: '127.0.0.1',
      port: db.port,
      user: 'master',
      password: 'master-pw-for-test',
      database: 'site',
    };
    expect(await ensureSessionsTable(target)).toBe('rushhour_sessions');
    await ensureSessionsTable(target);
    expect(db.sql("SHOW TABLES LIKE 'rushhour_sessions'", 'site').trim()).toBe('rushhour_sessions');
  } finally {
    await db.stop();
  }
});
