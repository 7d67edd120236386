import { Match, Template } from 'aws-cdk-lib/assertions';
import { maintenanceOverlaps } from '../../lib/config';
import { connectionBudget, dbMaxConnections, instanceVcpus } from '../../lib/capacity';
import { quote } from '../../src/cost/quote';
import { loadPriceTable } from '../../src/cost/prices';
import { configWith, exampleConfig, resourcesOf, ROOT, synth, Synthesized } from './synth-helpers';
import * as path from 'node:path';

/** Issue 14, items 4 and 5: the engine, the maintenance window, the LCU reservation, what a destroy leaves. */
let example: Synthesized;
let reserved: Synthesized;
let inWindow: Synthesized;
const lcuConfig = () =>
  configWith((c) => {
    c.loadBalancers = { count: 3, capacityReservationLcu: 100 };
  });

beforeAll(() => {
  example = synth();
  reserved = synth(lcuConfig());
  // 2027-02-01T01:00Z is inside window round-1 (2027-01-31T23:30Z to 2027-02-01T04:00Z).
  inWindow = synth(lcuConfig(), { now: new Date('2027-02-01T01:00:00Z') });
});

describe('RDS engine and maintenance', () => {
  test('the major version only, so creation cannot fail on a retired minor; minors upgrade in a set window', () => {
    example.dataTemplate.hasResourceProperties('AWS::RDS::DBInstance', {
      EngineVersion: '8.4',
      AutoMinorVersionUpgrade: true,
      PreferredMaintenanceWindow: 'sat:18:00-sat:18:30',
    });
  });

  test('the running version is an output of the import stack (DBInstance has no attribute for it)', () => {
    const imp = Template.fromJSON(example.assembly.getStackByName(example.import.stackName).template);
    imp.hasOutput('DatabaseEngineVersion', {
      Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DumpImport'), 'ServerVersion'] },
    });
  });

  test('a pinned minor with auto upgrade, or a maintenance window inside a schedule window, fails the config', () => {
    expect(() =>
      configWith((c) => {
        c.database!.engineVersion = '8.4.7';
        c.database!.autoMinorVersionUpgrade = true;
      }),
    ).toThrow(/database\.autoMinorVersionUpgrade: must be false with a pinned minor/);
    expect(() =>
      configWith((c) => {
        c.database!.engineVersion = '8.4.7';
        c.database!.autoMinorVersionUpgrade = false;
      }),
    ).not.toThrow();
    // round-1 runs Sunday 2027-01-31 23:30 UTC to Monday 04:00 UTC.
    expect(() =>
      configWith((c) => {
        c.database!.preferredMaintenanceWindow = 'mon:01:00-mon:01:30';
      }),
    ).toThrow(/database\.preferredMaintenanceWindow: "mon:01:00-mon:01:30" \(UTC\) overlaps schedule window "round-1"/);
  });

  test('maintenanceOverlaps: weekly windows, wrapping past Saturday midnight', () => {
    const t = (s: string) => Date.parse(s);
    expect(maintenanceOverlaps('sun:23:00-sun:23:45', t('2027-01-31T23:30:00Z'), t('2027-02-01T04:00:00Z'))).toBe(true);
    expect(maintenanceOverlaps('sat:18:00-sat:18:30', t('2027-01-31T23:30:00Z'), t('2027-02-01T04:00:00Z'))).toBe(
      false,
    );
    expect(maintenanceOverlaps('sat:23:30-sun:00:30', t('2027-01-31T00:10:00Z'), t('2027-01-31T01:00:00Z'))).toBe(true);
    // A window long after the interval's week does not count.
    expect(maintenanceOverlaps('wed:10:00-wed:11:00', t('2027-02-01T00:00:00Z'), t('2027-02-02T00:00:00Z'))).toBe(
      false,
    );
  });

  test('slow_query_log is on, since the slowquery log is exported', () => {
    example.dataTemplate.hasResourceProperties('AWS::RDS::DBInstance', {
      EnableCloudwatchLogsExports: Match.arrayWith(['slowquery']),
    });
    example.dataTemplate.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Parameters: Match.objectLike({ slow_query_log: '1', long_query_time: '1' }),
    });
  });
});

