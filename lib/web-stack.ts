import { CfnOutput, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { RushhourConfig } from './config';
import { RushDashboard } from './constructs/dashboard';
import { ssmParameterArns } from './constructs/dump-import';
import { WebBundle } from './constructs/web-bundle';
import { WebTier } from './constructs/web-tier';
import { WeightedDns } from './constructs/weighted-dns';
import type { DataStack } from './data-stack';

export interface WebStackProps extends StackProps {
  readonly config: RushhourConfig;
  readonly data: DataStack;
  /** Scheduled actions before this time are left out. @default new Date() */
  readonly now?: Date;
}

/**
 * The stateless half: N load balancers, each with its own Auto Scaling group, the weighted DNS records
 * and the dashboard. Destroying or replacing it never touches the data.
 */
export class WebStack extends Stack {
  readonly tiers: WebTier[];
  readonly bundle: WebBundle;
  readonly dashboard: RushDashboard;
  readonly dns?: WeightedDns;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: WebStackProps,
  ) {
    super(scope, id, props);
    const { config, data } = props;
    const a = config.autoScaling;
    // web.site is validated (lib/config.ts) and its instance side is built and tested (src/site), but the
    // web tier does not ship it yet: refuse rather than silently deploy something else.
    if (config.web.site && config.web.site.runtime !== 'reference')
      throw new Error(
        `web.site.runtime "${config.web.site.runtime}" is not deployed by this version's web tier yet (see docs/site.md)`,
      );

    this.bundle = new WebBundle(this, 'Bundle', {
      bundlePath: config.web.bundlePath,
      startCommand: config.web.startCommand,
      port: config.web.port,
      healthCheckPath: config.web.healthCheckPath,
      ssmPrefix: data.ssmPrefix,
      region: config.region,
    });

    const schedule = config.schedule.map((w) => ({
      name: w.name,
      start: new Date(w.start),
      end: new Date(w.end),
      minCapacity: w.minCapacity,
    }));
    this.tiers = Array.from({ length: config.loadBalancers.count }, (_, k) => {
      const tier = new WebTier(this, `Tier${k + 1}`, {
        vpc: data.network.vpc,
        instanceSubnets: data.network.webSubnets,
        associatePublicIpAddress: data.network.webInstancesNeedPublicIp,
        instanceType: new ec2.InstanceType(a.instanceType),
        userData: this.bundle.userData,
        minCapacity: a.minCapacity,
        maxCapacity: a.maxCapacity,
        healthCheckGrace: Duration.seconds(a.healthCheckGraceSeconds),
        instanceWarmup: Duration.seconds(a.instanceWarmupSeconds),
        port: config.web.port,
        healthCheckPath: config.web.healthCheckPath,
        certificateArn: config.certificateArn,
        capacityReservationLcu: config.loadBalancers.capacityReservationLcu,
        accessLogsBucket: data.logsBucket,
        accessLogsPrefix: `alb-${k + 1}`,
        scaling: a,
        schedule,
        now: props.now,
      });
      this.bundle.grantRead(tier.role);
      // The app reads its DB config from SSM and its password from the app secret, nothing else.
      tier.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath'],
          resources: [
            this.formatArn({ service: 'ssm', resource: 'parameter', resourceName: data.ssmPrefix.replace(/^\//, '') }),
            ...ssmParameterArns(this, data.ssmPrefix),
          ],
        }),
      );
      data.database.appSecret.grantRead(tier.role);
      // The rule lives here, not in the data stack: destroying the web tier removes it with the tier.
      new ec2.CfnSecurityGroupIngress(tier, 'DatabaseIngress', {
        groupId: data.database.securityGroup.securityGroupId,
        sourceSecurityGroupId: tier.securityGroup.securityGroupId,
        ipProtocol: 'tcp',
        fromPort: 3306,
        toPort: 3306,
        description: `web tier ${k + 1} to MySQL`,
      });
      return tier;
    });

    if (config.dns) {
      this.dns = new WeightedDns(this, 'Dns', {
        ...config.dns,
        loadBalancers: this.tiers.map((t) => t.loadBalancer),
        weights: config.loadBalancers.weights,
      });
    }

    this.dashboard = new RushDashboard(this, 'Dashboard', {
      dashboardName: `rushhour-${config.siteName}`,
      tiers: this.tiers,
      database: data.database.instance,
    });

    const protocol = this.tiers[0].protocol;
    new CfnOutput(this, 'SiteUrl', {
      value: config.dns
        ? `${protocol}://${config.dns.recordName.replace(/\.$/, '')}/`
        : `${protocol}://${this.tiers[0].loadBalancer.loadBalancerDnsName}/`,
      description: config.dns
        ? 'The weighted record over all load balancers'
        : 'No DNS configured: the first load balancer',
    });
    this.tiers.forEach(
      (t, k) => new CfnOutput(this, `LoadBalancer${k + 1}DnsName`, { value: t.loadBalancer.loadBalancerDnsName }),
    );
    this.tiers.forEach(
      (t, k) => new CfnOutput(this, `AutoScalingGroup${k + 1}Name`, { value: t.autoScalingGroup.autoScalingGroupName }),
    );
    new CfnOutput(this, 'DashboardUrl', { value: this.dashboard.url });
  }

  /** The data stack's zones: no context lookup for a stack with a fixed account. */
  override get availabilityZones(): string[] {
    return this.props.data.availabilityZones;
  }
}
