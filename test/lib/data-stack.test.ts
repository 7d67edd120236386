import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Network } from '../../lib/constructs/network';
import { resourcesOf, synth, Synthesized } from './synth-helpers';

let example: Synthesized;
let data: Template;

beforeAll(() => {
  example = synth();
  data = example.dataTemplate;
});

describe('network', () => {
  test('no NAT gateway by default; public and isolated subnets in two named AZs', () => {
    data.resourceCountIs('AWS::EC2::NatGateway', 0);
    data.resourceCountIs('AWS::EC2::Subnet', 4);
    const azs = resourcesOf(data, 'AWS::EC2::Subnet').map(([, s]) => s.Properties.AvailabilityZone);
    expect(new Set(azs)).toEqual(new Set(['us-east-1a', 'us-east-1b']));
  });

  test('endpoints for the isolated parts: S3 gateway, Secrets Manager and SSM interfaces', () => {
    const endpoints = resourcesOf(data, 'AWS::EC2::VPCEndpoint').map(([, e]) => e.Properties);
    expect(endpoints).toHaveLength(3);
    const names = endpoints.map((e) => JSON.stringify(e.ServiceName));
    expect(names.filter((n) => n.includes('.s3'))).toHaveLength(1);
    expect(endpoints.find((e) => JSON.stringify(e.ServiceName).includes('.s3'))!.VpcEndpointType).toBe('Gateway');
    // The isolated subnets (database, Lambdas) reach S3 through the gateway endpoint's routes.
    const s3Routes = endpoints
      .find((e) => JSON.stringify(e.ServiceName).includes('.s3'))!
      .RouteTableIds.map((r: { Ref: string }) => r.Ref);
    expect(s3Routes.filter((r: string) => r.startsWith('NetworkVpcIsolatedSubnet'))).toHaveLength(2);
    for (const svc of ['secretsmanager', 'ssm']) {
      const e = endpoints.find((x) => JSON.stringify(x.ServiceName).endsWith(`.${svc}"`));
      expect(e).toMatchObject({ VpcEndpointType: 'Interface', PrivateDnsEnabled: true });
      for (const subnet of e!.SubnetIds) expect(subnet.Ref).toMatch(/^NetworkVpcIsolatedSubnet/);
    }
  });

  test('NAT gateways and private web subnets only when the config asks for them', () => {
    const stack = new Stack(new App(), 'T', { env: { region: 'us-east-1' } });
    const net = new Network(stack, 'Network', { availabilityZones: ['us-east-1a', 'us-east-1b'], natGateways: 1 });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::EC2::NatGateway', 1);
    t.resourceCountIs('AWS::EC2::Subnet', 6);
    expect(net.webInstancesNeedPublicIp).toBe(false);
    expect(example.data.network.webInstancesNeedPublicIp).toBe(true);
  });
});

