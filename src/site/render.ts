import * as path from 'node:path';
import { renderHttpdConf } from './apache';
import { SiteLayout, sitePaths } from './layout';
import { renderNginxConf } from './nginx';
import { renderBusyPage, renderHealthScript, renderSessionHandler } from './php-files';
import { phpWorkers, renderPhpFpmConf } from './php-fpm';
import { SiteConfig, parseSite } from './schema';
import { ServiceSpec, renderUnit, siteServices } from './units';

/**
 * What the boot step gets (site.json on the instance). No secret: the database is named by its SSM
 * prefix; the password is read at every service start.
 */
export interface SiteSpec {
  readonly site: SiteConfig;
  readonly ssmPrefix: string;
  readonly region: string;
  readonly healthCheckPath: string;
  readonly layout: SiteLayout;
  /** Where unit files go. @default '/etc/systemd/system' */
  readonly unitDir?: string;
  /** @default 'auto' */
  readonly nginxWorkers?: number | 'auto';
}

export interface RenderedFile {
  readonly path: string;
  readonly content: string;
  readonly mode: number;
}
export interface RenderedDir {
  readonly path: string;
  readonly mode: number;
  /** `site`: owned by the site user (writable dirs, per-instance sessions). */
  readonly owner: 'root' | 'site';
}

export interface RenderedSite {
  readonly files: RenderedFile[];
  readonly dirs: RenderedDir[];
  readonly services: ServiceSpec[];
  /** Requests the front door passes to the site at once. */
  readonly maxInFlight: number;
}

/** Default in-flight limit for proxied runtimes: the reference app's own limit (app/config.ts). */
export const DEFAULT_PROXIED_MAX_IN_FLIGHT = 128;

/**
 * PHP: the front door passes the pool size plus this many requests per worker; the extra ones wait in
 * php-fpm's listen backlog for the next free worker: at most 7 page times of extra wait, less than the
 * busy page's Retry-After (5 s) for any page under ~0.7 s, so waiting beats being shed.
 * Exactly one request per worker makes the front door a loss system (Erlang B): arrivals that find every
 * worker busy for an instant (a burst, a stall of the CPU) are shed although the pool is not saturated.
 * Measured with bench/site.ts, 8 workers on 1 core of a loaded shared machine, the example site
 * (2026-12-01): max_conns = 8 shed 2.6-10% at 250-300/s with p95 only 55-60 ms; 16 shed 2-8% at 300/s; 32
 * served 400-900/s but shed 2-4.5% in stages where the core stalled (the sheds came in bursts: 18-187 in
 * one second, none in the next). See BENCHMARKS.md, "The example PHP site on three stacks".
 */
export const PHP_QUEUE_PER_WORKER = 7;

/** Every file and directory rushhour puts on an instance for this site (pure: no I/O). */
export function renderSite(spec: SiteSpec): RenderedSite {
  const site = parseSite(spec.site);
  const l = spec.layout;
  const p = sitePaths(l);
  const maxInFlight =
    site.maxInFlight ??
    (site.runtime === 'php' ? phpWorkers(site, l) * (1 + PHP_QUEUE_PER_WORKER) : DEFAULT_PROXIED_MAX_IN_FLIGHT);
  const services = siteServices(site, l);
  const files: RenderedFile[] = [
    { path: p.siteJson, content: JSON.stringify({ ...spec, site }, null, 2) + '\n', mode: 0o644 },
    {
      path: p.nginxConf,
      content: renderNginxConf(site, l, {
        healthCheckPath: spec.healthCheckPath,
        maxInFlight,
        workerProcesses: spec.nginxWorkers,
      }),
      mode: 0o644,
    },
    { path: p.busyPage, content: renderBusyPage(site.retryAfterSeconds), mode: 0o644 },
  ];
  if (site.runtime === 'php') {
    files.push(
      { path: p.phpFpmConf, content: renderPhpFpmConf(site, l), mode: 0o644 },
      { path: p.healthScript, content: renderHealthScript(), mode: 0o644 },
      { path: p.sessionHandler, content: renderSessionHandler(), mode: 0o644 },
    );
    if (site.webServer === 'apache')
      files.push({ path: p.httpdConf, content: renderHttpdConf(site, l, { maxInFlight }), mode: 0o644 });
  }
  const unitDir = spec.unitDir ?? '/etc/systemd/system';
  for (const s of services)
    files.push({ path: path.join(unitDir, `${s.unit}.service`), content: renderUnit(s, l), mode: 0o644 });
  const dirs: RenderedDir[] = [
    { path: l.etcDir, mode: 0o755, owner: 'root' },
    { path: l.runDir, mode: 0o755, owner: 'root' },
    { path: l.logDir, mode: 0o755, owner: 'root' },
    { path: l.libDir, mode: 0o755, owner: 'root' },
    { path: l.stateDir, mode: 0o755, owner: 'root' },
    { path: p.nginxTemp, mode: 0o700, owner: 'root' },
    ...(site.runtime === 'php' && site.sessions === 'files'
      ? [{ path: p.sessionFilesDir, mode: 0o700, owner: 'site' as const }]
      : []),
    ...site.writableDirs.map((d) => ({ path: path.join(l.siteDir, d), mode: 0o750, owner: 'site' as const })),
  ];
  return { files, dirs, services, maxInFlight };
}