describe('what a destroy leaves', () => {
  test('the master secret is retained with the final snapshot', () => {
    example.dataTemplate.hasResource('AWS::RDS::DBInstance', { DeletionPolicy: 'Snapshot' });
    const [[, secret]] = resourcesOf(example.dataTemplate, 'AWS::SecretsManager::Secret').filter(([id]) =>
      id.includes('DatabaseInstanceSecret'),
    );
    expect(secret.DeletionPolicy).toBe('Retain');
    expect(secret.UpdateReplacePolicy).toBe('Retain');
  });
});

describe('LCU reservation only during the schedule windows', () => {
  test('outside a window the ALBs reserve nothing; Scheduler raises it 30 min before each window and resets it at the end', () => {
    reserved.webTemplate.allResourcesProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      MinimumLoadBalancerCapacity: Match.absent(),
    });
    const schedules = resourcesOf(reserved.webTemplate, 'AWS::Scheduler::Schedule').map(([, s]) => s.Properties);
    expect(schedules).toHaveLength(3 * 2 * 2);
    const at = schedules.map((s) => s.ScheduleExpression).sort();
    expect([...new Set(at)]).toEqual([
      'at(2027-01-31T23:00:00)',
      'at(2027-02-01T04:00:00)',
      'at(2027-02-02T23:00:00)',
      'at(2027-02-03T04:00:00)',
    ]);
    for (const s of schedules) {
      expect(s).toMatchObject({
        ScheduleExpressionTimezone: 'UTC',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: { Arn: 'arn:aws:scheduler:::aws-sdk:elasticloadbalancingv2:modifyCapacityReservation' },
      });
      const input = JSON.stringify(s.Target.Input);
      if (s.ScheduleExpression.includes('T23:00')) expect(input).toContain('\\"CapacityUnits\\":100');
      else expect(input).toContain('\\"ResetCapacityReservation\\":true');
    }
    // The scheduler's role may modify exactly its own load balancer's reservation.
    const policies = resourcesOf(reserved.webTemplate, 'AWS::IAM::Policy').filter(([id]) =>
      id.includes('LcuSchedulerRole'),
    );
    expect(policies).toHaveLength(3);
    for (const [, p] of policies)
      expect(p.Properties.PolicyDocument.Statement).toEqual([
        {
          Action: 'elasticloadbalancing:ModifyCapacityReservation',
          Effect: 'Allow',
          Resource: { Ref: expect.stringMatching(/LoadBalancer/) },
        },
      ]);
  });

  test("a deploy inside a window keeps that window's minimum and its reservation", () => {
    inWindow.webTemplate.allResourcesProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '3' });
    inWindow.webTemplate.allResourcesProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      MinimumLoadBalancerCapacity: { CapacityUnits: 100 },
    });
    // The window's end still restores the base minimum and releases the reservation.
    const actions = resourcesOf(inWindow.webTemplate, 'AWS::AutoScaling::ScheduledAction').map(([, a]) => a.Properties);
    expect(actions.filter((a) => a.StartTime === '2027-02-01T04:00:00Z').map((a) => a.MinSize)).toEqual([1, 1, 1]);
    const at = resourcesOf(inWindow.webTemplate, 'AWS::Scheduler::Schedule').map(
      ([, s]) => s.Properties.ScheduleExpression,
    );
    expect(at.filter((x) => x === 'at(2027-02-01T04:00:00)')).toHaveLength(3);
    expect(at.filter((x) => x === 'at(2027-01-31T23:00:00)')).toHaveLength(0);
    // Outside a window (the example's clock) the group's minimum is the base one.
    example.webTemplate.allResourcesProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '1' });
  });

  test('windows closer than the lead share one reserve/reset pair, so no reset drops the next reservation', () => {
    const close = synth(
      configWith((c) => {
        c.loadBalancers = { count: 3, capacityReservationLcu: 100 };
        c.schedule = [
          { name: 'first', start: '2027-02-01T08:00:00Z', end: '2027-02-01T10:00:00Z', minCapacity: 2 },
          { name: 'second', start: '2027-02-01T10:15:00Z', end: '2027-02-01T12:00:00Z', minCapacity: 3 },
        ];
      }),
    );
    const at = resourcesOf(close.webTemplate, 'AWS::Scheduler::Schedule').map(
      ([, s]) => s.Properties.ScheduleExpression,
    );
    // Per balancer: reserve 07:30, reset 12:00; no reset at 10:00 (it would cancel the 09:45 reservation).
    expect([...new Set(at)].sort()).toEqual(['at(2027-02-01T07:30:00)', 'at(2027-02-01T12:00:00)']);
    expect(at).toHaveLength(3 * 2);
  });

  test('cost prices the reservation for the windows only (plus the lead)', () => {
    const config = lcuConfig();
    const q = quote(config, loadPriceTable(path.join(ROOT, 'pricing', 'us-east-1.json')));
    const line = q.items.find((i) => i.item === 'Load balancer capacity reservation')!;
    // Two windows of 4.5 h, each with 0.5 h of lead: 10 h × 3 balancers × 100 LCU × 0.008 USD.
    expect(line).toMatchObject({ quantity: 3000, unit: 'reserved LCU-hour', unitPrice: 0.008, amount: 24 });
    expect(
      quote(exampleConfig(), loadPriceTable(path.join(ROOT, 'pricing', 'us-east-1.json'))).items.map((i) => i.item),
    ).not.toContain('Load balancer capacity reservation');
  });
});

