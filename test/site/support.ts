import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { ChildProcess, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { LocalMariaDb } from '../../src/local/mariadb';
import { LocalMoto } from '../../src/local/moto';
import { freePort, waitForPort } from '../../src/local/ports';
import { spawnOwned, stopProcess } from '../../src/local/process';
import { buildBootScript } from '../../src/site/build-boot';
import { SESSIONS_TABLE_SQL } from '../../src/site/php-files';
import { APP_PRIVILEGES } from '../../src/sql/app-user';
import { SiteLayout } from '../../src/site/layout';

export const LAMP_DIR = path.join(__dirname, '..', '..', 'examples', 'lamp-site');
export const LAMP_DUMP = path.join(LAMP_DIR, 'course-selection-lamp.sql.gz');

/** Debian's binaries and a temp tree in place of AL2023's; users that exist here (the site never runs as root). */
export function debianLayout(root: string, port: number, upstreamPort: number): Partial<SiteLayout> {
  return {
    upstreamPort,
    siteDir: path.join(root, 'opt/rushhour/site'),
    etcDir: path.join(root, 'etc/rushhour'),
    runDir: path.join(root, 'run/rushhour'),
    logDir: path.join(root, 'var/log/rushhour'),
    libDir: path.join(root, 'opt/rushhour/lib'),
    stateDir: path.join(root, 'var/lib/rushhour'),
    siteUser: 'nobody',
    siteGroup: 'nogroup',
    // FIELD-NOTES: nginx as root needs `user root;` (Debian has no nginx user when run like this).
    nginxUser: 'root',
    apacheUser: 'www-data',
    bins: {
      nginx: '/usr/sbin/nginx',
      phpFpm: '/usr/sbin/php-fpm8.2',
      httpd: '/usr/sbin/apache2',
      node: process.execPath,
      bash: '/bin/bash',
    },
    apacheModulesDir: '/usr/lib/apache2/modules',
    mimeTypes: '/etc/nginx/mime.types',
    apacheMimeTypes: '/etc/mime.types',
    port,
  };
}

let bootScript: string | undefined;
/** The boot step exactly as an instance gets it: one esbuild bundle. Built once per test file. */
export function bootBundle(): string {
  if (!bootScript) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-boot-'));
    bootScript = path.join(dir, 'site-boot.js');
    buildBootScript(bootScript);
  }
  return bootScript;
}

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

/** Splits a rendered ExecStart line the way systemd does for our quoting ("..." words, $$ and %% escapes). */
export function parseExecLine(line: string): string[] {
  const words = line.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
  return words.map((w) => {
    const inner = w.startsWith('"') ? w.slice(1, -1) : w;
    return inner.replace(/\\(.)/g, '$1').replace(/\$\$/g, '$').replace(/%%/g, '%');
  });
}

export interface UnitCommands {
  readonly preStart?: string[];
  readonly start: string[];
  readonly env: Record<string, string>;
}
export function readUnit(file: string): UnitCommands {
  const text = fs.readFileSync(file, 'utf8');
  const pre = /^ExecStartPre=\+(.*)$/m.exec(text);
  const start = /^ExecStart=(.*)$/m.exec(text);
  if (!start) throw new Error(`${file}: no ExecStart`);
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/^Environment=(.*)$/gm)) {
    const [kv] = parseExecLine(m[1]);
    env[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
  }
  return { preStart: pre ? parseExecLine(pre[1]) : undefined, start: parseExecLine(start[1]), env };
}

export interface TestInstance {
  readonly root: string;
  readonly port: number;
  readonly url: string;
  readonly layout: SiteLayout;
  readonly processes: Record<string, ChildProcess>;
  /** Runs a unit like systemd would: ExecStartPre (the DB wiring), then ExecStart. */
  startUnit(unit: string): Promise<ChildProcess>;
  stop(): Promise<void>;
}

/**
 * One "instance": the site copied in, `site-boot.js render` then every unit's ExecStartPre/ExecStart run
 * from the rendered unit files, so what starts is exactly what systemd would start.
 */
