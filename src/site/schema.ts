import { z } from 'zod';

/**
 * `web.site`: what runs on each instance behind the front door. lib/config.ts embeds this schema; the
 * boot step on the instance parses the same JSON again, so a hand-edited runtime bundle fails loudly too.
 */

const relPath = (what: string) =>
  z
    .string()
    .min(1)
    .refine(
      (p) => !p.startsWith('/') && !p.split('/').includes('..') && /^[A-Za-z0-9_./-]+$/.test(p),
      `${what} must be a relative path inside the bundle (letters, digits, _ . - /; no "..", no leading /)`,
    );

/**
 * One line of printable text: what goes into a bash line, a systemd unit, a config file or a report must not
 * carry a newline (a second command or directive) or another control character (tab excepted).
 */
// eslint-disable-next-line no-control-regex -- the point is to refuse control characters
export const SINGLE_LINE = /^[^\x00-\x08\x0a-\x1f\x7f]*$/;
export const singleLine = (max: number) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .regex(SINGLE_LINE, 'must be one line without control characters (no newline, carriage return or NUL)')
    .refine((s) => s.trim().length > 0, 'must not be empty');

const iniKey = z.string().regex(/^[a-z][a-z0-9_.]{1,80}$/, 'must be a php.ini directive name like "memory_limit"');
// php-fpm's pool parser expands ${VAR} from the master's environment, fails the whole pool on a bare "=" and
// ends a value at ";" (measured with php-fpm 8.2 -t): a value with those cannot be rendered as given.
const iniValue = z
  .string()
  .max(200, 'must be at most 200 characters (php.ini value)')
  .regex(SINGLE_LINE, 'must be one line without control characters (php.ini value)')
  .regex(/^[^;"=$]*$/, 'must not contain ; " = or $ (php-fpm would end, reject or expand the php.ini value)');

/** One site config file rendered at boot from a template in the bundle (see docs/site.md). */
export const ConfigFileSchema = z.strictObject({
  /** Where the rendered file goes, relative to the bundle root (e.g. "config.php"). */
  path: relPath('path'),
  /** The template in the bundle, with {{DB_HOST}}-style placeholders (e.g. "deploy/config.php.tmpl"). */
  template: relPath('template'),
});

const common = {
  /** Files rendered from templates at every start of the site service. */
  configFiles: z.array(ConfigFileSchema).max(20).default([]),
  /** Directories (relative to the bundle root) the site user may write; everything else is read-only. */
  writableDirs: z.array(relPath('writableDirs entry')).max(20).default([]),
  /**
   * Requests the front door passes to the site at once; beyond it nginx answers 503 + Retry-After at once.
   * For php the default is the php-fpm pool size (one request per worker, so php-fpm never queues).
   */
  maxInFlight: z.number().int().min(1).max(4096).optional(),
  /** Seconds in Retry-After and in the busy page's refresh. */
  retryAfterSeconds: z.number().int().min(1).max(300).default(5),
  /** Largest request body nginx accepts, in MiB (uploads). */
  maxBodyMiB: z.number().int().min(1).max(1024).default(8),
};

export const PhpSiteSchema = z.strictObject({
  runtime: z.literal('php'),
  /** An Amazon Linux 2023 PHP stream. */
  phpVersion: z.enum(['8.3', '8.4']).default('8.3'),
  /** The web root inside the bundle ("." for the bundle root). */
  documentRoot: relPath('documentRoot').default('.'),
  /** Extra PHP subpackages by suffix (php8.3-<name>), beyond fpm, cli, mysqlnd, pdo, mbstring, opcache. */
  extensions: z
    .array(z.string().regex(/^[a-z0-9-]{2,30}$/, 'must be a package suffix like "gd" or "intl"'))
    .default([]),
  /** php.ini overrides, applied per pool with php_value (the site may still ini_set them). */
  ini: z.record(iniKey, iniValue).default({}),
  /** `nginx` runs PHP through php-fpm directly; `apache` adds Apache behind nginx for sites relying on .htaccess. */
  webServer: z.enum(['nginx', 'apache']).default('nginx'),
  /** Workers in the php-fpm pool; default from the instance's vCPUs and memory (see poolSize). */
  phpWorkers: z.number().int().min(1).max(1024).optional(),
  /** `database` (default): sessions shared by all instances; `files`: per instance (needs stickiness). */
  sessions: z.enum(['database', 'files']).default('database'),
  /** Script that answers when no file matches (front controller), e.g. "index.php"; default: 404. */
  frontController: relPath('frontController').optional(),
  ...common,
});

export const NodeSiteSchema = z.strictObject({
  runtime: z.literal('node'),
  /** Node 20 reached end of life on 2026-04-30; AL2023 ships 22 and 24 as nodejs22 / nodejs24. */
  nodeVersion: z.enum(['22', '24']).default('22'),
  /** Run by bash in the bundle root with PORT set; must answer the health path itself. */
  startCommand: singleLine(1000),
  /** A directory of static files nginx serves directly (e.g. "public"); requests for other paths go to the site. */
  staticDir: relPath('staticDir').optional(),
  ...common,
});

export const CommandSiteSchema = z.strictObject({
  runtime: z.literal('command'),
  startCommand: singleLine(1000),
  /** Amazon Linux 2023 packages to install first (dnf names). */
  packages: z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,80}$/, 'must be a dnf package name')).default([]),
  staticDir: relPath('staticDir').optional(),
  ...common,
});

export const ReferenceSiteSchema = z.strictObject({ runtime: z.literal('reference'), ...common });

export const SiteSchema = z.discriminatedUnion('runtime', [
  ReferenceSiteSchema,
  PhpSiteSchema,
  NodeSiteSchema,
  CommandSiteSchema,
]);

export type SiteConfig = z.output<typeof SiteSchema>;
export type PhpSite = z.output<typeof PhpSiteSchema>;
export type ProxiedSite = Exclude<SiteConfig, PhpSite>;

/** Parses a `web.site` value; errors name the field (`web.site.phpVersion: ...`). */
export function parseSite(input: unknown, where = 'web.site'): SiteConfig {
  const r = SiteSchema.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `${[where, ...i.path.map(String)].join('.')}: ${i.message}`);
  throw new SiteConfigError(lines);
}

export class SiteConfigError extends Error {
  override readonly name = 'SiteConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid site config:\n  ${problems.join('\n  ')}`);
  }
}