describe('checks at synth', () => {
  test('a certificate in another region fails the config, naming the field', () => {
    expect(() =>
      configWith((c) => {
        c.certificateArn = 'arn:aws:acm:eu-west-1:123456789012:certificate/abcd-1234';
      }),
    ).toThrow(
      /certificateArn: the certificate is in region "eu-west-1", but a load balancer needs one in its own region "us-east-1"/,
    );
  });

  test('the connection budget: workers × pool × max instances against the class max_connections', () => {
    expect(instanceVcpus('t3.small')).toBe(2);
    expect(dbMaxConnections('t4g.medium')).toBe(341);
    // The example: 3 groups × 6 instances × (2 vCPUs × pool 8) + 10 reserved = 298 of about 341.
    expect(
      connectionBudget({ groups: 3, maxCapacity: 6, connectionsPerInstance: 16, dbInstanceClass: 't4g.medium' }),
    ).toEqual({
      maxInstances: 18,
      connectionsPerInstance: 16,
      needed: 298,
      maxConnections: 341,
      fits: true,
    });
    expect(() =>
      configWith((c) => {
        c.database!.instanceClass = 't4g.small';
      }),
    ).toThrow(/database\.instanceClass: db\.t4g\.small allows about 170 connections, but 18 instances .* need 298/);
    expect(() =>
      configWith((c) => {
        c.database!.instanceClass = 't4g.small';
        c.web!.dbConnectionsPerInstance = 7; // 18 × 7 + 10 = 136 of 90% × 170
      }),
    ).not.toThrow();
  });

  test('the stacks that read data-stack outputs change whenever the data stack template does', () => {
    const imp = Template.fromJSON(example.assembly.getStackByName(example.import.stackName).template);
    const fp = example.webTemplate.toJSON().Outputs.DataStackFingerprint.Value;
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    expect(imp.toJSON().Outputs.DataStackFingerprint.Value).toBe(fp);
    // The LCU variant's data stack is the same; a different database class changes it.
    expect(reserved.webTemplate.toJSON().Outputs.DataStackFingerprint.Value).toBe(fp);
    const other = synth(configWith((c) => void (c.database!.allocatedStorageGiB = 30)));
    expect(other.webTemplate.toJSON().Outputs.DataStackFingerprint.Value).not.toBe(fp);
  });
});
