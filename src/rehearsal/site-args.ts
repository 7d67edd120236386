import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSitePlan, SitePlan } from '../../loadtest/lib/site-plan';
import type { RushhourConfig } from '../../lib/config';

/** The rehearse command's flags that pick the reference app or the operator's own site. */
export interface RehearseFlags {
  readonly originSite?: string;
  readonly originDump?: string;
  readonly plan?: string;
  /** Only for the reference app: it seeds its own data at the origin. */
  readonly students?: number;
}

/** What the site rehearsal needs, resolved and checked. */
export interface SiteRehearsalInputs {
  readonly originSite: string;
  readonly originDump: string;
  readonly planFile: string;
  readonly plan: SitePlan;
}

/** The flags do not fit together or with the config; `flag` names the one to fix. */
export class RehearseArgsError extends Error {
  override readonly name = 'RehearseArgsError';
  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(`${flag}: ${message}`);
  }
}

const SITE_FLAGS = [
  ['originSite', '--origin-site'],
  ['originDump', '--origin-dump'],
  ['plan', '--plan'],
] as const;

/**
 * Decides which rehearsal runs: the reference app (no site flag, a config without `web.site`) or the operator's site
 * (all three site flags, a config with `web.site`). Anything in between is refused before anything starts, so a
 * site config never rehearses the reference app by accident (it did once, and failed for a reason that was not the
 * site's). Returns undefined for the reference app.
 */
export function siteRehearsalInputs(
  flags: RehearseFlags,
  config: Pick<RushhourConfig, 'web'>,
  cwd = process.cwd(),
): SiteRehearsalInputs | undefined {
  const given = SITE_FLAGS.filter(([k]) => flags[k] !== undefined);
  const site = config.web.site;
  if (given.length === 0) {
    if (site && site.runtime !== 'reference')
      throw new RehearseArgsError(
        '--origin-site',
        `the config names a ${site.runtime} site (web.site): rehearse it with --origin-site DIR --origin-dump FILE --plan FILE`,
      );
    return undefined;
  }
  const missing = SITE_FLAGS.filter(([k]) => flags[k] === undefined);
  if (missing.length)
    throw new RehearseArgsError(
      missing[0][1],
      `required with ${given.map(([, f]) => f).join(' and ')} (the site rehearsal needs --origin-site, --origin-dump and --plan together)`,
    );
  if (flags.students !== undefined)
    throw new RehearseArgsError(
      '--students',
      "seeds the reference app's data; with --origin-dump the origin holds the dump's data",
    );
  if (!site || site.runtime === 'reference')
    throw new RehearseArgsError(
      '--origin-site',
      'the config has no web.site naming the runtime (php, node or command) that carries the site: add it (docs/site.md)',
    );
  const originSite = path.resolve(cwd, flags.originSite!);
  if (!fs.existsSync(originSite) || !fs.statSync(originSite).isDirectory())
    throw new RehearseArgsError('--origin-site', `not a directory: ${originSite}`);
  const originDump = path.resolve(cwd, flags.originDump!);
  if (!/\.sql(\.gz)?$/.test(originDump))
    throw new RehearseArgsError('--origin-dump', `must name a .sql or .sql.gz mysqldump: ${originDump}`);
  if (!fs.existsSync(originDump) || !fs.statSync(originDump).isFile())
    throw new RehearseArgsError('--origin-dump', `file not found: ${originDump}`);
  const planFile = path.resolve(cwd, flags.plan!);
  if (!fs.existsSync(planFile)) throw new RehearseArgsError('--plan', `file not found: ${planFile}`);
  // The plan's own errors name its fields (SitePlanError); they pass through as they are.
  return { originSite, originDump, planFile, plan: readSitePlan(planFile) };
}
