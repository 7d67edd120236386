import { DbConfig, DEFAULT_LIMITS } from '../../app/config';
import { runServer, RunningApp } from '../../app/main';
import { seedCourseDatabase } from '../../src/local/course-db';
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

export async function startDeployment(
  opts: { apps?: number; courses?: number; students?: number } = {},
): Promise<LocalDeployment> {
  const db = await startMariaDb();
  const apps: RunningApp[] = [];
  try {
    const config = await seedCourseDatabase(db, { courses: opts.courses ?? 43, students: opts.students ?? 200 });
    for (let i = 0; i < (opts.apps ?? 1); i++) {
      apps.push(await runServer({ port: await freePort(), db: config, limits: DEFAULT_LIMITS, logLevel: 'error' }));
    }
    return {
      db,
      config,
      apps,
      urls: apps.map((a) => `http://127.0.0.1:${a.port}`),
      count: (sql) => Number(db.sql(sql, 'course_selection').trim()),
      stop: async () => {
        for (const a of apps) await a.close();
        await db.stop();
      },
    };
  } catch (err) {
    for (const a of apps) await a.close().catch(() => undefined);
    await db.stop();
    throw err;
  }
}
