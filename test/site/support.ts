import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { ChildProcess, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { LocalMariaDb } from '../../src/local/mariadb';
import { LocalMoto } from '../../src/local/moto';
import { SiteInstance, startSiteInstance } from '../../src/local/site-instance';
import { SESSIONS_TABLE_SQL } from '../../src/site/php-files';
import { APP_PRIVILEGES } from '../../src/sql/app-user';

// The instance starter lives in src/local/site-instance.ts (the rehearsal starts its instances with it too).
export { bootBundle, debianLayout, parseExecLine, readLogs, readUnit } from '../../src/local/site-instance';
export type { UnitCommands } from '../../src/local/site-instance';

export const LAMP_DIR = path.join(__dirname, '..', '..', 'examples', 'lamp-site');
export const LAMP_DUMP = path.join(LAMP_DIR, 'course-selection-lamp.sql.gz');

/** Imports the LAMP dump into `database` and makes an app user with a made-up password. */
export function loadLampDatabase(db: LocalMariaDb, database: string): { user: string; password: string } {
  db.sql(`CREATE DATABASE ${database} CHARACTER SET utf8mb4`);
  execFileSync('mariadb', [...db.clientArgs, database], { input: zlib.gunzipSync(fs.readFileSync(LAMP_DUMP)) });
  const password = `A${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
  // What the import does: the sessions table by the master user, the app user with APP_PRIVILEGES only.
  db.sql(SESSIONS_TABLE_SQL, database);
  db.createUser('lamp_app', password, `${APP_PRIVILEGES.join(', ')} ON ${database}.*`);
  return { user: 'lamp_app', password };
}

/** What the import custom resource writes: SSM parameters under the prefix and the app secret. */
export async function putDbParameters(
  moto: LocalMoto,
  prefix: string,
  v: { host: string; port: number; name: string; user: string; password: string },
): Promise<void> {
  const secrets = new SecretsManagerClient(moto.clientConfig);
  const ssm = new SSMClient(moto.clientConfig);
  try {
    const secret = await secrets.send(
      new CreateSecretCommand({
        Name: `app-${prefix.replace(/\//g, '-')}`,
        SecretString: JSON.stringify({ username: v.user, password: v.password }),
      }),
    );
    const put = { host: v.host, port: String(v.port), name: v.name, user: v.user, 'password-secret-arn': secret.ARN! };
    for (const [k, value] of Object.entries(put))
      await ssm.send(
        new PutParameterCommand({ Name: `${prefix}/${k}`, Value: value, Type: 'String', Overwrite: true }),
      );
  } finally {
    secrets.destroy();
    ssm.destroy();
  }
}

export type TestInstance = SiteInstance;

/** An instance of the example LAMP site (or `siteSource`), copied in without its dump and scripts. */
export function startInstance(opts: {
  site: Record<string, unknown>;
  moto: LocalMoto;
  ssmPrefix: string;
  siteSource?: string;
  extraFiles?: Record<string, string>;
  healthCheckPath?: string;
  nginxWorkers?: number;
}): Promise<TestInstance> {
  const { siteSource, ...rest } = opts;
  return startSiteInstance({
    ...rest,
    siteSource: { dir: siteSource ?? LAMP_DIR, filter: (src) => !src.endsWith('.sql.gz') && !src.endsWith('.ts') },
  });
}

/** A tiny cookie-keeping client (fetch with redirects handled by hand, so Set-Cookie is seen). */
export class Browser {
  cookies = new Map<string, string>();
  constructor(public base: string) {}
  async request(pathname: string, init: { method?: string; form?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { Cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
    let body: string | undefined;
    if (init.form) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(this.base + pathname, {
      method: init.method ?? (body ? 'POST' : 'GET'),
      headers,
      body,
      redirect: 'manual',
    });
    for (const c of res.headers.getSetCookie()) {
      const [kv] = c.split(';');
      const i = kv.indexOf('=');
      this.cookies.set(kv.slice(0, i), kv.slice(i + 1));
    }
    return { status: res.status, headers: res.headers, text: await res.text() };
  }
  /** Follows one redirect if there is one. */
  async go(pathname: string, init: { form?: Record<string, string> } = {}) {
    const r = await this.request(pathname, init);
    const loc = r.headers.get('location');
    return loc ? this.request('/' + loc.replace(/^\//, '')) : r;
  }
  csrf(html: string): string {
    const m = /name="csrf" value="([0-9a-f]+)"/.exec(html);
    if (!m) throw new Error(`no csrf token in: ${html.slice(0, 300)}`);
    return m[1];
  }
}

/** Children of a process (from /proc), to kill a server's workers with it the way a crash leaves them dead. */
export function childPids(pid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1] === String(pid);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** SIGKILL a server and its workers; resolves when the server has exited. */
export async function killTree(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  const kids = childPids(child.pid!);
  child.kill('SIGKILL');
  for (const k of kids) {
    try {
      process.kill(k, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await exited;
}
