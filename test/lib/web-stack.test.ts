import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { WeightedDns } from '../../lib/constructs/weighted-dns';
import { configWith, resourcesOf, synth, Synthesized } from './synth-helpers';

/** The web stack of the example config: 3 ALBs, groups of 1-6, seed thresholds, two pre-warm windows, DNS. */
let example: Synthesized;
let web: Template;
/** A variant: 2 ALBs, other thresholds, HTTPS, LCU reservation, weights, no DNS, one window already past. */
let variant: Template;

beforeAll(() => {
  example = synth();
  web = example.webTemplate;
  variant = synth(
    configWith((c) => {
      c.loadBalancers = { count: 2, capacityReservationLcu: 200, weights: [3, 1] };
      c.autoScaling = {
        ...c.autoScaling,
        minCapacity: 2,
        maxCapacity: 8,
        scaleOutCpuPercent: 60,
        scaleOutFastCpuPercent: 85,
        scaleInCpuPercent: 15,
        scaleInEvaluationMinutes: 5,
        unhealthyHostThreshold: 3,
      };
      c.certificateArn = 'arn:aws:acm:us-east-1:123456789012:certificate/abcd-1234';
      delete c.dns;
    }),
    { now: new Date('2027-02-02T00:00:00Z') },
  ).webTemplate;
});

const groups = (t: Template) => resourcesOf(t, 'AWS::AutoScaling::AutoScalingGroup');

describe('load balancers and groups', () => {
  test('one internet-facing ALB per configured count, each with its own group', () => {
    web.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 3);
    web.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 3);
    web.resourceCountIs('AWS::ElasticLoadBalancingV2::TargetGroup', 3);
    web.allResourcesProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internet-facing',
      Type: 'application',
    });
    variant.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 2);
    const targetGroupsUsed = groups(web).map(([, g]) => g.Properties.TargetGroupARNs[0].Ref);
    expect(new Set(targetGroupsUsed).size).toBe(3);
  });

  test('groups take min/max from config and never state a desired capacity', () => {
    for (const [, g] of groups(web)) {
      expect(g.Properties).toMatchObject({ MinSize: '1', MaxSize: '6' });
      expect(g.Properties.DesiredCapacity).toBeUndefined();
    }
    for (const [, g] of groups(variant)) {
      expect(g.Properties).toMatchObject({ MinSize: '2', MaxSize: '8' });
      expect(g.Properties.DesiredCapacity).toBeUndefined();
    }
  });

  test('groups use ELB health checks with a grace period and a default instance warmup', () => {
    web.allResourcesProperties('AWS::AutoScaling::AutoScalingGroup', {
      HealthCheckType: 'ELB',
      HealthCheckGracePeriod: 300,
      DefaultInstanceWarmup: 120,
    });
  });

  test('a deploy never rolls the instances nor resets sizes that scheduled actions changed', () => {
    for (const [, g] of groups(web)) {
      expect(g.UpdatePolicy).toEqual({ AutoScalingScheduledAction: { IgnoreUnmodifiedGroupSizeProperties: true } });
    }
  });

  test('instances come from a launch template with IMDSv2 required, detailed monitoring and encrypted volumes', () => {
    web.resourceCountIs('AWS::AutoScaling::LaunchConfiguration', 0);
    for (const [, g] of groups(web)) expect(g.Properties.LaunchTemplate).toBeDefined();
    web.allResourcesProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: { HttpTokens: 'required' },
        Monitoring: { Enabled: true },
        BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ Encrypted: true }) })],
      }),
    });
  });

  test('user data fetches the bundle asset and checks its sha256', () => {
    const [, lt] = resourcesOf(web, 'AWS::EC2::LaunchTemplate')[0];
    const text = JSON.stringify(lt.Properties.LaunchTemplateData.UserData);
    expect(text).toContain(example.web.bundle.sha256);
    expect(text).toContain('sha256sum --check');
    expect(text).toMatch(/s3:\/\/.*cdk-hnb659fds-assets-/);
    expect(text).toContain('RUSHHOUR_SSM_PREFIX=/rushhour/course-select/db');
  });

  test('access logs go to the logs bucket, one prefix per ALB', () => {
    for (const [i, [, lb]] of resourcesOf(web, 'AWS::ElasticLoadBalancingV2::LoadBalancer').entries()) {
      expect(lb.Properties.LoadBalancerAttributes).toEqual(
        expect.arrayContaining([
          { Key: 'access_logs.s3.enabled', Value: 'true' },
          { Key: 'access_logs.s3.prefix', Value: `alb-${i + 1}` },
        ]),
      );
    }
  });

  test('HTTP listener without a certificate; HTTPS plus a redirect with one', () => {
    web.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 3);
    web.allResourcesProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80,
      Protocol: 'HTTP',
      DefaultActions: [Match.objectLike({ Type: 'forward' })],
    });
    variant.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 4);
    variant.resourcePropertiesCountIs(
      'AWS::ElasticLoadBalancingV2::Listener',
      {
        Port: 443,
        Protocol: 'HTTPS',
        Certificates: [{ CertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abcd-1234' }],
      },
      2,
    );
    variant.resourcePropertiesCountIs(
      'AWS::ElasticLoadBalancingV2::Listener',
      { Port: 80, DefaultActions: [Match.objectLike({ Type: 'redirect' })] },
      2,
    );
  });

  test('no LCU capacity reservation in the template outside a window (its schedule: deploy-safety.test.ts)', () => {
    for (const t of [web, variant])
      t.allResourcesProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
        MinimumLoadBalancerCapacity: Match.absent(),
      });
  });

  test('target groups check the configured health path on the app port', () => {
    web.allResourcesProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 8080,
      Protocol: 'HTTP',
      HealthCheckPath: '/healthz',
      Matcher: { HttpCode: '200' },
    });
  });
});

