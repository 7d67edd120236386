import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { describeStack } from '../../src/aws/deployment';
import { status } from '../../src/cli/commands/status';
import { startMoto } from '../../src/local/moto';
import { StateFile } from '../../src/state/state-file';

const ROOT = path.resolve(__dirname, '..', '..');

/** A state file as pull-db, pull-web and an interrupted sync-back leave it. */
function sampleState(dir: string): string {
  const file = path.join(dir, 'state.json');
  const state = new StateFile(file);
  const pull = state.operation('pull-db:ops@origin.example:22/courses');
  pull.record('checksums-before', { tables: {} });
  pull.finish({ dumpFile: '/data/courses.sql.gz', sha256: 'ab'.repeat(32), tables: 5 });
  state.operation('pull-web:ops@origin.example:22/var/www/site').finish({ archive: '/data/site.tar.gz', bytes: 123 });
  const sync = state.operation('sync-back:ops@origin.example:22/courses');
  sync.record('export', { exportId: 'export-1' });
  sync.record('backup', { backupFile: '/home/ops/rushhour-backups/courses-before.sql.gz' });
  return file;
}

/** An environment with no AWS credentials anywhere (and no instance-metadata lookup off loopback). */
function noAwsEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_')) env[k] = v;
  return { ...env, HOME: home, AWS_EC2_METADATA_DISABLED: 'true', AWS_REGION: 'us-east-1' };
}

test('without AWS credentials status prints the local part and says why the AWS part is missing', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-status-'));
  const stateFile = sampleState(dir);
  const out = execFileSync(
    process.execPath,
    [path.join(ROOT, 'bin', 'rushhour.js'), 'status', '--site', 'demo', '--state-file', stateFile],
    { encoding: 'utf8', env: noAwsEnv(dir) },
  );
  expect(out).toMatch(
    /pulled \(database\):\n {2}pull-db:ops@origin.example:22\/courses: finished .*\n {4}dumpFile=\/data\/courses.sql.gz/,
  );
  expect(out).toMatch(/pulled \(web\):\n {2}pull-web:ops@origin.example:22\/var\/www\/site: finished/);
  expect(out).toMatch(
    /synced back:\n {2}sync-back:ops@origin.example:22\/courses: UNFINISHED .*last step: backup; rerun the same command to resume/,
  );
  expect(out).toMatch(/aws: not shown: no AWS credentials found .*set AWS_PROFILE or AWS_ACCESS_KEY_ID/);
});

test('with a deployment (CloudFormation, RDS and Auto Scaling on moto) status shows outputs, the DB state and group sizes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-status-'));
  const moto = await startMoto();
  const saved = { ...process.env };
  try {
    const cfn = new CloudFormationClient(moto.clientConfig);
    await cfn.send(
      new CreateStackCommand({
        StackName: 'rushhour-demo-data',
        TemplateBody: JSON.stringify({
          Resources: {
            Db: {
              Type: 'AWS::RDS::DBInstance',
              Properties: {
                DBInstanceClass: 'db.t4g.medium',
                Engine: 'mysql',
                EngineVersion: '8.4.7',
                AllocatedStorage: '20',
                MasterUsername: 'admin',
                MasterUserPassword: `moto-${Date.now()}`,
              },
            },
          },
          Outputs: {
            ExportFunctionName: { Value: 'rushhour-demo-export' },
            ExportBucketName: { Value: 'rushhour-demo-exports' },
          },
        }),
      }),
    );
    await cfn.send(
      new CreateStackCommand({
        StackName: 'rushhour-demo-web',
        TemplateBody: JSON.stringify({
          Resources: {
            Lt: {
              Type: 'AWS::EC2::LaunchTemplate',
              Properties: { LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 't3.small' } },
            },
            G1: {
              Type: 'AWS::AutoScaling::AutoScalingGroup',
              Properties: {
                MinSize: '1',
                MaxSize: '6',
                DesiredCapacity: '2',
                AvailabilityZones: ['us-east-1a'],
                LaunchTemplate: {
                  LaunchTemplateId: { Ref: 'Lt' },
                  Version: { 'Fn::GetAtt': ['Lt', 'LatestVersionNumber'] },
                },
              },
            },
          },
          Outputs: { AutoScalingGroup1Name: { Value: { Ref: 'G1' } } },
        }),
      }),
    );
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_REGION: moto.region,
      AWS_ACCESS_KEY_ID: 'moto-local',
      AWS_SECRET_ACCESS_KEY: 'moto-local',
    });
    const stateFile = sampleState(dir);
    const before: string[] = [];
    await status({ site: 'demo', stateFile, print: (s) => before.push(s) });
    // The import stack is listed, in deployment order, also before it exists.
    expect(before.join('\n')).toMatch(
      /stack rushhour-demo-data: CREATE_COMPLETE\n(?: {4}.*\n)*? {2}stack rushhour-demo-import: not deployed\n {2}stack rushhour-demo-web: CREATE_COMPLETE/,
    );
    await cfn.send(
      new CreateStackCommand({
        StackName: 'rushhour-demo-import',
        TemplateBody: JSON.stringify({
          Resources: {
            Marker: {
              Type: 'AWS::SSM::Parameter',
              Properties: { Name: '/rushhour/demo/db/marker', Type: 'String', Value: 'imported' },
            },
          },
          Outputs: {
            ImportedDumpAssetHash: { Value: 'cd'.repeat(32) },
            ImportedStatements: { Value: '1234' },
          },
        }),
      }),
    );
    const lines: string[] = [];
    const res = await status({ site: 'demo', stateFile, print: (s) => lines.push(s) });
    const out = lines.join('\n');
    expect(out).toMatch(
      new RegExp(
        `stack rushhour-demo-import: CREATE_COMPLETE\n {4}ImportedDumpAssetHash = ${'cd'.repeat(32)}\n {4}ImportedStatements = 1234\n {2}stack rushhour-demo-web:`,
      ),
    );
    expect(Object.keys(res.aws?.stacks ?? {})).toEqual([
      'rushhour-demo-data',
      'rushhour-demo-import',
      'rushhour-demo-web',
    ]);
    expect(res.awsMissing).toBeUndefined();
    expect(out).toMatch(/stack rushhour-demo-data: CREATE_COMPLETE\n {4}ExportFunctionName = rushhour-demo-export/);
    expect(out).toMatch(/database \S+: available \(db\.t4g\.medium, MySQL 8\.4\.7\)/);
    expect(out).toMatch(/group rushhour-demo-web-G1-\S+: 2 in service, desired 2 \(min 1, max 6\)/);
    expect(res.aws?.groups).toHaveLength(1);
    // A stack that does not exist is recognised by the SDK error's name, not its message.
    expect(await describeStack('rushhour-absent-data')).toBeNull();
  } finally {
    process.env = saved;
    await moto.stop();
  }
});
