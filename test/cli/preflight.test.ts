import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RushhourConfig } from '../../lib/config';
import {
  certificateCovers,
  CheckResult,
  formatPreflight,
  PreflightEdge,
  preflightExitCode,
  runPreflight,
} from '../../src/aws/preflight';
import { awsPreflightEdge, loadSdk, MissingClientError } from '../../src/aws/preflight-edge';
import { preflight } from '../../src/cli/commands/preflight';
import { LocalMoto, startMoto } from '../../src/local/moto';
import { configWith, EXAMPLE_CONFIG } from '../lib/synth-helpers';

/** An account where everything is in order for the example config; each test breaks one thing. */
function goodEdge(over: Partial<PreflightEdge> = {}): PreflightEdge {
  return {
    ec2StandardVcpuQuota: async () => 64,
    instanceTypeZones: async () => ['us-east-1a', 'us-east-1b', 'us-east-1c'],
    rdsOrderable: async () => [
      { engineVersion: '8.4.6', multiAzCapable: true },
      { engineVersion: '8.4.8', multiAzCapable: true },
      { engineVersion: '8.0.43', multiAzCapable: true },
    ],
    certificate: async () => ({ status: 'ISSUED', domainNames: ['*.example.edu', 'example.edu'] }),
    hostedZone: async () => ({ name: 'example.edu.' }),
    records: async () => [],
    bootstrapStack: async () => ({ status: 'UPDATE_COMPLETE', version: 28 }),
    ...over,
  };
}
const https = (): RushhourConfig =>
  configWith((c) => {
    c.certificateArn = 'arn:aws:acm:us-east-1:123456789012:certificate/abcd-1234';
  });
const zones = ['us-east-1a', 'us-east-1b'];
const byId = (rs: CheckResult[], id: string) => rs.find((r) => r.id === id)!;

describe('preflight checks (pure, against a fake edge)', () => {
  test("an account in order: all pass but the example's tight connection budget (a warning), exit 0", async () => {
    const rs = await runPreflight(https(), goodEdge(), zones);
    expect(rs.map((r) => [r.id, r.status])).toEqual([
      ['ec2-vcpu-quota', 'pass'],
      ['ec2-instance-type', 'pass'],
      ['rds-class', 'pass'],
      ['rds-engine', 'pass'],
      ['acm-certificate', 'pass'],
      ['route53-zone', 'pass'],
      ['route53-record', 'pass'],
      ['cdk-bootstrap', 'pass'],
      ['connection-budget', 'warn'],
      ['lcu-reservation', 'pass'],
    ]);
    expect(preflightExitCode(rs)).toBe(0);
    expect(byId(rs, 'connection-budget').detail).toBe(
      '18 instances × 16 + reserve = 298; db.t4g.medium max_connections about 341 (close to the limit)',
    );
    expect(byId(rs, 'rds-engine').detail).toBe(
      'offered with db.t4g.medium: 8.4.6, 8.4.8 (RDS creates the default minor)',
    );
  });

  test('vCPU quota: 3 × 6 × 2 = 36 vCPUs fails against 32 and warns over 80% of 40', async () => {
    const low = await runPreflight(https(), goodEdge({ ec2StandardVcpuQuota: async () => 32 }), zones);
    expect(byId(low, 'ec2-vcpu-quota')).toMatchObject({
      status: 'fail',
      detail: '18 instances × 2 vCPUs (t3.small) = 36 vCPUs at full scale-out; quota 32',
      fix: expect.stringContaining('L-1216C47A) of at least 40 vCPUs'),
    });
    expect(preflightExitCode(low)).toBe(1);
    const thin = await runPreflight(https(), goodEdge({ ec2StandardVcpuQuota: async () => 40 }), zones);
    expect(byId(thin, 'ec2-vcpu-quota').status).toBe('warn');
  });

  test('instance type missing in a zone, RDS class or pinned minor not offered', async () => {
    const rs = await runPreflight(
      configWith((c) => {
        c.database!.engineVersion = '8.4.7';
        c.database!.autoMinorVersionUpgrade = false;
      }),
      goodEdge({ instanceTypeZones: async () => ['us-east-1a'] }),
      zones,
    );
    expect(byId(rs, 'ec2-instance-type')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('not offered in us-east-1b'),
    });
    expect(byId(rs, 'rds-engine')).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('set database.engineVersion to "8.4"'),
    });
    const none = await runPreflight(https(), goodEdge({ rdsOrderable: async () => [] }), zones);
    expect(byId(none, 'rds-class')).toMatchObject({
      status: 'fail',
      detail: 'db.t4g.medium is not offered for MySQL in us-east-1',
    });
  });

  test('certificate: pending, or not covering the record; a foreign record of the same name', async () => {
    const pending = await runPreflight(
      https(),
      goodEdge({ certificate: async () => ({ status: 'PENDING_VALIDATION', domainNames: ['www.example.edu'] }) }),
      zones,
    );
    expect(byId(pending, 'acm-certificate')).toMatchObject({
      status: 'fail',
      detail: 'status PENDING_VALIDATION, not ISSUED; does not cover select.example.edu (names: www.example.edu)',
    });
    expect(certificateCovers('*.example.edu', 'select.example.edu')).toBe(true);
    expect(certificateCovers('*.example.edu', 'a.select.example.edu')).toBe(false);
    const taken = await runPreflight(
      https(),
      goodEdge({ records: async () => [{ name: 'select.example.edu.', type: 'CNAME' }] }),
      zones,
    );
    expect(byId(taken, 'route53-record')).toMatchObject({ status: 'fail', detail: 'exists already: CNAME (simple)' });
    const ours = await runPreflight(
      https(),
      goodEdge({ records: async () => [{ name: 'select.example.edu.', type: 'A', setIdentifier: 'alb-1' }] }),
      zones,
    );
    expect(byId(ours, 'route53-record').status).toBe('pass');
  });

  test('an edge that cannot answer makes a warning with the reason, never a pass', async () => {
    const rs = await runPreflight(
      https(),
      goodEdge({
        ec2StandardVcpuQuota: async () => {
          throw new MissingClientError('@aws-sdk/client-service-quotas');
        },
      }),
      zones,
    );
    expect(byId(rs, 'ec2-vcpu-quota')).toMatchObject({
      status: 'warn',
      detail: 'could not check: MissingClientError: @aws-sdk/client-service-quotas is not installed',
      fix: 'add "@aws-sdk/client-service-quotas": "3.1169.0" to package.json dependencies and run npm install',
    });
    await expect(loadSdk('@aws-sdk/client-does-not-exist')).rejects.toBeInstanceOf(MissingClientError);
    expect(formatPreflight(rs)).toMatch(
      /^WARN {2}EC2 On-Demand vCPU quota .*\n +-> add "@aws-sdk\/client-service-quotas"/m,
    );
  });

  test('the CLI door: the example config with a broken bootstrap exits 1', async () => {
    const { results, code } = await preflight({
      config: EXAMPLE_CONFIG,
      edge: goodEdge({ bootstrapStack: async () => ({ status: 'CREATE_COMPLETE', version: 5 }) }),
    });
    expect(code).toBe(1);
    expect(byId(results, 'cdk-bootstrap')).toMatchObject({
      status: 'fail',
      detail: 'version 5, the templates require 6 or later',
    });
  });
});

