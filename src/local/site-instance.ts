/**
 * One local "instance" of a site: the bundle put where the user data puts it, `site-boot.js render` run as on an
 * instance, then every rendered unit's ExecStartPre and ExecStart run from the unit files, so what starts is exactly
 * what systemd would start there (nginx front door + php-fpm, Apache + php-fpm, or a Node site), on Debian's
 * binaries and a temp tree instead of Amazon Linux 2023's. Tests and the rehearsal share it.
 */
import { ChildProcess, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildBootScript } from '../site/build-boot';
import { SiteLayout } from '../site/layout';
import type { LocalMoto } from './moto';
import { freePort, waitForPort } from './ports';
import { spawnOwned, stopProcess } from './process';

/**
 * Debian's binaries and a temp tree in place of AL2023's; users that exist here (the site never runs as root).
 * Everything but the machine's facts (vCPUs, memory), which the boot step reads from the machine it runs on.
 */
export function debianLayout(
  root: string,
  port: number,
  upstreamPort: number,
): Omit<SiteLayout, 'vcpus' | 'memoryMiB'> {
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
/** The boot step exactly as an instance gets it: one esbuild bundle. Built once per process. */
export function bootBundle(): string {
  if (!bootScript || !fs.existsSync(bootScript)) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-boot-'));
    bootScript = path.join(dir, 'site-boot.js');
    buildBootScript(bootScript);
  }
  return bootScript;
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

export interface SiteInstance {
  readonly root: string;
  readonly port: number;
  readonly url: string;
  readonly layout: SiteLayout;
  readonly processes: Record<string, ChildProcess>;
  /** Runs a unit like systemd would: ExecStartPre (the DB wiring), then ExecStart. */
  startUnit(unit: string): Promise<ChildProcess>;
  /** Stops every unit (SIGTERM, then SIGKILL after the grace) and removes the instance's tree. */
  stop(): Promise<void>;
}

export interface StartSiteInstanceOptions {
  /** `web.site` of the config. */
  readonly site: Record<string, unknown>;
  /** Where SSM and Secrets Manager answer (the DB wiring reads the import's parameters there). */
  readonly moto: Pick<LocalMoto, 'endpoint' | 'region' | 'clientConfig'>;
  readonly ssmPrefix: string;
  /** The site: a directory copied in (tests), or a pulled .tar.gz extracted as the user data extracts it. */
  readonly siteSource:
    { readonly dir: string; readonly filter?: (src: string) => boolean } | { readonly archive: string };
  /** Files written into the site after it is copied in (tests). */
  readonly extraFiles?: Record<string, string>;
  /** @default '/healthz' */
  readonly healthCheckPath?: string;
  /** @default 2 */
  readonly nginxWorkers?: number;
  /** Before stop removes the tree, the instance's logs are copied here. @default not kept */
  readonly keepLogsIn?: string;
  /** How long to wait for the health path to answer 200. @default 20000 */
  readonly readyTimeoutMs?: number;
}

/** The site did not come up: the units' own output and the instance's logs, for the operator. */
export class SiteInstanceError extends Error {
  override readonly name = 'SiteInstanceError';
  constructor(
    message: string,
    readonly root: string,
    readonly output: Record<string, string>,
  ) {
    super(message);
  }
}

/**
 * One "instance": the site put in, `site-boot.js render` then every unit's ExecStartPre/ExecStart run from the
 * rendered unit files (rushhour-front last), ready when the front door's health path answers 200.
 */
export async function startSiteInstance(opts: StartSiteInstanceOptions): Promise<SiteInstance> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-instance-'));
  fs.chmodSync(root, 0o755);
  const port = await freePort();
  const upstreamPort = await freePort();
  const layout = debianLayout(root, port, upstreamPort);
  const healthCheckPath = opts.healthCheckPath ?? '/healthz';
  fs.mkdirSync(layout.siteDir, { recursive: true });
  if ('archive' in opts.siteSource) {
    // As the user data does it: the archive's contents at the site root, owned by whoever extracts.
    execFileSync('tar', ['-xzf', opts.siteSource.archive, '--no-same-owner', '-C', layout.siteDir]);
  } else {
    fs.cpSync(opts.siteSource.dir, layout.siteDir, { recursive: true, filter: opts.siteSource.filter });
  }
  for (const [rel, content] of Object.entries(opts.extraFiles ?? {}))
    fs.writeFileSync(path.join(layout.siteDir, rel), content);
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
      healthCheckPath,
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
  const output: Record<string, string> = {};
  async function startUnit(unit: string): Promise<ChildProcess> {
    const u = readUnit(path.join(unitDir, `${unit}.service`));
    if (u.preStart) execFileSync(u.preStart[0], u.preStart.slice(1), { env: awsEnv, stdio: 'pipe' });
    const child = spawnOwned(u.start[0], u.start.slice(1), {
      cwd: fullLayout.siteDir,
      // systemd gives a service a clean environment: only what the unit sets.
      env: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', ...u.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    output[unit] = '';
    const keep = (b: Buffer) => (output[unit] = (output[unit] + b.toString()).slice(-4000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    processes[unit] = child;
    return child;
  }
  const stop = async () => {
    for (const c of Object.values(processes)) await stopProcess(c, 5000);
    if (opts.keepLogsIn) keepLogs(fullLayout.logDir, output, opts.keepLogsIn);
    fs.rmSync(root, { recursive: true, force: true });
  };
  try {
    const units = fs
      .readdirSync(unitDir)
      .map((f) => f.replace(/\.service$/, ''))
      .sort((a, b) => (a === 'rushhour-front' ? 1 : b === 'rushhour-front' ? -1 : a.localeCompare(b)));
    for (const u of units) await startUnit(u);
    const readyMs = opts.readyTimeoutMs ?? 20000;
    await waitForPort(port, '127.0.0.1', readyMs);
    // Ready when the health path answers (php-fpm or Apache behind may start after nginx).
    const deadline = Date.now() + readyMs;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}${healthCheckPath}`)
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) break;
      if (Date.now() > deadline)
        throw new SiteInstanceError(
          `instance not healthy: ${healthCheckPath} did not answer 200 in ${readyMs} ms: ${JSON.stringify(output)}\n${readLogs(fullLayout.logDir)}`,
          root,
          output,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  return { root, port, url: `http://127.0.0.1:${port}`, layout: fullLayout, processes, startUnit, stop };
}

export function readLogs(logDir: string): string {
  if (!fs.existsSync(logDir)) return '';
  return fs
    .readdirSync(logDir)
    .map((f) => `== ${f}\n${fs.readFileSync(path.join(logDir, f), 'utf8').slice(-2000)}`)
    .join('\n');
}

function keepLogs(logDir: string, output: Record<string, string>, dest: string): void {
  fs.mkdirSync(dest, { recursive: true });
  if (fs.existsSync(logDir))
    for (const f of fs.readdirSync(logDir)) {
      const src = path.join(logDir, f);
      if (fs.statSync(src).isFile()) fs.copyFileSync(src, path.join(dest, f));
    }
  for (const [unit, text] of Object.entries(output)) fs.writeFileSync(path.join(dest, `${unit}.out`), text);
}
