import { Duration, Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwactions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';
import { LCU_LEAD_MINUTES, lcuHolds } from '../capacity';
import { acknowledge } from '../nag/acknowledge';

/** The thresholds of the seed design; every value comes from the config. */
export interface ScalingThresholds {
  /** Average CPU above this over one minute adds one instance. */
  readonly scaleOutCpuPercent: number;
  /** Average CPU above this over one minute adds two instances. */
  readonly scaleOutFastCpuPercent: number;
  /** Average CPU below this for `scaleInEvaluationMinutes` consecutive minutes removes one instance. */
  readonly scaleInCpuPercent: number;
  readonly scaleInEvaluationMinutes: number;
  /** This many unhealthy targets over one minute adds one instance. */
  readonly unhealthyHostThreshold: number;
}

/** A scheduled pre-warm window: the group's minimum is raised at `start` and restored at `end`. */
export interface PrewarmWindow {
  readonly name: string;
  readonly start: Date;
  readonly end: Date;
  readonly minCapacity: number;
}

/** The window `now` is in (counting the LCU lead), if any: a deploy then keeps its minimums. */
export function activeWindow(windows: readonly PrewarmWindow[], now: Date): PrewarmWindow | undefined {
  return windows.find((w) => w.start.getTime() - LCU_LEAD_MINUTES * 60_000 <= now.getTime() && now < w.end);
}

export interface WebTierProps {
  readonly vpc: ec2.IVpc;
  readonly instanceSubnets: ec2.SubnetSelection;
  /** Instances get a public IP (no NAT design); their security group still admits only the ALB. */
  readonly associatePublicIpAddress: boolean;
  readonly instanceType: ec2.InstanceType;
  readonly userData: ec2.UserData;
  readonly minCapacity: number;
  readonly maxCapacity: number;
  readonly healthCheckGrace: Duration;
  readonly instanceWarmup: Duration;
  readonly port: number;
  readonly healthCheckPath: string;
  /**
   * Load-balancer cookie stickiness for this long (a per-instance session store needs it; a user moved to
   * another balancer by DNS still lands elsewhere). @default - no stickiness
   */
  readonly stickinessCookieDuration?: Duration;
  /** HTTPS listener with this certificate; HTTP only when absent. @default - HTTP only */
  readonly certificateArn?: string;
  /**
   * ALB capacity reservation in LCU, held only from `LCU_LEAD` before each schedule window to its end
   * (raised and released by EventBridge Scheduler). @default - none
   */
  readonly capacityReservationLcu?: number;
  readonly accessLogsBucket: s3.IBucket;
  readonly accessLogsPrefix: string;
  readonly scaling: ScalingThresholds;
  readonly schedule?: PrewarmWindow[];
  /** Scheduled actions whose time has passed are left out (CloudFormation refuses them). @default new Date() */
  readonly now?: Date;
}

/**
 * One internet-facing ALB with its own Auto Scaling group: launch template with IMDSv2 and detailed
 * monitoring, ELB health checks, scaling from explicit alarms, and scheduled pre-warm actions.
 * The group never states a desired capacity, so a deploy mid-week cannot shrink it.
 */
export class WebTier extends Construct {
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  readonly role: iam.Role;
  /** The instances' security group: admits only this tier's load balancer. */
  readonly securityGroup: ec2.SecurityGroup;
  readonly alarms: {
    cpuHigh: cloudwatch.Alarm;
    unhealthyHosts: cloudwatch.Alarm;
    cpuLow: cloudwatch.Alarm;
  };
  /** "https" or "http". */
  readonly protocol: string;

  constructor(scope: Construct, id: string, props: WebTierProps) {
    super(scope, id);
    // A launch template whatever the app's cdk.json says: new accounts cannot create launch configurations
    // (AWS stopped them for new accounts in 2024), and the template carries the CPU credit specification.
    this.node.setContext(cxapi.AUTOSCALING_GENERATE_LAUNCH_TEMPLATE, true);
    const https = props.certificateArn !== undefined;
    this.protocol = https ? 'https' : 'http';
    const now = props.now ?? new Date();
    const windows = props.schedule ?? [];
    // A deploy inside a window keeps that window's minimums: its start action is in the past (left out).
    const active = activeWindow(windows, now);

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      dropInvalidHeaderFields: true,
      idleTimeout: Duration.seconds(30),
      // Reserved (and billed) only inside a window: the scheduled actions below raise and release it.
      minimumCapacityUnit: active ? props.capacityReservationLcu : undefined,
    });
    this.loadBalancer.logAccessLogs(props.accessLogsBucket, props.accessLogsPrefix);

    this.role = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'rushhour web instance: read the bundle, the DB config and the app secret; Session Manager',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });

    this.securityGroup = new ec2.SecurityGroup(this, 'InstanceSecurityGroup', {
      vpc: props.vpc,
      description: 'Web instances: inbound only from their own load balancer',
      allowAllOutbound: true,
    });
    this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, 'Group', {
      vpc: props.vpc,
      securityGroup: this.securityGroup,
      vpcSubnets: props.instanceSubnets,
      associatePublicIpAddress: props.associatePublicIpAddress,
      instanceType: props.instanceType,
      machineImage: ec2.MachineImage.latestAmazonLinux2023({
        cpuType:
          props.instanceType.architecture === ec2.InstanceArchitecture.ARM_64
            ? ec2.AmazonLinuxCpuType.ARM_64
            : ec2.AmazonLinuxCpuType.X86_64,
      }),
      userData: props.userData,
      role: this.role,
      requireImdsv2: true,
      // One-minute CPU metrics: the scaling alarms evaluate 60-second periods.
      instanceMonitoring: autoscaling.Monitoring.DETAILED,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: autoscaling.BlockDeviceVolume.ebs(16, {
            encrypted: true,
            volumeType: autoscaling.EbsDeviceVolumeType.GP3,
          }),
        },
      ],
      minCapacity: active && active.start <= now ? Math.max(active.minCapacity, props.minCapacity) : props.minCapacity,
      maxCapacity: props.maxCapacity,
      healthChecks: autoscaling.HealthChecks.withAdditionalChecks({
        additionalTypes: [autoscaling.AdditionalHealthCheckType.ELB],
        gracePeriod: props.healthCheckGrace,
      }),
      defaultInstanceWarmup: props.instanceWarmup,
      // No group Cooldown: it applies only to simple-scaling policies without their own, and the one
      // simple policy here (scale-in) states its own.
      groupMetrics: [autoscaling.GroupMetrics.all()],
      // No update policy: a deploy only writes a new launch template version, which instances launched
      // afterwards use; a rolling replacement mid-rush would take capacity away.
    });

    this.targetGroup = new elbv2.ApplicationTargetGroup(this, 'Targets', {
      vpc: props.vpc,
      port: props.port,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.INSTANCE,
      targets: [this.autoScalingGroup],
      // Short drain: the app finishes in-flight requests on SIGTERM well within this.
      deregistrationDelay: Duration.seconds(30),
      stickinessCookieDuration: props.stickinessCookieDuration,
      healthCheck: {
        path: props.healthCheckPath,
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3,
        healthyHttpCodes: '200',
      },
    });

    if (https) {
      this.loadBalancer.addListener('Https', {
        port: 443,
        protocol: elbv2.ApplicationProtocol.HTTPS,
        certificates: [elbv2.ListenerCertificate.fromArn(props.certificateArn!)],
        sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
        defaultTargetGroups: [this.targetGroup],
      });
      this.loadBalancer.addRedirect({ sourcePort: 80, targetPort: 443 });
    } else {
      this.loadBalancer.addListener('Http', {
        port: 80,
        protocol: elbv2.ApplicationProtocol.HTTP,
        defaultTargetGroups: [this.targetGroup],
      });
    }

    this.alarms = this.addScaling(props.scaling);
    this.addSchedule(windows, props.minCapacity, now);
    if (props.capacityReservationLcu !== undefined) this.addLcuSchedule(windows, props.capacityReservationLcu, now);
    this.acknowledgeFindings();
  }

  /**
   * The seed design's rules, each an explicit alarm, so the template states them:
   * - CPU above `scaleOutCpuPercent` over one minute: one step policy, +1 below `scaleOutFastCpuPercent`
   *   and +2 above it (one policy, so at 75% the group adds 2, not 1 + 2);
   * - `unhealthyHostThreshold` or more unhealthy targets over one minute: +1 (step policy);
   * - CPU below `scaleInCpuPercent` for `scaleInEvaluationMinutes`: -1, at most once per that window.
   *   CloudWatch re-runs an alarm's action every minute while it stays in ALARM, and step policies
   *   ignore cooldowns: a step policy would remove one instance per minute after the first quiet window.
   *   A simple-scaling policy honours its own cooldown, set to the evaluation window.
   */
  private addScaling(t: ScalingThresholds) {
    const asgName = this.autoScalingGroup.autoScalingGroupName;
    const cpu = new cloudwatch.Metric({
      namespace: 'AWS/EC2',
      metricName: 'CPUUtilization',
      dimensionsMap: { AutoScalingGroupName: asgName },
      statistic: cloudwatch.Stats.AVERAGE,
      period: Duration.minutes(1),
    });
    const unhealthy = this.targetGroup.metrics.unhealthyHostCount({
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.minutes(1),
    });
    const alarm = (
      id: string,
      description: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      operator: cloudwatch.ComparisonOperator,
      periods: number,
    ) =>
      new cloudwatch.Alarm(this, `${id}Alarm`, {
        alarmDescription: description,
        metric,
        threshold,
        comparisonOperator: operator,
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    const stepPolicy = (
      id: string,
      aggregation: autoscaling.MetricAggregationType,
      steps: { lowerBound: number; upperBound?: number; adjustment: number }[],
    ) => {
      const action = new autoscaling.StepScalingAction(this, `${id}Policy`, {
        autoScalingGroup: this.autoScalingGroup,
        adjustmentType: autoscaling.AdjustmentType.CHANGE_IN_CAPACITY,
        metricAggregationType: aggregation,
      });
      // Bounds are relative to the alarm's threshold.
      for (const step of steps) action.addAdjustment(step);
      return new cwactions.AutoScalingAction(action);
    };
    const GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD;

    const cpuHigh = alarm(
      'CpuHigh',
      `CPU > ${t.scaleOutCpuPercent}% over 1 minute: +1 instance (+2 above ${t.scaleOutFastCpuPercent}%)`,
      cpu,
      t.scaleOutCpuPercent,
      GT,
      1,
    );
    const fastStep = t.scaleOutFastCpuPercent - t.scaleOutCpuPercent;
    cpuHigh.addAlarmAction(
      stepPolicy('CpuHigh', autoscaling.MetricAggregationType.AVERAGE, [
        { lowerBound: 0, upperBound: fastStep, adjustment: 1 },
        { lowerBound: fastStep, adjustment: 2 },
      ]),
    );

    const unhealthyHosts = alarm(
      'UnhealthyHosts',
      `UnHealthyHostCount >= ${t.unhealthyHostThreshold} over 1 minute: +1 instance`,
      unhealthy,
      t.unhealthyHostThreshold,
      cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      1,
    );
    unhealthyHosts.addAlarmAction(
      stepPolicy('UnhealthyHosts', autoscaling.MetricAggregationType.MAXIMUM, [{ lowerBound: 0, adjustment: 1 }]),
    );

    const window = Duration.minutes(t.scaleInEvaluationMinutes);
    const cpuLow = alarm(
      'CpuLow',
      `CPU < ${t.scaleInCpuPercent}% for ${t.scaleInEvaluationMinutes} consecutive minutes: -1 instance, at most once per ${t.scaleInEvaluationMinutes} minutes`,
      cpu,
      t.scaleInCpuPercent,
      cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      t.scaleInEvaluationMinutes,
    );
    const scaleIn = new autoscaling.CfnScalingPolicy(this, 'CpuLowPolicy', {
      autoScalingGroupName: asgName,
      policyType: 'SimpleScaling',
      adjustmentType: 'ChangeInCapacity',
      scalingAdjustment: -1,
      cooldown: String(window.toSeconds()),
    });
    cpuLow.addAlarmAction({ bind: () => ({ alarmActionArn: scaleIn.ref }) });
    return { cpuHigh, unhealthyHosts, cpuLow };
  }

  /** One-time scheduled actions: raise the minimum before the rush, restore it after. */
  private addSchedule(windows: PrewarmWindow[], baseMin: number, now: Date): void {
    const utc = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
    for (const w of windows) {
      if (w.start > now) {
        new autoscaling.CfnScheduledAction(this, `Prewarm-${w.name}-Start`, {
          autoScalingGroupName: this.autoScalingGroup.autoScalingGroupName,
          startTime: utc(w.start),
          minSize: w.minCapacity,
        });
      }
      if (w.end > now) {
        new autoscaling.CfnScheduledAction(this, `Prewarm-${w.name}-End`, {
          autoScalingGroupName: this.autoScalingGroup.autoScalingGroupName,
          startTime: utc(w.end),
          minSize: baseMin,
        });
      }
    }
  }

  /**
   * One-time EventBridge Scheduler actions calling ELB's ModifyCapacityReservation directly (universal
   * target, no Lambda): reserve `lcu` LCU from LCU_LEAD_MINUTES before each window, reset at its end.
   */
  private addLcuSchedule(windows: readonly PrewarmWindow[], lcu: number, now: Date): void {
    const at = (d: Date) => `at(${d.toISOString().replace(/\.\d{3}Z$/, '')})`;
    const role = new iam.Role(this, 'LcuSchedulerRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com'),
      description: 'EventBridge Scheduler: raise and release the load balancer capacity reservation',
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['elasticloadbalancing:ModifyCapacityReservation'],
        resources: [this.loadBalancer.loadBalancerArn],
      }),
    );
    const action = (id: string, when: Date, input: Record<string, unknown>) =>
      new scheduler.CfnSchedule(this, id, {
        scheduleExpression: at(when),
        scheduleExpressionTimezone: 'UTC',
        flexibleTimeWindow: { mode: 'OFF' },
        description: `rushhour: ${id}`,
        target: {
          arn: 'arn:aws:scheduler:::aws-sdk:elasticloadbalancingv2:modifyCapacityReservation',
          roleArn: role.roleArn,
          input: Stack.of(this).toJsonString({ LoadBalancerArn: this.loadBalancer.loadBalancerArn, ...input }),
          retryPolicy: { maximumRetryAttempts: 10, maximumEventAgeInSeconds: 1800 },
        },
      });
    // One reserve/reset pair per merged span (lcuHolds), named after its first window: a reset per window
    // would cancel the next window's reservation when that one starts within the lead of its end.
    for (const hold of lcuHolds(windows)) {
      const name = hold.windows[0];
      if (hold.from > now)
        action(`Lcu-${name}-Reserve`, hold.from, { MinimumLoadBalancerCapacity: { CapacityUnits: lcu } });
      if (hold.to > now) action(`Lcu-${name}-Release`, hold.to, { ResetCapacityReservation: true });
    }
  }

  private acknowledgeFindings(): void {
    acknowledge(
      this.role,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      'Session Manager access for the operator during the rush week (no SSH port, no key pairs); the AWS managed policy is the documented minimum for it.',
    );
    acknowledge(
      this.autoScalingGroup,
      'AwsSolutions-AS3',
      "Scaling is watched on the deployment dashboard and in the group's activity history; an SNS topic nobody subscribes to adds nothing.",
    );
    acknowledge(
      this.loadBalancer.connections.securityGroups[0],
      'AwsSolutions-EC23',
      'Internet-facing site: the load balancer must accept the public on its listener ports; the instances behind it admit only this security group.',
    );
  }
}
