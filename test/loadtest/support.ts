import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { DbConfig, DEFAULT_LIMITS } from '../../app/config';
import { createPool, seed } from '../../app/db';
import { runServer, RunningApp } from '../../app/main';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';
import { freePort } from '../../src/local/ports';

/** A real MariaDB seeded by the app's own seed code, and `apps` app servers on free loopback ports sharing it. */
export interface LocalDeployment {
  readonly db: LocalMariaDb;
  readonly config: DbConfig;
  readonly apps: RunningApp[];
  readonly urls: string[];
  /** One number from SQL run as root against the app database. */
  count(sql: string): number;
  stop(): Promise<void>;
}

export async function startDeployment(opts: { apps?: number; courses?: number; students?: number } = {}): Promise<LocalDeployment> {
  const db = await startMariaDb();
  const apps: RunningApp[] = [];
  try {
    const password = randomBytes(12).toString('hex'); // made up per run: no secret in source
    db.sql('CREATE DATABASE course_selection');
    db.createUser('rushhour_app', password, 'SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, REFERENCES ON course_selection.*');
    const config: DbConfig = { host: '127.0.0.1', port: db.port, user: 'rushhour_app', password, database: 'course_selection' };
    const pool = createPool(config, { size: 2, queueLimit: 10, timeoutMs: 10000 });
    try {
      await seed(pool, { courses: opts.courses ?? 43, students: opts.students ?? 200 });
    } finally {
      await pool.end();
    }
    for (let i = 0; i < (opts.apps ?? 1); i++) {
      apps.push(await runServer({ port: await freePort(), db: config, limits: DEFAULT_LIMITS, logLevel: 'error' }));
    }
    return {
      db, config, apps,
      urls: apps.map((a) => `http://127.0.0.1:${a.port}`),
      count: (sql) => Number(db.sql(sql, 'course_selection').trim()),
      stop: async () => {
        for (const a of apps) await a.close();
        await db.stop();
        fs.rmSync(db.dir, { recursive: true, force: true }); // ~120 MB of datadir per run otherwise stays in /tmp
      },
    };
  } catch (err) {
    for (const a of apps) await a.close().catch(() => undefined);
    await db.stop();
    fs.rmSync(db.dir, { recursive: true, force: true });
    throw err;
  }
}
