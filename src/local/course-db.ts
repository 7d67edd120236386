import { randomBytes } from 'node:crypto';
import { DbConfig } from '../../app/config';
import { createPool, seed, SeedOptions } from '../../app/db';
import { LocalMariaDb } from './mariadb';

export interface SeedCourseDatabaseOptions extends Partial<SeedOptions> {
  /** @default 'course_selection' */
  readonly database?: string;
  /** The app user's privileges on the database. @default what the app and its migrations need */
  readonly privileges?: string;
}

/**
 * Creates the course-selection database on a local MariaDB, an app user whose password is made up per
 * run (no secret in source), and the reference data from the app's own migration and seed.
 */
export async function seedCourseDatabase(db: LocalMariaDb, options: SeedCourseDatabaseOptions = {}): Promise<DbConfig> {
  const database = options.database ?? 'course_selection';
  const password = randomBytes(12).toString('hex');
  db.sql(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4`);
  db.createUser(
    'rushhour_app',
    password,
    `${options.privileges ?? 'SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, REFERENCES, CREATE ROUTINE, ALTER ROUTINE, EXECUTE'} ON \`${database}\`.*`,
  );
  const config: DbConfig = { host: db.host, port: db.port, user: 'rushhour_app', password, database };
  const pool = createPool(config, { size: 2, queueLimit: 10, timeoutMs: 30000 });
  try {
    await seed(pool, {
      courses: options.courses ?? 43,
      students: options.students ?? 400,
      seats: options.seats,
      reset: options.reset,
    });
  } finally {
    await pool.end();
  }
  return config;
}