describe('security groups', () => {
  test('instances accept traffic only from their own ALB, on the app port', () => {
    const sgs = resourcesOf(web, 'AWS::EC2::SecurityGroup');
    const instanceSgs = sgs.filter(([id]) => /InstanceSecurityGroup/.test(id));
    expect(instanceSgs).toHaveLength(3);
    for (const [id, sg] of instanceSgs) {
      expect(sg.Properties.SecurityGroupIngress).toBeUndefined();
      const ingress = resourcesOf(web, 'AWS::EC2::SecurityGroupIngress').filter(
        ([, r]) => r.Properties.GroupId['Fn::GetAtt']?.[0] === id,
      );
      expect(ingress).toHaveLength(1);
      const tier = id.match(/^(Tier\d+)/)![1];
      expect(ingress[0][1].Properties).toMatchObject({
        FromPort: 8080,
        ToPort: 8080,
        IpProtocol: 'tcp',
        SourceSecurityGroupId: {
          'Fn::GetAtt': [expect.stringMatching(new RegExp(`^${tier}LoadBalancerSecurityGroup`)), 'GroupId'],
        },
      });
    }
  });

  test('the ALBs accept the public on their listener port only', () => {
    for (const [, sg] of resourcesOf(web, 'AWS::EC2::SecurityGroup').filter(([id]) =>
      /LoadBalancerSecurityGroup/.test(id),
    )) {
      expect(sg.Properties.SecurityGroupIngress).toEqual([
        expect.objectContaining({ CidrIp: '0.0.0.0/0', FromPort: 80, ToPort: 80 }),
      ]);
    }
  });

  test('each tier opens MySQL on the database security group from its own instances, from the web stack', () => {
    const dbRules = resourcesOf(web, 'AWS::EC2::SecurityGroupIngress').filter(
      ([, r]) => r.Properties.FromPort === 3306,
    );
    expect(dbRules).toHaveLength(3);
    for (const [, r] of dbRules) {
      expect(r.Properties).toMatchObject({
        ToPort: 3306,
        IpProtocol: 'tcp',
        SourceSecurityGroupId: { 'Fn::GetAtt': [expect.stringMatching(/^Tier\dInstanceSecurityGroup/), 'GroupId'] },
      });
      expect(JSON.stringify(r.Properties.GroupId)).toContain('DatabaseSecurityGroup');
    }
  });
});

// Scaling rules: test/lib/deploy-safety.test.ts.

describe('scheduled pre-warm', () => {
  test("each window raises every group's minimum at its start and restores it at its end (UTC)", () => {
    web.resourceCountIs('AWS::AutoScaling::ScheduledAction', 12);
    for (const [groupId] of groups(web)) {
      const mine = resourcesOf(web, 'AWS::AutoScaling::ScheduledAction')
        .filter(([, a]) => a.Properties.AutoScalingGroupName.Ref === groupId)
        .map(([, a]) => a.Properties)
        .sort((a, b) => a.StartTime.localeCompare(b.StartTime));
      expect(mine).toEqual([
        { AutoScalingGroupName: { Ref: groupId }, StartTime: '2027-01-31T23:30:00Z', MinSize: 3 },
        { AutoScalingGroupName: { Ref: groupId }, StartTime: '2027-02-01T04:00:00Z', MinSize: 1 },
        { AutoScalingGroupName: { Ref: groupId }, StartTime: '2027-02-02T23:30:00Z', MinSize: 2 },
        { AutoScalingGroupName: { Ref: groupId }, StartTime: '2027-02-03T04:00:00Z', MinSize: 1 },
      ]);
    }
  });

  test('windows already over at synth time are left out (CloudFormation refuses past start times)', () => {
    // The variant synthesizes on 2027-02-02 00:00Z: round-1 is over, round-2 is ahead; restore to min 2.
    const times = resourcesOf(variant, 'AWS::AutoScaling::ScheduledAction').map(
      ([, a]) => `${a.Properties.StartTime}=${a.Properties.MinSize}`,
    );
    expect(new Set(times)).toEqual(new Set(['2027-02-02T23:30:00Z=2', '2027-02-03T04:00:00Z=2']));
    expect(times).toHaveLength(4);
  });
});

