import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { awsWireDbEdge } from './aws-edge';
import { al2023Layout, sitePaths } from './layout';
import { RenderedSite, SiteSpec, renderSite } from './render';
import { parseSite } from './schema';
import { wireDatabase } from './wire-db';

/**
 * The instance's boot step, bundled by esbuild into one file (./build-boot) and run with the instance's
 * Node as root:
 *   site-boot.js render <input.json>     once at boot: every config file, directory and unit
 *   site-boot.js wire-db --site <json>   before every site start (ExecStartPre): env file + config files
 * The tests run this same bundled file.
 */

interface RenderInput {
  readonly site: unknown;
  readonly ssmPrefix: string;
  readonly region: string;
  readonly healthCheckPath: string;
  readonly port: number;
  /** Tests only: a temp tree and Debian's binaries instead of AL2023's. */
  readonly layout?: Partial<SiteSpec['layout']>;
  readonly unitDir?: string;
  readonly nginxWorkers?: number | 'auto';
}

const log = (line: string) => process.stdout.write(`rushhour-site: ${line}\n`);

/** uid of a user / gid of a group, by name (getent: users and groups may come from anywhere NSS looks). */
function idOf(db: 'passwd' | 'group', name: string): number {
  const id = Number(execFileSync('getent', [db, name], { encoding: 'utf8' }).split(':')[2]);
  if (!Number.isInteger(id)) throw new Error(`no ${db === 'passwd' ? 'user' : 'group'} named ${name}`);
  return id;
}

export function writeRendered(r: RenderedSite, siteUser: string, siteGroup: string): void {
  const uid = idOf('passwd', siteUser);
  const gid = idOf('group', siteGroup);
  for (const d of r.dirs) {
    fs.mkdirSync(d.path, { recursive: true });
    fs.chmodSync(d.path, d.mode);
    if (d.owner === 'site') fs.chownSync(d.path, uid, gid);
  }
  for (const f of r.files) {
    fs.mkdirSync(path.dirname(f.path), { recursive: true });
    fs.writeFileSync(f.path, f.content, { mode: f.mode });
    fs.chmodSync(f.path, f.mode);
  }
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === 'render') {
    const input = JSON.parse(fs.readFileSync(rest[0], 'utf8')) as RenderInput;
    const site = parseSite(input.site);
    const layout = {
      ...al2023Layout({
        port: input.port,
        vcpus: os.cpus().length,
        memoryMiB: Math.floor(os.totalmem() / 1048576),
        nodeVersion: site.runtime === 'node' ? site.nodeVersion : undefined,
      }),
      ...input.layout,
    };
    const spec: SiteSpec = {
      site,
      ssmPrefix: input.ssmPrefix,
      region: input.region,
      healthCheckPath: input.healthCheckPath,
      layout,
      unitDir: input.unitDir,
      nginxWorkers: input.nginxWorkers,
    };
    const r = renderSite(spec);
    writeRendered(r, layout.siteUser, layout.siteGroup);
    log(
      `rendered ${r.files.length} files for a ${site.runtime} site on ${layout.vcpus} vCPU / ${layout.memoryMiB} MiB: ` +
        `front door passes ${r.maxInFlight} requests at once; units ${r.services.map((s) => s.unit).join(' ')}`,
    );
    return;
  }
  if (cmd === 'wire-db') {
    const i = rest.indexOf('--site');
    if (i < 0 || !rest[i + 1]) throw new Error('usage: site-boot.js wire-db --site /etc/rushhour/site.json');
    const spec = JSON.parse(fs.readFileSync(rest[i + 1], 'utf8')) as SiteSpec;
    const site = parseSite(spec.site);
    const edge = awsWireDbEdge({ region: spec.region });
    try {
      await wireDatabase({
        edge,
        ssmPrefix: spec.ssmPrefix,
        site,
        layout: spec.layout,
        siteGid: idOf('group', spec.layout.siteGroup),
        log,
      });
    } finally {
      edge.close();
    }
    if (!fs.existsSync(sitePaths(spec.layout).envFile)) throw new Error('env file not written');
    return;
  }
  throw new Error(`unknown command ${JSON.stringify(cmd)}: use render or wire-db`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: Error) => {
    // Names and messages only: no value from SSM or Secrets Manager is ever in an error here.
    process.stderr.write(`rushhour-site: FAILED: ${err.name}: ${err.message}\n`);
    process.exit(1);
  });
}
