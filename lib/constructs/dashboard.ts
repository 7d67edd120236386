import { Duration, Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';

export interface RushDashboardProps {
  readonly dashboardName: string;
  readonly tiers: {
    loadBalancer: elbv2.ApplicationLoadBalancer;
    targetGroup: elbv2.ApplicationTargetGroup;
    autoScalingGroup: autoscaling.AutoScalingGroup;
  }[];
  readonly database: rds.IDatabaseInstance;
}

/** The week at a glance: requests, 5xx, p95 latency, healthy hosts, CPU and size per group, RDS CPU and connections. */
export class RushDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: RushDashboardProps) {
    super(scope, id);
    const minute = Duration.minutes(1);
    const per = <T>(f: (t: RushDashboardProps['tiers'][number], i: number) => T) => props.tiers.map(f);
    const asgMetric = (asg: autoscaling.AutoScalingGroup, namespace: string, metricName: string, label: string) =>
      new cloudwatch.Metric({
        namespace,
        metricName,
        dimensionsMap: { AutoScalingGroupName: asg.autoScalingGroupName },
        statistic: 'Average',
        period: minute,
        label,
      });
    const w = (title: string, left: cloudwatch.IMetric[], leftYAxis?: cloudwatch.YAxisProps) =>
      new cloudwatch.GraphWidget({ title, left, width: 12, height: 6, leftYAxis });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      w(
        'Requests per minute',
        per((t, i) => t.loadBalancer.metrics.requestCount({ period: minute, label: `ALB ${i + 1}` })),
      ),
      w(
        '5xx per minute (ALB and targets)',
        per((t, i) => [
          t.loadBalancer.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, {
            period: minute,
            label: `ALB ${i + 1} ELB 5xx`,
          }),
          t.loadBalancer.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, {
            period: minute,
            label: `ALB ${i + 1} target 5xx`,
          }),
        ]).flat(),
      ),
    );
    this.dashboard.addWidgets(
      w(
        'Target response time p95 (s)',
        per((t, i) =>
          t.loadBalancer.metrics.targetResponseTime({ statistic: 'p95', period: minute, label: `ALB ${i + 1}` }),
        ),
      ),
      w(
        'Healthy / unhealthy hosts',
        per((t, i) => [
          t.targetGroup.metrics.healthyHostCount({ period: minute, label: `ALB ${i + 1} healthy` }),
          t.targetGroup.metrics.unhealthyHostCount({ period: minute, label: `ALB ${i + 1} unhealthy` }),
        ]).flat(),
      ),
    );
    this.dashboard.addWidgets(
      w(
        'Instance CPU % (scaling input)',
        per((t, i) => asgMetric(t.autoScalingGroup, 'AWS/EC2', 'CPUUtilization', `group ${i + 1}`)),
        { min: 0, max: 100 },
      ),
      w(
        'Instances in service per group',
        per((t, i) => asgMetric(t.autoScalingGroup, 'AWS/AutoScaling', 'GroupInServiceInstances', `group ${i + 1}`)),
      ),
    );
    this.dashboard.addWidgets(
      w('RDS CPU %', [props.database.metricCPUUtilization({ period: minute })], { min: 0, max: 100 }),
      w('RDS connections', [props.database.metricDatabaseConnections({ period: minute })]),
    );
  }

  /** Console URL of the dashboard. */
  get url(): string {
    const region = Stack.of(this).region;
    return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${this.dashboard.dashboardName}`;
  }
}