describe('DNS', () => {
  test('one weighted alias A record per ALB, own set identifier, target health evaluated, zone by id', () => {
    const records = resourcesOf(web, 'AWS::Route53::RecordSet').map(([, r]) => r.Properties);
    expect(records).toHaveLength(3);
    for (const r of records) {
      expect(r).toMatchObject({
        Type: 'A',
        Name: 'select.example.edu.',
        HostedZoneId: 'Z0123456789EXAMPLE01',
        Weight: 1,
        AliasTarget: expect.objectContaining({ EvaluateTargetHealth: true }),
      });
    }
    expect(new Set(records.map((r) => r.SetIdentifier)).size).toBe(3);
    const targets = records.map((r) => JSON.stringify(r.AliasTarget.DNSName));
    for (let i = 1; i <= 3; i++) expect(targets.filter((t) => t.includes(`Tier${i}LoadBalancer`))).toHaveLength(1);
  });

  test('configured weights go to the records in balancer order', () => {
    const stack = new Stack(new App(), 'Dns', { env: { region: 'us-east-1' } });
    const vpc = new ec2.Vpc(stack, 'Vpc', { availabilityZones: ['us-east-1a', 'us-east-1b'], natGateways: 0 });
    const albs = [1, 2].map((i) => new elbv2.ApplicationLoadBalancer(stack, `Alb${i}`, { vpc, internetFacing: true }));
    new WeightedDns(stack, 'Dns', {
      hostedZoneId: 'Z0123456789EXAMPLE01',
      zoneName: 'example.edu',
      recordName: 'select.example.edu',
      loadBalancers: albs,
      weights: [3, 1],
    });
    const records = resourcesOf(Template.fromStack(stack), 'AWS::Route53::RecordSet').map(([, r]) => r.Properties);
    expect(
      records.map((r) => [r.SetIdentifier, r.Weight, r.AliasTarget.DNSName['Fn::Join'][1][1]['Fn::GetAtt'][0]]),
    ).toEqual([
      ['alb-1', 3, expect.stringMatching(/^Alb1/)],
      ['alb-2', 1, expect.stringMatching(/^Alb2/)],
    ]);
    expect(
      () =>
        new WeightedDns(stack, 'Bad', {
          hostedZoneId: 'Z0123456789EXAMPLE01',
          zoneName: 'example.edu',
          recordName: 'x.example.edu',
          loadBalancers: albs,
          weights: [1],
        }),
    ).toThrow(/one weight per load balancer \(2\), got 1/);
  });

  test('no records without a DNS config', () => {
    variant.resourceCountIs('AWS::Route53::RecordSet', 0);
  });
});

describe('dashboard and outputs', () => {
  test('one dashboard with requests, 5xx, p95 latency, healthy hosts, CPU, group size and RDS metrics', () => {
    web.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = JSON.stringify(resourcesOf(web, 'AWS::CloudWatch::Dashboard')[0][1].Properties.DashboardBody);
    for (const m of [
      'RequestCount',
      'HTTPCode_ELB_5XX_Count',
      'HTTPCode_Target_5XX_Count',
      'TargetResponseTime',
      'p95',
      'HealthyHostCount',
      'CPUUtilization',
      'GroupInServiceInstances',
      'AWS/RDS',
      'DatabaseConnections',
    ]) {
      expect(body).toContain(m);
    }
  });

  test('outputs: site URL, each ALB DNS name, the dashboard URL', () => {
    web.hasOutput('SiteUrl', { Value: 'http://select.example.edu/' });
    for (let i = 1; i <= 3; i++)
      web.hasOutput(`LoadBalancer${i}DnsName`, {
        Value: { 'Fn::GetAtt': [Match.stringLikeRegexp(`^Tier${i}LoadBalancer`), 'DNSName'] },
      });
    web.hasOutput('DashboardUrl', Match.anyValue());
    variant.hasOutput('SiteUrl', {
      Value: {
        'Fn::Join': [
          '',
          ['https://', { 'Fn::GetAtt': [Match.stringLikeRegexp('^Tier1LoadBalancer'), 'DNSName'] }, '/'],
        ],
      },
    });
  });
});

describe('instance permissions', () => {
  test('read exactly the bundle object and the DB config parameters, no wildcards', () => {
    for (const [, p] of resourcesOf(web, 'AWS::IAM::Policy')) {
      const text = JSON.stringify(p.Properties.PolicyDocument);
      expect(text).not.toMatch(/\*"/);
      expect(text).toContain('s3:GetObject');
      expect(text).toContain(':parameter/rushhour/course-select/db/password-secret-arn');
      expect(text).toContain('secretsmanager:GetSecretValue');
    }
  });
});
