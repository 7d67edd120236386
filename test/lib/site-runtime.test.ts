import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { ConfigError, RushhourConfig, RushhourConfigInput } from '../../lib/config';
import { OWN_TABLES, SESSIONS_TABLE } from '../../lib/contracts';
import { FILE_SESSION_STICKINESS_SECONDS } from '../../lib/web-stack';
import { bootRenderArgv, RENDER_INPUT_FILE, synthLayout } from '../../src/bootstrap/site-user-data';
import { BOOT_HELPERS } from '../../src/bootstrap/user-data';
import { al2023Packages } from '../../src/site/packages';
import { parseSite } from '../../src/site/schema';
import { sha256FileSync } from '../../src/util/sha256';
import { debianLayout, LAMP_DIR } from '../site/support';
import { CfnJson, configWith, resourcesOf, synth, Synthesized } from './synth-helpers';

// A web.site runtime through the CDK app: what the template and the user data of a php (nginx and
// Apache) and a node site hold, and that the boot step accepts the user data's render input.

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-site-runtime-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The example LAMP site packed as pull-web packs it: its contents at the root, the dump left out. */
function lampBundle(): string {
  const file = path.join(tmp, 'lamp-site.tar.gz');
  if (!fs.existsSync(file))
    execFileSync('tar', [
      '-czf',
      file,
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--exclude=./course-selection-lamp.sql.gz',
      '--exclude=./make-dump.ts',
      '--exclude=./loadtest-plan.json',
      '-C',
      LAMP_DIR,
      '.',
    ]);
  return file;
}

function nodeBundle(): string {
  const file = path.join(tmp, 'node-site.tar.gz');
  if (!fs.existsSync(file)) {
    const dir = path.join(tmp, 'node-site');
    fs.mkdirSync(path.join(dir, 'public'), { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'server.js'),
      "require('node:http').createServer((q, s) => s.end('ok')).listen(process.env.PORT, process.env.HOST);\n",
    );
    fs.writeFileSync(path.join(dir, 'public', 'app.css'), 'body{}\n');
    execFileSync('tar', ['-czf', file, '--owner=0', '--group=0', '--numeric-owner', '-C', dir, '.']);
  }
  return file;
}

type SiteInput = NonNullable<RushhourConfigInput['web']>['site'];
const PHP_SITE: SiteInput & { runtime: 'php' } = {
  runtime: 'php',
  phpVersion: '8.3',
  documentRoot: 'public',
  extensions: ['gd'],
  configFiles: [{ path: 'config.php', template: 'deploy/config.php.tmpl' }],
  writableDirs: ['public/uploads'],
  sessions: 'database',
};

const phpConfig = () =>
  configWith((c) => {
    c.web = { port: 80, healthCheckPath: '/healthz', bundlePath: lampBundle(), site: PHP_SITE };
  });
const apacheConfig = () =>
  configWith((c) => {
    c.web = {
      port: 80,
      healthCheckPath: '/healthz',
      bundlePath: lampBundle(),
      site: { ...PHP_SITE, phpVersion: '8.4', webServer: 'apache', sessions: 'files' },
    };
  });
const nodeConfig = () =>
  configWith((c) => {
    c.web = {
      port: 8080,
      healthCheckPath: '/up',
      bundlePath: nodeBundle(),
      site: { runtime: 'node', nodeVersion: '24', startCommand: 'node server.js', staticDir: 'public' },
    };
  });

/** The user data as text; deploy-time values (the asset bucket) become `<token ...>`. */
function userData(s: Synthesized): { text: string; tokens: CfnJson[] } {
  const lts = resourcesOf(s.webTemplate, 'AWS::EC2::LaunchTemplate');
  expect(lts).toHaveLength(3);
  const texts = lts.map(([, lt]) => {
    const b64 = lt.Properties.LaunchTemplateData.UserData['Fn::Base64'];
    const tokens: CfnJson[] = [];
    const text =
      typeof b64 === 'string'
        ? b64
        : (b64['Fn::Join'][1] as CfnJson[])
            .map((p) => (typeof p === 'string' ? p : (tokens.push(p), `<token ${JSON.stringify(p)}>`)))
            .join(b64['Fn::Join'][0]);
    return { text, tokens };
  });
  // Every group boots the same way.
  expect(new Set(texts.map((t) => t.text)).size).toBe(1);
  return texts[0];
}

function importTemplate(s: Synthesized): Template {
  return Template.fromJSON(s.assembly.getStackByName(s.import.stackName).template);
}

