import { Template } from 'aws-cdk-lib/assertions';
import { resourcesOf, synth, Synthesized, configWith } from './synth-helpers';

/**
 * What makes every CloudFormation path end in a stack the next deploy can use (issue 14): the import in
 * a stack of its own with a real time bound, and scaling that does what the config says.
 */
let example: Synthesized;
let imp: Template;
let variantWeb: Template;

beforeAll(() => {
  example = synth();
  imp = Template.fromJSON(example.assembly.getStackByName(example.import.stackName).template);
  variantWeb = synth(
    configWith((c) => {
      c.loadBalancers = { count: 1 };
      c.autoScaling = {
        ...c.autoScaling,
        scaleOutCpuPercent: 60,
        scaleOutFastCpuPercent: 85,
        scaleInCpuPercent: 15,
        scaleInEvaluationMinutes: 5,
        unhealthyHostThreshold: 3,
      };
    }),
  ).webTemplate;
});

describe('the import cannot strand the database', () => {
  test('the import is a stack of its own, after the data stack and before the web stack', () => {
    expect(example.import.stackName).toBe('rushhour-course-select-import');
    expect(example.import.dependencies.map((s) => s.stackName)).toEqual(['rushhour-course-select-data']);
    expect(example.web.dependencies.map((s) => s.stackName)).toContain('rushhour-course-select-import');
    // Nothing of the import is left in the stack that holds the database: its failure rolls back only itself.
    example.dataTemplate.resourceCountIs('Custom::RushhourDumpImport', 0);
    example.dataTemplate.resourceCountIs('AWS::StepFunctions::StateMachine', 0);
    imp.resourceCountIs('Custom::RushhourDumpImport', 1);
    imp.resourceCountIs('AWS::RDS::DBInstance', 0);
  });

  test("the custom resource has the contract's properties and a ServiceTimeout of one hour", () => {
    const [[, cr]] = resourcesOf(imp, 'Custom::RushhourDumpImport');
    expect(Object.keys(cr.Properties).sort()).toEqual(
      [
        'AllowReimport',
        'AppSecretArn',
        'Connections',
        'DatabaseName',
        'DumpAssetHash',
        'DumpBucket',
        'DumpKey',
        'MasterSecretArn',
        'ServiceTimeout',
        'ServiceToken',
        'SsmPrefix',
      ].sort(),
    );
    expect(cr.Properties).toMatchObject({
      DatabaseName: 'courses',
      SsmPrefix: '/rushhour/course-select/db',
      AllowReimport: 'false',
      ServiceTimeout: '3600',
    });
    expect(cr.Properties.DumpAssetHash).toMatch(/^[0-9a-f]{64}$/);
    expect(cr.Properties.DumpKey).toMatch(/^[0-9a-f]{64}\.gz$/);
  });

  test('onEvent sets a 50-minute wall-clock deadline that isComplete enforces, inside the ServiceTimeout', () => {
    const fns = resourcesOf(imp, 'AWS::Lambda::Function');
    const onEvent = fns.find(([id]) => id.startsWith('DumpImportOnEvent'))![1];
    const isComplete = fns.find(([id]) => id.startsWith('DumpImportIsComplete'))![1];
    expect(onEvent.Properties).toMatchObject({ Handler: 'index.onEvent', Timeout: 60, Runtime: 'nodejs24.x' });
    expect(isComplete.Properties).toMatchObject({ Handler: 'index.isComplete', Timeout: 900, Runtime: 'nodejs24.x' });
    expect(onEvent.Properties.Environment.Variables.RUSHHOUR_IMPORT_DEADLINE_MS).toBe(String(50 * 60_000));
    for (const [, f] of [
      ['', onEvent],
      ['', isComplete],
    ] as const) {
      for (const s of f.Properties.VpcConfig.SubnetIds) expect(JSON.stringify(s)).toMatch(/IsolatedSubnet/);
    }
    // The Provider's totalTimeout is a count of polls (120 x 30 s), which is why the deadline exists.
    const [[, sm]] = resourcesOf(imp, 'AWS::StepFunctions::StateMachine');
    const definition = JSON.stringify(sm.Properties.DefinitionString);
    expect(definition).toMatch(/\\"IntervalSeconds\\":30/);
    expect(definition).toMatch(/\\"MaxAttempts\\":120/);
  });

  test('the import waits for its own database rule; the rule is in the import stack, on the database group', () => {
    const [[ruleId, rule]] = resourcesOf(imp, 'AWS::EC2::SecurityGroupIngress');
    expect(rule.Properties).toMatchObject({ IpProtocol: 'tcp', FromPort: 3306, ToPort: 3306 });
    expect(JSON.stringify(rule.Properties.GroupId)).toMatch(/DatabaseSecurityGroup/);
    expect(rule.Properties.SourceSecurityGroupId['Fn::GetAtt'][0]).toMatch(/^DumpImportSecurityGroup/);
    const [[, cr]] = resourcesOf(imp, 'Custom::RushhourDumpImport');
    expect(cr.DependsOn).toContain(ruleId);
  });

  test("its roles read exactly the dump object and the contract's five parameters; only onEvent deletes them", () => {
    const policies = resourcesOf(imp, 'AWS::IAM::Policy').filter(([id]) =>
      /^DumpImport(OnEvent|IsComplete)ServiceRole/.test(id),
    );
    expect(policies).toHaveLength(2);
    for (const [id, p] of policies) {
      const text = JSON.stringify(p.Properties.PolicyDocument);
      expect(text).not.toMatch(/\*"/);
      for (const name of ['host', 'port', 'name', 'user', 'password-secret-arn'])
        expect(text).toContain(`:parameter/rushhour/course-select/db/${name}"`);
      expect(text.includes('ssm:DeleteParameters')).toBe(id.startsWith('DumpImportOnEvent'));
    }
  });

  test('logical ID of the import resource is kept (a rename would send Delete, then Create)', () => {
    expect(imp.toJSON().Resources.DumpImport45E20CB6?.Type).toBe('Custom::RushhourDumpImport');
  });
});

type Res = ReturnType<typeof resourcesOf>[number][1];

/** Each group's alarms with the policy their one action runs. */
function rulesOf(t: Template): { groupId: string; alarm: Res; policy: Res }[] {
  const policies = Object.fromEntries(resourcesOf(t, 'AWS::AutoScaling::ScalingPolicy'));
  return resourcesOf(t, 'AWS::CloudWatch::Alarm').map(([, alarm]) => {
    expect(alarm.Properties.AlarmActions).toHaveLength(1);
    const policy = policies[alarm.Properties.AlarmActions[0].Ref];
    return { groupId: policy.Properties.AutoScalingGroupName.Ref, alarm, policy };
  });
}

describe('scaling exactly as specified', () => {
  test('three alarms and three policies per group: CPU high, unhealthy hosts, CPU low', () => {
    example.webTemplate.resourceCountIs('AWS::CloudWatch::Alarm', 9);
    example.webTemplate.resourceCountIs('AWS::AutoScaling::ScalingPolicy', 9);
    const groups = resourcesOf(example.webTemplate, 'AWS::AutoScaling::AutoScalingGroup');
    for (const [groupId, group] of groups) {
      const mine = rulesOf(example.webTemplate).filter((r) => r.groupId === groupId);
      expect(mine.map((r) => [r.alarm.Properties.MetricName, r.alarm.Properties.Threshold]).sort()).toEqual([
        ['CPUUtilization', 20],
        ['CPUUtilization', 50],
        ['UnHealthyHostCount', 2],
      ]);
      // No group Cooldown: nothing here would read it (step policies ignore it; scale-in states its own).
      expect(group.Properties.Cooldown).toBeUndefined();
    }
  });

  test('CPU > 50% over 1 minute: +1; above 70%: +2 (one step policy, so not 1 + 2)', () => {
    example.webTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/EC2',
      MetricName: 'CPUUtilization',
      Statistic: 'Average',
      Period: 60,
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      Threshold: 50,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    example.webTemplate.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
      PolicyType: 'StepScaling',
      AdjustmentType: 'ChangeInCapacity',
      MetricAggregationType: 'Average',
      StepAdjustments: [
        { MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 20, ScalingAdjustment: 1 },
        { MetricIntervalLowerBound: 20, ScalingAdjustment: 2 },
      ],
    });
    for (const r of rulesOf(example.webTemplate).filter((x) => x.alarm.Properties.Threshold === 50)) {
      expect(r.alarm.Properties.Dimensions).toEqual([{ Name: 'AutoScalingGroupName', Value: { Ref: r.groupId } }]);
      expect(r.policy.Properties.StepAdjustments).toHaveLength(2);
    }
  });

  test('>= 2 unhealthy hosts over 1 minute: +1', () => {
    example.webTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'UnHealthyHostCount',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 2,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    for (const r of rulesOf(example.webTemplate).filter((x) => x.alarm.Properties.MetricName === 'UnHealthyHostCount'))
      expect(r.policy.Properties).toMatchObject({
        PolicyType: 'StepScaling',
        StepAdjustments: [{ MetricIntervalLowerBound: 0, ScalingAdjustment: 1 }],
      });
  });

  test('CPU < 20% for 10 minutes: -1 by a simple-scaling policy whose cooldown is the 10-minute window', () => {
    example.webTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'CPUUtilization',
      Statistic: 'Average',
      Period: 60,
      EvaluationPeriods: 10,
      DatapointsToAlarm: 10,
      Threshold: 20,
      ComparisonOperator: 'LessThanThreshold',
    });
    const low = rulesOf(example.webTemplate).filter((x) => x.alarm.Properties.Threshold === 20);
    expect(low).toHaveLength(3);
    for (const r of low)
      // CloudWatch re-runs the action every minute in ALARM; the simple policy refuses it inside its cooldown.
      expect(r.policy.Properties).toEqual({
        AutoScalingGroupName: { Ref: r.groupId },
        PolicyType: 'SimpleScaling',
        AdjustmentType: 'ChangeInCapacity',
        ScalingAdjustment: -1,
        Cooldown: '600',
      });
  });

  test('thresholds, steps and the scale-in window follow the config', () => {
    const rules = rulesOf(variantWeb);
    expect(rules).toHaveLength(3);
    const high = rules.find((r) => r.alarm.Properties.Threshold === 60)!;
    expect(high.policy.Properties.StepAdjustments).toEqual([
      { MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 25, ScalingAdjustment: 1 },
      { MetricIntervalLowerBound: 25, ScalingAdjustment: 2 },
    ]);
    expect(rules.find((r) => r.alarm.Properties.MetricName === 'UnHealthyHostCount')!.alarm.Properties.Threshold).toBe(
      3,
    );
    const low = rules.find((r) => r.alarm.Properties.Threshold === 15)!;
    expect(low.alarm.Properties).toMatchObject({ EvaluationPeriods: 5, DatapointsToAlarm: 5 });
    expect(low.policy.Properties.Cooldown).toBe('300');
  });

  test('autoScaling.cooldownSeconds left the config: naming it is an error, not a setting without effect', () => {
    expect(() =>
      configWith((c) => {
        (c.autoScaling as Record<string, unknown>).cooldownSeconds = 180;
      }),
    ).toThrow(/autoScaling.*cooldownSeconds/);
  });
});