export async function startInstance(opts: {
  site: Record<string, unknown>;
  moto: LocalMoto;
  ssmPrefix: string;
  siteSource?: string;
  extraFiles?: Record<string, string>;
  healthCheckPath?: string;
  nginxWorkers?: number;
}): Promise<TestInstance> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-instance-'));
  fs.chmodSync(root, 0o755);
  const port = await freePort();
  const upstreamPort = await freePort();
  const layout = debianLayout(root, port, upstreamPort);
  fs.mkdirSync(layout.siteDir!, { recursive: true });
  fs.cpSync(opts.siteSource ?? LAMP_DIR, layout.siteDir!, {
    recursive: true,
    filter: (src) => !src.endsWith('.sql.gz') && !src.endsWith('.ts'),
  });
  for (const [rel, content] of Object.entries(opts.extraFiles ?? {}))
    fs.writeFileSync(path.join(layout.siteDir!, rel), content);
  // Like the instance's `tar -x --no-same-owner` + chmod a+rX: code owned by root, readable, not writable.
  execFileSync('chmod', ['-R', 'a+rX,go-w', path.join(root, 'opt')]);
  for (const d of ['etc', 'run', 'var']) fs.mkdirSync(path.join(root, d), { recursive: true, mode: 0o755 });
  const unitDir = path.join(root, 'etc/systemd/system');
  const input = path.join(root, 'render-input.json');
  fs.writeFileSync(
    input,
    JSON.stringify({
      site: opts.site,
      ssmPrefix: opts.ssmPrefix,
      region: opts.moto.region,
      healthCheckPath: opts.healthCheckPath ?? '/healthz',
      port,
      layout,
      unitDir,
      nginxWorkers: opts.nginxWorkers ?? 2,
    }),
  );
  // Where the user data puts the downloaded boot script; render runs from there as on an instance.
  const boot = path.join(layout.libDir!, 'site-boot.js');
  fs.mkdirSync(layout.libDir!, { recursive: true });
  fs.copyFileSync(bootBundle(), boot);
  execFileSync(process.execPath, [boot, 'render', input], { stdio: 'pipe' });
  const fullLayout = JSON.parse(fs.readFileSync(path.join(layout.etcDir!, 'site.json'), 'utf8')).layout as SiteLayout;
  const awsEnv = {
    ...process.env,
    AWS_ENDPOINT_URL: opts.moto.endpoint,
    AWS_ACCESS_KEY_ID: opts.moto.clientConfig.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: opts.moto.clientConfig.credentials.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  const processes: Record<string, ChildProcess> = {};
  const logs: Record<string, string> = {};
  async function startUnit(unit: string): Promise<ChildProcess> {
    const u = readUnit(path.join(unitDir, `${unit}.service`));
    if (u.preStart) execFileSync(u.preStart[0], u.preStart.slice(1), { env: awsEnv, stdio: 'pipe' });
    const child = spawnOwned(u.start[0], u.start.slice(1), {
      cwd: fullLayout.siteDir,
      // systemd gives a service a clean environment: only what the unit sets.
      env: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', ...u.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    logs[unit] = '';
    const keep = (b: Buffer) => (logs[unit] = (logs[unit] + b.toString()).slice(-4000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    processes[unit] = child;
    return child;
  }
  const units = fs
    .readdirSync(unitDir)
    .map((f) => f.replace(/\.service$/, ''))
    .sort((a, b) => (a === 'rushhour-front' ? 1 : b === 'rushhour-front' ? -1 : a.localeCompare(b)));
  for (const u of units) await startUnit(u);
  await waitForPort(port, '127.0.0.1', 20000);
  const url = `http://127.0.0.1:${port}`;
  // Ready when the health path answers (php-fpm or Apache behind may start after nginx).
  const deadline = Date.now() + 20000;
  for (;;) {
    const ok = await fetch(`${url}/healthz`)
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline)
      throw new Error(`instance not healthy: ${JSON.stringify(logs)}\n${readLogs(fullLayout.logDir)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    root,
    port,
    url,
    layout: fullLayout,
    processes,
    startUnit,
    async stop() {
      for (const c of Object.values(processes)) await stopProcess(c, 5000);
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

export function readLogs(logDir: string): string {
  if (!fs.existsSync(logDir)) return '';
  return fs
    .readdirSync(logDir)
    .map((f) => `== ${f}\n${fs.readFileSync(path.join(logDir, f), 'utf8').slice(-2000)}`)
    .join('\n');
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
