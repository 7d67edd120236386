import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { dbConfigFromEnv, dbConfigFromSsm, limitsFromEnv } from '../../app/config';
import { startMoto } from '../../src/local/moto';
import { freePort, waitForPort } from '../../src/local/ports';
import { startSeededDb } from './support';

const CLI = path.join(__dirname, '..', '..', 'bin', 'rushhour.js');

describe('configuration', () => {
  test('environment: missing DB settings are named, the port is checked', () => {
    expect(() => dbConfigFromEnv({ DB_HOST: 'h' })).toThrow(
      'database settings missing: set DB_USER, DB_PASSWORD, DB_NAME',
    );
    expect(() => dbConfigFromEnv({ DB_HOST: 'h', DB_USER: 'u', DB_PASSWORD: 'p', DB_NAME: 'd', DB_PORT: 'x' })).toThrow(
      /DB_PORT must be a TCP port/,
    );
    expect(dbConfigFromEnv({ DB_HOST: 'h', DB_USER: 'u', DB_PASSWORD: 'p', DB_NAME: 'd' }).port).toBe(3306);
    expect(() => limitsFromEnv({ RUSHHOUR_MAX_IN_FLIGHT: '0' })).toThrow(
      /RUSHHOUR_MAX_IN_FLIGHT must be a positive integer/,
    );
    expect(limitsFromEnv({ RUSHHOUR_DB_POOL: '4' }).dbPoolSize).toBe(4);
  });

  test('SSM: missing parameters are named with the prefix to check', async () => {
    const moto = await startMoto();
    const saved = { ...process.env };
    try {
      Object.assign(process.env, {
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_ACCESS_KEY_ID: moto.clientConfig.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: moto.clientConfig.credentials.secretAccessKey,
      });
      await expect(dbConfigFromSsm('/rushhour/nosuchsite/db', 'us-east-1')).rejects.toThrow(
        /SSM parameters not found: .*\/rushhour\/nosuchsite\/db\/host.*check RUSHHOUR_SSM_PREFIX=\/rushhour\/nosuchsite\/db/,
      );
    } finally {
      process.env = saved;
      await moto.stop();
    }
  });
});

describe('CLI', () => {
  test('rushhour seed refuses to overwrite without --reset; rushhour app serves and stops on SIGTERM', async () => {
    const { db, config } = await startSeededDb({ courses: 5, students: 10 });
    const env = {
      ...process.env,
      DB_HOST: config.host,
      DB_PORT: String(config.port),
      DB_USER: config.user,
      DB_PASSWORD: config.password,
      DB_NAME: config.database,
    };
    try {
      const refused = spawnSync(process.execPath, [CLI, 'seed', '--courses', '43', '--students', '20'], {
        env,
        encoding: 'utf8',
      });
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain('already holds 5 courses, 10 students and 0 registrations; pass --reset');
      expect(db.sql('SELECT COUNT(*) FROM courses', 'course_selection').trim()).toBe('5');
      const seeded = spawnSync(process.execPath, [CLI, 'seed', '--courses', '43', '--students', '20', '--reset'], {
        env,
        encoding: 'utf8',
      });
      expect(seeded.stderr.replace(/npm warn.*\n/g, '')).toBe('');
      expect(seeded.stdout).toContain('43 courses, 20 students');
      expect(
        spawnSync(process.execPath, [CLI, 'seed', '--courses', 'many'], { env, encoding: 'utf8' }).stderr,
      ).toContain('--courses must be an integer >= 1');

      const port = await freePort();
      const app = spawn(process.execPath, [CLI, 'app', '--port', String(port)], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<number | null>((resolve) => app.once('exit', (code) => resolve(code)));
      try {
        await waitForPort(port, '127.0.0.1', 30000);
        const courses = (await (await fetch(`http://127.0.0.1:${port}/api/courses`)).json()) as unknown[];
        expect(courses).toHaveLength(43);
        app.kill('SIGTERM');
        expect(await exited).toBe(0);
      } finally {
        app.kill('SIGKILL');
      }
    } finally {
      await db.stop();
    }
  });
});
