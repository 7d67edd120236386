import * as path from 'node:path';
import { Token } from 'aws-cdk-lib';
import { al2023Layout, SiteLayout, sitePaths } from '../site/layout';
import { al2023Packages, renderInstallLines } from '../site/packages';
import { SiteConfig } from '../site/schema';
import { siteServices } from '../site/units';
import { BOOT_HELPERS } from './user-data';

/**
 * User data for a `web.site` runtime (php, node, command): the bash lines that install the runtime from
 * the distribution, fetch and check the site bundle and the boot step (`site-boot.js`, src/site/boot.ts),
 * let the boot step render every config file and unit, and start the units. Like the reference path
 * (./user-data.ts) it holds no secret: the boot step reads the database settings from SSM and the
 * password from Secrets Manager with the instance role, at every start of the site service.
 */

export interface SiteUserDataOptions {
  /** The parsed `web.site` (not `reference`: that runtime keeps ./user-data.ts). */
  readonly site: SiteConfig;
  /** `s3://bucket/key` of the site's `.tar.gz` (the CDK asset's `s3ObjectUrl`; a token at synth). */
  readonly bundleS3Url: string;
  readonly bundleSha256: string;
  /** `s3://bucket/key` of the bundled boot step (`site-boot.js`). */
  readonly bootS3Url: string;
  readonly bootSha256: string;
  /** The front door's port (web.port): the balancer's target port. */
  readonly port: number;
  readonly healthCheckPath: string;
  readonly ssmPrefix: string;
  readonly region: string;
}

/** Where the user data writes the boot step's `render` input (site, prefix, region, health path, port). */
export const RENDER_INPUT_FILE = '/opt/rushhour/render-input.json';

/**
 * The instance's layout as far as it is known at synth time; the boot step measures vCPUs and memory
 * itself. Paths and unit names do not depend on the size.
 */
export function synthLayout(site: SiteConfig, port: number): SiteLayout {
  return al2023Layout({
    port,
    vcpus: 1,
    memoryMiB: 1024,
    nodeVersion: site.runtime === 'node' ? site.nodeVersion : undefined,
  });
}

/**
 * The exact command the user data runs to render the site: Node 22 (always installed; the boot step is
 * built for it) on the boot bundle. test/site runs the same bundle with the same verb and input keys.
 */
export function bootRenderArgv(layout: SiteLayout, inputFile: string = RENDER_INPUT_FILE): string[] {
  const node22 = al2023Layout({ port: layout.port, vcpus: 1, memoryMiB: 1024 }).bins.node;
  return [node22, sitePaths(layout).bootScript, 'render', inputFile];
}

/** The JSON the boot step's `render` reads: names and paths only, no secret. */
export function renderInput(o: SiteUserDataOptions): Record<string, unknown> {
  return {
    site: o.site,
    ssmPrefix: o.ssmPrefix,
    region: o.region,
    healthCheckPath: o.healthCheckPath,
    port: o.port,
  };
}

/** The units the user data enables, in start order (the front door last). */
export function siteUnitNames(site: SiteConfig, port: number): string[] {
  const units = siteServices(site, synthLayout(site, port)).map((s) => s.unit);
  return [...units.slice(1), units[0]];
}