function instancePolicyStatements(s: Synthesized): CfnJson[] {
  const policies = resourcesOf(s.webTemplate, 'AWS::IAM::Policy').filter(([id]) => /Tier1InstanceRole/.test(id));
  expect(policies).toHaveLength(1);
  return policies[0][1].Properties.PolicyDocument.Statement;
}

/** The render input the user data writes (the heredoc), parsed. */
function renderInputOf(text: string): Record<string, unknown> {
  const m = new RegExp(`cat > ${RENDER_INPUT_FILE} <<'RUSHHOUR_SITE_JSON'\\n([\\s\\S]*?)\\nRUSHHOUR_SITE_JSON\\n`).exec(
    text,
  );
  expect(m).not.toBeNull();
  return JSON.parse(m![1]);
}

const BOOT_FILE = path.join(__dirname, '..', '..', '.rushhour', 'bundle', 'site-boot.js');

describe('php + nginx, database sessions', () => {
  let s: Synthesized;
  let ud: { text: string; tokens: CfnJson[] };
  beforeAll(() => {
    s = synth(phpConfig());
    ud = userData(s);
  }, 120000);

  test('installs the PHP stream, nginx and Node 22 from the distribution with retries, logging each step', () => {
    const packages = al2023Packages(parseSite(PHP_SITE));
    expect(packages).toEqual(
      expect.arrayContaining(['nginx', 'nodejs22', 'php8.3-fpm', 'php8.3-mysqlnd', 'php8.3-gd']),
    );
    expect(packages).not.toContain('httpd');
    expect(ud.text).toContain(`  if dnf install -y ${packages.join(' ')}; then break; fi\n`);
    // deploy-safety's helpers stay: retry for S3, boot_step timings.
    for (const line of BOOT_HELPERS) expect(ud.text).toContain(`${line}\n`);
    for (const step of ['install packages', 'download the site bundle', 'download the boot step', 'render the site'])
      expect(ud.text).toContain(`boot_step "${step}"\n`);
    expect(ud.text).toMatch(/boot_step done\n?$/);
  });

  test('both assets are fetched with retries and checked by sha256 before use', () => {
    const bundleSha = sha256FileSync(lampBundle());
    const bootSha = sha256FileSync(BOOT_FILE);
    expect(ud.text).toContain(`if ! echo "${bundleSha}  /opt/rushhour/download" | sha256sum --check --status; then`);
    expect(ud.text).toContain(`if ! echo "${bootSha}  /opt/rushhour/download" | sha256sum --check --status; then`);
    expect(ud.text.match(/^retry aws s3 cp --only-show-errors /gm)).toHaveLength(2);
    expect(ud.text).toContain('tar -xzf /opt/rushhour/download -C /opt/rushhour/site --no-same-owner\n');
    expect(ud.text).toContain(
      'install -o root -g root -m 0644 /opt/rushhour/download /opt/rushhour/lib/site-boot.js\n',
    );
    // The web stack uploads two files besides its template: the site and the boot step, byte for byte.
    const manifest = JSON.parse(
      fs.readFileSync(path.join(s.assembly.directory, `${s.web.stackName}.assets.json`), 'utf8'),
    ) as { files: Record<string, { source: { path: string } }> };
    const files = Object.values(manifest.files)
      .map((f) => f.source.path)
      .filter((p) => !p.endsWith('.template.json'));
    expect(files.map((f) => sha256FileSync(path.join(s.assembly.directory, f))).sort()).toEqual(
      [bundleSha, bootSha].sort(),
    );
  });

  test('calls exactly the boot bundle command test/site runs, with an input it accepts', () => {
    const l = synthLayout(parseSite(PHP_SITE), 80);
    const argv = bootRenderArgv(l);
    // test/site/support.ts: execFileSync(node, [path.join(layout.libDir, 'site-boot.js'), 'render', input]).
    expect(argv).toEqual(['/usr/bin/node-22', path.join(l.libDir, 'site-boot.js'), 'render', RENDER_INPUT_FILE]);
    expect(ud.text).toContain(`\n${argv.join(' ')}\n`);
    const input = renderInputOf(ud.text);
    expect(Object.keys(input).sort()).toEqual(['healthCheckPath', 'port', 'region', 'site', 'ssmPrefix']);
    // Run the boot step on that input in a temp tree (Debian paths), as test/site does with its own input.
    const root = path.join(tmp, 'render-php');
    const file = path.join(root, 'input.json');
    const unitDir = path.join(root, 'units');
    fs.mkdirSync(root, { recursive: true });
    const layout = { ...debianLayout(root, 80, 8081), siteUser: os.userInfo().username, siteGroup: groupName() };
    fs.writeFileSync(file, JSON.stringify({ ...input, layout, unitDir }));
    const out = execFileSync(process.execPath, [BOOT_FILE, 'render', file], { encoding: 'utf8' });
    expect(out).toMatch(/rendered \d+ files for a php site/);
    expect(fs.readdirSync(unitDir).sort()).toEqual(['rushhour-front.service', 'rushhour-site.service']);
    expect(ud.text).toContain('systemctl enable --now --no-block rushhour-site.service rushhour-front.service\n');
    expect(fs.readFileSync(path.join(layout.etcDir!, 'nginx.conf'), 'utf8')).toMatch(/listen 80\b/);
    expect(ud.text).toContain('curl -fsS -o /dev/null http://127.0.0.1:80/healthz');
  });

  test('the target group checks the front door on web.port 80; the instances admit the balancer there', () => {
    const tgs = resourcesOf(s.webTemplate, 'AWS::ElasticLoadBalancingV2::TargetGroup');
    expect(tgs).toHaveLength(3);
    for (const [, tg] of tgs) {
      expect(tg.Properties).toMatchObject({ Port: 80, Protocol: 'HTTP', HealthCheckPath: '/healthz' });
      // Database sessions: no stickiness needed.
      expect(tg.Properties.TargetGroupAttributes).toContainEqual({ Key: 'stickiness.enabled', Value: 'false' });
    }
    const ingress = resourcesOf(s.webTemplate, 'AWS::EC2::SecurityGroupIngress').filter(([id]) =>
      /Tier1InstanceSecurityGroupfrom/.test(id),
    );
    expect(ingress.map(([, r]) => [r.Properties.FromPort, r.Properties.ToPort, r.Properties.IpProtocol])).toEqual([
      [80, 80, 'tcp'],
    ]);
    expect(ingress[0][1].Properties.SourceSecurityGroupId['Fn::GetAtt'][0]).toMatch(/Tier1LoadBalancerSecurityGroup/);
  });

  test('the instance role gets exactly what the boot step needs', () => {
    const statements = instancePolicyStatements(s);
    const byAction = Object.fromEntries(statements.map((st) => [JSON.stringify(st.Action), st]));
    expect(Object.keys(byAction).sort()).toEqual(
      ['"s3:GetObject"', '"secretsmanager:GetSecretValue"', '"ssm:GetParameters"'].sort(),
    );
    expect(byAction['"s3:GetObject"'].Resource).toHaveLength(2);
    const ssm = byAction['"ssm:GetParameters"'].Resource as CfnJson[];
    expect(
      ssm.map((r) => JSON.stringify(r).match(/parameter\/rushhour\/course-select\/db\/[a-z-]+/)![0]).sort(),
    ).toEqual(
      ['host', 'port', 'name', 'user', 'password-secret-arn']
        .map((k) => `parameter/rushhour/course-select/db/${k}`)
        .sort(),
    );
    expect(JSON.stringify(byAction['"secretsmanager:GetSecretValue"'].Resource)).toMatch(/AppSecret/);
    for (const st of statements) {
      expect(st.Effect).toBe('Allow');
      expect(JSON.stringify(st.Resource)).not.toMatch(/\*"/);
    }
  });

  test('no secret in the user data or any template', () => {
    // The user data's deploy-time values are the asset bucket only: nothing that resolves to a secret.
    for (const t of ud.tokens) expect(JSON.stringify(t)).not.toMatch(/Secret|ImportValue|resolve:/);
    expect(ud.text).not.toMatch(/password(?!-secret-arn)|DB_PASSWORD|RDS_PASSWORD|resolve:secretsmanager|ssm-secure/i);
    for (const stack of [s.data, s.import, s.web]) {
      const json = JSON.stringify(s.assembly.getStackByName(stack.stackName).template);
      // Passwords are generated by Secrets Manager (GenerateSecretString), never written as a value.
      expect(json).not.toContain('"SecretString"');
      expect(json).not.toMatch(/"(MasterUserPassword|Password)":\s*"/);
    }
    const webJson = JSON.stringify(s.webTemplate.toJSON());
    expect(webJson).not.toMatch(/resolve:secretsmanager|resolve:ssm-secure/);
  });

  test('the import creates the sessions table; the export leaves it out', () => {
    importTemplate(s).hasResourceProperties('Custom::RushhourDumpImport', { SessionsTable: 'true' });
    expect(SESSIONS_TABLE).toBe('rushhour_sessions');
    expect(OWN_TABLES.test(SESSIONS_TABLE)).toBe(true);
  });
});

describe('php + Apache, file sessions', () => {
  let s: Synthesized;
  let ud: { text: string; tokens: CfnJson[] };
  beforeAll(() => {
    s = synth(apacheConfig());
    ud = userData(s);
  }, 120000);

  test('installs httpd and the 8.4 stream; starts Apache between php-fpm and the front door', () => {
    const packages = al2023Packages(parseSite(apacheConfig().web.site));
    expect(packages).toEqual(expect.arrayContaining(['httpd', 'php8.4-fpm', 'nginx', 'nodejs22']));
    expect(ud.text).toContain(`  if dnf install -y ${packages.join(' ')}; then break; fi\n`);
    expect(ud.text).toContain(
      'systemctl enable --now --no-block rushhour-site.service rushhour-apache.service rushhour-front.service\n',
    );
  });

  test('per-instance sessions get balancer stickiness; no sessions table', () => {
    for (const [, tg] of resourcesOf(s.webTemplate, 'AWS::ElasticLoadBalancingV2::TargetGroup'))
      expect(tg.Properties.TargetGroupAttributes).toEqual(
        expect.arrayContaining([
          { Key: 'stickiness.enabled', Value: 'true' },
          { Key: 'stickiness.type', Value: 'lb_cookie' },
          { Key: 'stickiness.lb_cookie.duration_seconds', Value: String(FILE_SESSION_STICKINESS_SECONDS) },
        ]),
      );
    const [[, cr]] = resourcesOf(importTemplate(s), 'Custom::RushhourDumpImport');
    expect(cr.Properties).not.toHaveProperty('SessionsTable');
  });
});

describe('node', () => {
  let s: Synthesized;
  let ud: { text: string; tokens: CfnJson[] };
  beforeAll(() => {
    s = synth(nodeConfig());
    ud = userData(s);
  }, 120000);

  test("installs Node 24 beside the boot step's Node 22; node on the site's PATH is 24", () => {
    expect(ud.text).toContain('  if dnf install -y nginx nodejs22 nodejs24; then break; fi\n');
    expect(ud.text).toContain('ln -sfn /usr/bin/node-24 /opt/rushhour/lib/bin/node\n');
    expect(ud.text).toContain(
      '/usr/bin/node-22 /opt/rushhour/lib/site-boot.js render /opt/rushhour/render-input.json\n',
    );
    expect(ud.text).toContain('systemctl enable --now --no-block rushhour-site.service rushhour-front.service\n');
    expect(renderInputOf(ud.text)).toMatchObject({ port: 8080, healthCheckPath: '/up', site: { runtime: 'node' } });
  });

  test('the health check, the port and the role', () => {
    for (const [, tg] of resourcesOf(s.webTemplate, 'AWS::ElasticLoadBalancingV2::TargetGroup'))
      expect(tg.Properties).toMatchObject({ Port: 8080, HealthCheckPath: '/up' });
    expect(
      instancePolicyStatements(s)
        .map((st) => st.Action)
        .sort(),
    ).toEqual(['s3:GetObject', 'secretsmanager:GetSecretValue', 'ssm:GetParameters'].sort());
    const [[, cr]] = resourcesOf(importTemplate(s), 'Custom::RushhourDumpImport');
    expect(cr.Properties).not.toHaveProperty('SessionsTable');
  });
});

describe('config', () => {
  test('a web.site runtime needs a bundle and no web.startCommand', () => {
    const without = () =>
      configWith((c) => {
        c.web = { port: 80, site: PHP_SITE };
      });
    expect(without).toThrow(ConfigError);
    expect(without).toThrow(/web\.bundlePath: is required with web\.site\.runtime "php"/);
    expect(() =>
      configWith((c) => {
        c.web = { port: 80, bundlePath: lampBundle(), startCommand: 'php -S 0.0.0.0:80', site: PHP_SITE };
      }),
    ).toThrow(/web\.startCommand: is not used with web\.site\.runtime "php"/);
    const ok: RushhourConfig = phpConfig();
    expect(ok.web.site?.runtime).toBe('php');
  });
});

function groupName(): string {
  return execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();
}