describe('database', () => {
  test('RDS MySQL 8.4 (RDS picks the minor), private, encrypted, generated master secret', () => {
    data.resourceCountIs('AWS::RDS::DBInstance', 1);
    data.hasResourceProperties('AWS::RDS::DBInstance', {
      Engine: 'mysql',
      EngineVersion: '8.4',
      DBInstanceClass: 'db.t4g.medium',
      StorageEncrypted: true,
      PubliclyAccessible: false,
      MultiAZ: false,
      DeletionProtection: true,
      BackupRetentionPeriod: 7,
      DBName: 'courses',
      MasterUserPassword: {
        'Fn::Join': ['', [Match.stringLikeRegexp('resolve:secretsmanager'), Match.anyValue(), Match.anyValue()]],
      },
    });
  });

  test("a parameter group lets the master user (no SUPER) create the dump's triggers and routines", () => {
    data.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Family: 'mysql8.4',
      Parameters: { log_bin_trust_function_creators: '1' },
    });
    const [[pgId]] = resourcesOf(data, 'AWS::RDS::DBParameterGroup');
    data.hasResourceProperties('AWS::RDS::DBInstance', { DBParameterGroupName: { Ref: pgId } });
  });

  test('removal policy SNAPSHOT: a destroy leaves a final snapshot', () => {
    data.hasResource('AWS::RDS::DBInstance', { DeletionPolicy: 'Snapshot', UpdateReplacePolicy: 'Snapshot' });
  });

  test('runs in the isolated subnets', () => {
    const [, group] = resourcesOf(data, 'AWS::RDS::DBSubnetGroup')[0];
    for (const s of group.Properties.SubnetIds) expect(s.Ref).toMatch(/IsolatedSubnet/);
  });

  test('its security group admits only the export Lambda here (the import and web stacks add theirs)', () => {
    const [[dbSgId, dbSg]] = resourcesOf(data, 'AWS::EC2::SecurityGroup').filter(([id]) =>
      id.startsWith('DatabaseSecurityGroup'),
    );
    expect(dbSg.Properties.SecurityGroupIngress).toBeUndefined();
    const rules = resourcesOf(data, 'AWS::EC2::SecurityGroupIngress').filter(
      ([, r]) => r.Properties.GroupId['Fn::GetAtt']?.[0] === dbSgId,
    );
    const sources = rules.map(([, r]) => r.Properties.SourceSecurityGroupId['Fn::GetAtt'][0]).sort();
    expect(sources).toEqual([expect.stringMatching(/^ExportSecurityGroup/)]);
    for (const [, r] of rules)
      expect(r.Properties.FromPort).toEqual({
        'Fn::GetAtt': [expect.stringMatching(/^DatabaseInstance/), 'Endpoint.Port'],
      });
  });

  test('the app secret follows the contract: {"username":"rushhour_app"} plus a generated password without punctuation', () => {
    data.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: {
        SecretStringTemplate: '{"username":"rushhour_app"}',
        GenerateStringKey: 'password',
        ExcludePunctuation: true,
      },
    });
  });
});

describe('export function', () => {
  test("handler with the contract's environment, 15 minutes, in the isolated subnets", () => {
    const [[, fn]] = resourcesOf(data, 'AWS::Lambda::Function').filter(([id]) => id.startsWith('ExportFunction'));
    expect(fn.Properties).toMatchObject({ Handler: 'index.handler', Timeout: 900 });
    expect(Object.keys(fn.Properties.Environment.Variables).sort()).toEqual([
      'DATABASE_NAME',
      'EXPORT_BUCKET',
      'MASTER_SECRET_ARN',
    ]);
    for (const s of fn.Properties.VpcConfig.SubnetIds) expect(s.Ref).toMatch(/IsolatedSubnet/);
  });

  test('export bucket: encrypted, private, TLS only, retained', () => {
    const [[id, bucket]] = resourcesOf(data, 'AWS::S3::Bucket').filter(([i]) => i.startsWith('ExportBucket'));
    expect(bucket.Properties.BucketEncryption).toBeDefined();
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.DeletionPolicy).toBe('Retain');
    const policy = resourcesOf(data, 'AWS::S3::BucketPolicy').find(([, p]) => p.Properties.Bucket.Ref === id)![1];
    expect(JSON.stringify(policy.Properties.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
  });

  test('outputs: ExportFunctionName, ExportBucketName, SsmPrefix', () => {
    data.hasOutput('ExportFunctionName', { Value: { Ref: Match.stringLikeRegexp('^ExportFunction') } });
    data.hasOutput('ExportBucketName', { Value: { Ref: Match.stringLikeRegexp('^ExportBucket') } });
    data.hasOutput('SsmPrefix', { Value: '/rushhour/course-select/db' });
  });
});

describe('logical IDs of the stateful resources never change (a rename would replace the database)', () => {
  test.each([
    ['NetworkVpc7FB7348F', 'AWS::EC2::VPC'],
    ['DatabaseInstanceAA8A5FDE', 'AWS::RDS::DBInstance'],
    [
      'rushhourcourseselectdataDatabaseInstanceSecret55C4703C3fdaad7efa858a3daf9490cf0a702aeb',
      'AWS::SecretsManager::Secret',
    ],
    ['DatabaseAppSecret2E50FD00', 'AWS::SecretsManager::Secret'],
    ['ExportBucketFD42BCED', 'AWS::S3::Bucket'],
    ['LogsBucket9C4D8843', 'AWS::S3::Bucket'],
  ])('%s (%s)', (logicalId, type) => {
    expect(data.toJSON().Resources[logicalId]?.Type).toBe(type);
  });
});