export function renderSiteUserData(o: SiteUserDataOptions): string[] {
  if (o.site.runtime === 'reference') throw new Error('renderSiteUserData: the reference runtime uses renderUserData');
  validate(o);
  const l = synthLayout(o.site, o.port);
  const p = sitePaths(l);
  const installDir = path.dirname(l.siteDir);
  const download = `${installDir}/download`;
  const node22 = bootRenderArgv(l)[0];
  const fetchChecked = (what: string, url: string, sha256: string, to: string) => [
    `boot_step "download the ${what}"`,
    `retry aws s3 cp --only-show-errors --region ${o.region} ${shellQuote(url)} ${to}`,
    `if ! echo "${sha256}  ${to}" | sha256sum --check --status; then`,
    `  echo "rushhour: FATAL: checksum mismatch for the ${what} ${url}: expected ${sha256}, got $(sha256sum ${to} | cut -d' ' -f1)" >&2`,
    `  rm -f ${to}`,
    '  exit 1',
    'fi',
  ];
  // `node` (and npm/npx when the package has them) on the site's PATH is the configured line (units.ts).
  const nodeLine = o.site.runtime === 'node' ? o.site.nodeVersion : '22';
  const binDir = path.join(l.libDir, 'bin');
  const units = siteUnitNames(o.site, o.port);
  const input = JSON.stringify(renderInput(o), null, 2).split('\n');
  return [
    'set -euo pipefail',
    `exec > >(tee -a /var/log/rushhour-bootstrap.log) 2>&1`,
    `echo "rushhour: bootstrap (${o.site.runtime} site) starting at $(date -u +%FT%TZ)"`,
    ...BOOT_HELPERS,
    'boot_step "install packages"',
    // AL2023 locks its repositories to the AMI's release: the package set is the AMI's, not today's newest.
    ...renderInstallLines(al2023Packages(o.site)),
    `if [ ! -x ${node22} ]; then echo "rushhour: FATAL: nodejs22 installed no ${node22}" >&2; exit 1; fi`,
    ...(l.bins.node === node22
      ? []
      : [
          `if [ ! -x ${l.bins.node} ]; then echo "rushhour: FATAL: no ${l.bins.node} (the site's Node)" >&2; exit 1; fi`,
        ]),
    `id -u ${l.siteUser} >/dev/null 2>&1 || useradd --system --no-create-home --home-dir ${installDir} --shell /sbin/nologin ${l.siteUser}`,
    // Code is owned by root and only readable by the site user: a compromised site cannot rewrite itself.
    `install -d -o root -g root -m 0755 ${installDir} ${l.libDir} ${binDir}`,
    ...fetchChecked('site bundle', o.bundleS3Url, o.bundleSha256, download),
    `rm -rf ${l.siteDir} && install -d -o root -g root -m 0755 ${l.siteDir}`,
    `tar -xzf ${download} -C ${l.siteDir} --no-same-owner`,
    `rm -f ${download}`,
    `chmod -R a+rX,go-w ${l.siteDir}`,
    ...fetchChecked('boot step', o.bootS3Url, o.bootSha256, download),
    `install -o root -g root -m 0644 ${download} ${p.bootScript}`,
    `rm -f ${download}`,
    `ln -sfn ${l.bins.node} ${binDir}/node`,
    `for t in npm npx; do if [ -x /usr/bin/$t-${nodeLine} ]; then ln -sfn /usr/bin/$t-${nodeLine} ${binDir}/$t; fi; done`,
    // Quoted delimiter: bash expands nothing in the JSON (no value in it can hold a newline).
    `cat > ${RENDER_INPUT_FILE} <<'RUSHHOUR_SITE_JSON'`,
    ...input,
    'RUSHHOUR_SITE_JSON',
    'boot_step "render the site"',
    bootRenderArgv(l).join(' '),
    'systemctl daemon-reload',
    'boot_step "start the site"',
    // No wait on the start jobs: the site's ExecStartPre (the database wiring) may fail while the import
    // still runs; systemd retries it (Restart=always, no start limit) and the health check decides.
    `systemctl enable --now --no-block ${units.map((u) => `${u}.service`).join(' ')}`,
    // Informational: the ALB health check decides; this puts the first result in the bootstrap log.
    `healthy=; for i in $(seq 1 90); do if curl -fsS -o /dev/null http://127.0.0.1:${o.port}${o.healthCheckPath}; then healthy=1; echo "rushhour: healthy after $i tries"; break; fi; sleep 2; done`,
    `if [ -z "$healthy" ]; then echo "rushhour: not healthy after 180 s; see journalctl -u ${units.join(' -u ')} and ${l.logDir}" >&2; fi`,
    'boot_step done',
  ];
}

function validate(o: SiteUserDataOptions): void {
  const problems: string[] = [];
  const known = (v: string) => !Token.isUnresolved(v);
  for (const [name, url] of [
    ['bundleS3Url', o.bundleS3Url],
    ['bootS3Url', o.bootS3Url],
  ] as const)
    if (known(url) && !/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/[A-Za-z0-9!_.*'()/=+-]+$/.test(url))
      problems.push(`${name} must look like s3://bucket/key with a plain key, got ${JSON.stringify(url)}`);
  for (const [name, sha] of [
    ['bundleSha256', o.bundleSha256],
    ['bootSha256', o.bootSha256],
  ] as const)
    if (!/^[0-9a-f]{64}$/.test(sha)) problems.push(`${name} must be 64 lowercase hex characters`);
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535)
    problems.push(`port must be an integer 1-65535, got ${o.port}`);
  if (!/^\/[A-Za-z0-9_.~/?=&-]*$/.test(o.healthCheckPath))
    problems.push(`healthCheckPath must start with / and hold only URL-safe characters`);
  if (known(o.region) && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(o.region))
    problems.push(`region must be an AWS region name like eu-west-1, got ${JSON.stringify(o.region)}`);
  if (problems.length) throw new Error(`renderSiteUserData: ${problems.join('; ')}`);
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
