import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { ConfigError } from '../../lib/config';
import { WebBundleRefusedError } from '../../lib/constructs/web-bundle';
import { addRushhourStacks } from '../../lib/rushhour-app';
import { configWith, NOW } from './synth-helpers';

/** `cdk synth` vets `web.bundlePath` with pull-web's rules: a hostile tarball stops at synth, not on an instance. */
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-bundle-vetting-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A site packed by hand the way the old docs said (`tar -czf site.tar.gz -C DIR .`), after `prepare`. */
function tarball(name: string, prepare: (site: string) => void): string {
  const site = path.join(dir, name);
  fs.mkdirSync(site);
  fs.writeFileSync(path.join(site, 'server.js'), 'require("http").createServer().listen(3000);\n');
  prepare(site);
  const file = path.join(dir, `${name}.tar.gz`);
  execFileSync('tar', ['-czf', file, '-C', site, '.']);
  return file;
}

// The feature flags cdk.json gives the CLI, as synth-helpers does.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const CDK_CONTEXT = require('../../cdk.json').context;

function build(bundlePath: string) {
  const app = new App({ context: CDK_CONTEXT, outdir: fs.mkdtempSync(path.join(dir, 'cdk.out-')) });
  const stacks = addRushhourStacks(
    app,
    configWith((c) => {
      c.web = { bundlePath, startCommand: 'node server.js', port: 3000, healthCheckPath: '/up' };
    }),
    { now: NOW },
  );
  return { app, ...stacks };
}

test('synth fails on a bundle with an absolute symlink and a setuid file, naming web.bundlePath and each entry', () => {
  const bad = tarball('bad', (site) => {
    fs.symlinkSync('/etc/passwd', path.join(site, 'passwd'));
    fs.writeFileSync(path.join(site, 'tool'), '#!/bin/sh\n');
    fs.chmodSync(path.join(site, 'tool'), 0o4755);
  });
  let err: unknown;
  try {
    build(bad);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(WebBundleRefusedError);
  expect(err).toBeInstanceOf(ConfigError); // bin/app.ts prints it without a stack trace
  const refused = err as WebBundleRefusedError;
  expect(refused.name).toBe('WebBundleRefusedError');
  expect(refused.bundlePath).toBe(bad);
  expect(refused.findings.map((f) => `${f.path} ${f.rule}`).sort()).toEqual(['passwd link-escape', 'tool setid-bits']);
  expect(refused.message).toContain(`web.bundlePath: ${bad}: 2 entries must not reach an instance`);
  expect(refused.message).toMatch(/passwd: symlink points to the absolute path \/etc\/passwd \[link-escape\]/);
  expect(refused.message).toMatch(/tool: mode 4755 has setuid: stripped \[setid-bits\]/);
  expect(refused.message).toContain('npx rushhour pull-web');
});

test('synth accepts a clean bundle and warns, naming the file, about one that may hold credentials', () => {
  const ok = tarball('ok', (site) => {
    fs.writeFileSync(path.join(site, '.env'), 'DB_PASSWORD=from-the-origin\n');
  });
  const { app, web } = build(ok);
  // The warnings as construct metadata (what `cdk synth` prints), read without a second synthesis.
  const warnings = web.node
    .findAll()
    .flatMap((c) => c.node.metadata)
    .filter((m) => m.type === 'aws:cdk:warning')
    .map((m) => String(m.data));
  expect(warnings).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^web\.bundlePath: \.env is named like a file that holds credentials/),
      expect.stringMatching(/^web\.bundlePath: \.env line 1 assigns a password-like value/),
    ]),
  );
  const assembly = app.synth();
  expect(JSON.stringify(assembly.stacks.map((s) => s.template))).not.toContain('from-the-origin');
});
