import * as fs from 'node:fs';
import * as path from 'node:path';
import { SSM_KEYS } from '../../app/config';
import { DB_ENV_NAMES, DbSettings, dbEnv, renderEnvFile } from './env-file';
import { SiteLayout, sitePaths } from './layout';
import { SiteConfig } from './schema';

/**
 * The boot step that wires the database in, run as root before every start of the site service
 * (ExecStartPre): SSM parameters + the Secrets Manager password -> the env file (root, 0600) and the
 * site's config files from its templates (root:site group, 0640). A rotated password needs only
 * `systemctl restart`. AWS is behind `WireDbEdge` (./aws-edge in production, moto in tests).
 */
export interface WireDbEdge {
  /** Values of the named SSM parameters; names that do not exist are left out. */
  getParameters(names: readonly string[]): Promise<Record<string, string>>;
  getSecretString(secretId: string): Promise<string>;
}

export class WireDbError extends Error {
  override readonly name = 'WireDbError';
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

export async function readDbSettings(edge: WireDbEdge, ssmPrefix: string): Promise<DbSettings> {
  const prefix = ssmPrefix.replace(/\/+$/, '');
  const names = SSM_KEYS.map((k) => `${prefix}/${k}`);
  const got = await edge.getParameters(names);
  const missing = names.filter((n) => !got[n]);
  if (missing.length)
    throw new WireDbError(
      `SSM parameters missing: ${missing.join(', ')} (the import writes them when it completes)`,
      'ssmPrefix',
    );
  const value = (k: (typeof SSM_KEYS)[number]) => got[`${prefix}/${k}`];
  const secretArn = value('password-secret-arn');
  let secret: { password?: unknown };
  try {
    secret = JSON.parse(await edge.getSecretString(secretArn));
  } catch (err) {
    if (err instanceof SyntaxError)
      throw new WireDbError(`secret ${secretArn} is not JSON with a "password" field`, 'password-secret-arn');
    throw err;
  }
  if (typeof secret.password !== 'string' || !secret.password)
    throw new WireDbError(`secret ${secretArn} has no "password" field`, 'password-secret-arn');
  const port = Number(value('port'));
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new WireDbError(`${prefix}/port is not a TCP port`, 'port');
  return { host: value('host'), port, database: value('name'), user: value('user'), password: secret.password };
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

/**
 * Fills `{{DB_HOST}}`-style placeholders. Values go in as they are: the template decides quoting (the
 * generated password has no punctuation, so '{{DB_PASSWORD}}' in PHP is safe; docs/site.md). An unknown
 * placeholder is refused, so a typo fails the start instead of leaving `{{DB_HSOT}}` in config.php.
 */
export function renderTemplate(text: string, env: Readonly<Record<string, string>>, templateName: string): string {
  const unknown = new Set<string>();
  const out = text.replace(PLACEHOLDER, (_m, name: string) => {
    if (!(name in env)) {
      unknown.add(name);
      return '';
    }
    return env[name];
  });
  if (unknown.size)
    throw new WireDbError(
      `${templateName}: unknown placeholder(s) ${[...unknown].map((n) => `{{${n}}}`).join(', ')}; known: ${DB_ENV_NAMES.join(', ')}`,
      'configFiles',
    );
  return out;
}

export interface WireDatabaseOptions {
  readonly edge: WireDbEdge;
  readonly ssmPrefix: string;
  readonly site: SiteConfig;
  readonly layout: SiteLayout;
  /** Numeric owner of the rendered config files' group (the site group); resolved by the caller. */
  readonly siteGid: number;
  readonly log?: (line: string) => void;
}

/** Writes the env file and the config files. Names only in the log, never a value. */
export async function wireDatabase(o: WireDatabaseOptions): Promise<{ envFile: string; configFiles: string[] }> {
  const log = o.log ?? (() => undefined);
  const settings = await readDbSettings(o.edge, o.ssmPrefix);
  const env = dbEnv(settings);
  const { envFile } = sitePaths(o.layout);
  writeAtomic(envFile, renderEnvFile(env), 0o600, 0);
  log(
    `wrote ${envFile} (${DB_ENV_NAMES.join(' ')}) for ${settings.user}@${settings.host}:${settings.port}/${settings.database}`,
  );
  const written: string[] = [];
  for (const f of o.site.configFiles) {
    const template = path.join(o.layout.siteDir, f.template);
    if (!fs.existsSync(template))
      throw new WireDbError(`configFiles: template ${f.template} is not in the bundle`, 'configFiles');
    const target = path.join(o.layout.siteDir, f.path);
    // Rendered as root: readable by the site group only (not world-readable like the origin's config.php was).
    writeAtomic(target, renderTemplate(fs.readFileSync(template, 'utf8'), env, f.template), 0o640, o.siteGid);
    written.push(target);
    log(`rendered ${f.path} from ${f.template}`);
  }
  return { envFile, configFiles: written };
}

/** Write to a temp file with the final mode, then rename: a reader never sees a half file or a wider mode. */
function writeAtomic(file: string, content: string, mode: number, gid: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.rushhour-tmp`;
  fs.rmSync(tmp, { force: true });
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    fs.writeSync(fd, content);
    fs.fchownSync(fd, 0, gid);
    fs.fchmodSync(fd, mode);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