describe('preflight edge against moto (CloudFormation and RDS, which moto serves)', () => {
  let moto: LocalMoto;
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => moto?.stop());

  test('the bootstrap stack: absent, then present with its version', async () => {
    const edge = awsPreflightEdge(moto.clientConfig);
    expect(await edge.bootstrapStack()).toBeUndefined();
    const template = {
      Resources: { StagingBucket: { Type: 'AWS::S3::Bucket' } },
      Outputs: { BootstrapVersion: { Value: '28' } },
    };
    await new CloudFormationClient(moto.clientConfig).send(
      new CreateStackCommand({ StackName: 'CDKToolkit', TemplateBody: JSON.stringify(template) }),
    );
    expect(await edge.bootstrapStack()).toEqual({ status: 'CREATE_COMPLETE', version: 28 });
  });

  test('RDS orderable options: moto answers (it holds no MySQL offerings, so the class check fails with what to do)', async () => {
    const edge = awsPreflightEdge(moto.clientConfig);
    expect(await edge.rdsOrderable('mysql', 'db.t4g.medium')).toEqual([]);
    const rs = await runPreflight(https(), { ...goodEdge(), rdsOrderable: edge.rdsOrderable }, zones);
    expect(byId(rs, 'rds-class')).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('describe-orderable-db-instance-options'),
    });
  });

  test('the clients the project lacks report the package to add', async () => {
    const edge = awsPreflightEdge(moto.clientConfig);
    for (const [call, pkg] of [
      [() => edge.ec2StandardVcpuQuota(), '@aws-sdk/client-service-quotas'],
      [() => edge.instanceTypeZones('t3.small'), '@aws-sdk/client-ec2'],
      [() => edge.certificate('arn:aws:acm:us-east-1:123456789012:certificate/x'), '@aws-sdk/client-acm'],
      [() => edge.hostedZone('Z0123456789EXAMPLE01'), '@aws-sdk/client-route-53'],
    ] as const) {
      const installed = fs.existsSync(path.join(__dirname, '..', '..', 'node_modules', pkg));
      // Once the package is added, the call reaches moto instead (which serves these APIs).
      if (!installed) await expect(call()).rejects.toMatchObject({ name: 'MissingClientError', packageName: pkg });
    }
  });
});
