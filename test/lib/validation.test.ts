import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { addRushhourStacks } from '../../lib/rushhour-app';
import { configWith, exampleConfig, NOW, synth } from './synth-helpers';

interface Report {
  pluginReports: {
    pluginName: string;
    conclusion: string;
    violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[];
  }[];
}

function report(dir: string): Report {
  return JSON.parse(fs.readFileSync(path.join(dir, 'validation-report.json'), 'utf8'));
}

test('cdk-nag AwsSolutions and the default CloudFormation rules report nothing unacknowledged on the example app', () => {
  // synth() throws on any violation; the report then states each plugin passed.
  // With bundling, as `cdk synth` does: this is the test that would see a handler esbuild cannot bundle.
  const s = synth(undefined, { defaultRules: true, bundle: true });
  const r = report(s.assembly.directory);
  // A plugin with nothing to report (no violation, nothing acknowledged by aws-cdk-lib) is left out of the report.
  for (const p of r.pluginReports) {
    expect({
      plugin: p.pluginName,
      violations: p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} ${c.constructPath}`)),
    }).toEqual({ plugin: p.pluginName, violations: [] });
    expect(p.conclusion).toBe('success');
  }
});

test('a variant with a fixed account, HTTPS, NAT, multi-AZ, 2 balancers and a tarball site is nag-clean and needs no lookup', () => {
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'rushhour-site-'));
  const tarball = path.join(dir, 'site.tar.gz');
  require('node:child_process').execFileSync('tar', ['-czf', tarball, '-C', dir, '--files-from', '/dev/null']);
  const s = synth(
    configWith((c) => {
      c.account = '123456789012';
      c.certificateArn = 'arn:aws:acm:us-east-1:123456789012:certificate/abcd-1234';
      c.network = { maxAzs: 2, natGateways: 1 };
      c.database = { ...c.database, multiAz: true };
      c.loadBalancers = { count: 2 };
      c.web = { bundlePath: tarball, startCommand: 'node server.js', port: 3000, healthCheckPath: '/up' };
    }),
  );
  for (const p of report(s.assembly.directory).pluginReports) expect(p.violations).toEqual([]);
  // A fixed account and region still needs no context lookup (AZs are named, the AMI is an SSM parameter).
  expect(s.assembly.manifest.missing ?? []).toEqual([]);
  expect(s.data.network.vpc.availabilityZones).toEqual(['us-east-1a', 'us-east-1b']);
});

test('the check is wired into the app: one unacknowledged finding stops the synth', () => {
  const app = new App();
  const stacks = addRushhourStacks(app, exampleConfig(), { now: NOW });
  new s3.Bucket(stacks.data, 'NoLogsNoTls');
  expect(() => app.synth()).toThrow(/AwsSolutions-S1[\s\S]*NoLogsNoTls/);
});
