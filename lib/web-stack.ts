import { Annotations, CfnOutput, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { burstableSpec, cpuCreditMode } from './burstable';
import type { RushhourConfig } from './config';
import { WEB_OUTPUTS } from './contracts';
import { RushDashboard } from './constructs/dashboard';
import { ssmParameterArns } from './constructs/dump-import';
import { WebBundle } from './constructs/web-bundle';
import { WebTier } from './constructs/web-tier';
import { WeightedDns } from './constructs/weighted-dns';
import type { DataStack } from './data-stack';

/**
 * Stickiness cookie lifetime for PHP file sessions (web.site.sessions "files"): a working day, longer than
 * PHP's default session lifetime (session.gc_maxlifetime, 24 minutes), so the cookie never ends first.
 */
export const FILE_SESSION_STICKINESS_SECONDS = 8 * 3600;

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
    // A php/node/command runtime runs behind the front door, rendered on the instance by the boot step.
    const site = config.web.site && config.web.site.runtime !== 'reference' ? config.web.site : undefined;
    this.bundle = new WebBundle(this, 'Bundle', {
      bundlePath: config.web.bundlePath,
      startCommand: config.web.startCommand,
      port: config.web.port,
      healthCheckPath: config.web.healthCheckPath,
      ssmPrefix: data.ssmPrefix,
      region: config.region,
      site,
    });

    const schedule = config.schedule.map((w) => ({
      name: w.name,
      start: new Date(w.start),
      end: new Date(w.end),
      minCapacity: w.minCapacity,
    }));
    // Stated in every launch template, so the account's default credit specification cannot change it; the quote
    // (src/cost/quote.ts) prices the same mode.
    const cpuCredits = cpuCreditMode(a.instanceType, a.cpuCredits);
    if (cpuCredits === 'standard') {
      const baseline = burstableSpec(a.instanceType)?.baselinePercent;
      Annotations.of(this).addWarningV2(
        'rushhour:cpuCreditsStandard',
        `autoScaling.cpuCredits is "standard": ${a.instanceType} instances are throttled to their baseline` +
          `${baseline === undefined ? '' : ` (${baseline}% CPU per vCPU)`} once their earned credits are spent, ` +
          'which at peak is a capacity limit the scaling alarms do not see; "unlimited" bursts and bills the surplus',
      );
    }
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
        // Per-instance PHP file sessions work only if a user keeps landing on the same instance.
        stickinessCookieDuration:
          site?.runtime === 'php' && site.sessions === 'files'
            ? Duration.seconds(FILE_SESSION_STICKINESS_SECONDS)
            : undefined,
        certificateArn: config.certificateArn,
        capacityReservationLcu: config.loadBalancers.capacityReservationLcu,
        accessLogsBucket: data.logsBucket,
        accessLogsPrefix: `alb-${k + 1}`,
        scaling: a,
        schedule,
        now: props.now,
      });
      this.bundle.grantRead(tier.role);
      if (cpuCredits) setCpuCredits(tier, cpuCredits);
      if (site) {
        // The boot step (src/site/aws-edge.ts) makes exactly two calls: GetParameters on the contract's
        // five parameters and GetSecretValue on the app secret.
        tier.role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['ssm:GetParameters'],
            resources: ssmParameterArns(this, data.ssmPrefix),
          }),
        );
        tier.role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['secretsmanager:GetSecretValue'],
            resources: [data.database.appSecret.secretArn],
          }),
        );
      } else {
        // The app reads its DB config from SSM and its password from the app secret, nothing else.
        tier.role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath'],
            resources: [
              this.formatArn({
                service: 'ssm',
                resource: 'parameter',
                resourceName: data.ssmPrefix.replace(/^\//, ''),
              }),
              ...ssmParameterArns(this, data.ssmPrefix),
            ],
          }),
        );
        data.database.appSecret.grantRead(tier.role);
      }
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
    new CfnOutput(this, WEB_OUTPUTS.siteUrl, {
      value: config.dns
        ? `${protocol}://${config.dns.recordName.replace(/\.$/, '')}/`
        : `${protocol}://${this.tiers[0].loadBalancer.loadBalancerDnsName}/`,
      description: config.dns
        ? 'The weighted record over all load balancers'
        : 'No DNS configured: the first load balancer',
    });
    this.tiers.forEach(
      (t, k) =>
        new CfnOutput(this, WEB_OUTPUTS.loadBalancerDnsName(k + 1), { value: t.loadBalancer.loadBalancerDnsName }),
    );
    this.tiers.forEach(
      (t, k) =>
        new CfnOutput(this, WEB_OUTPUTS.autoScalingGroupName(k + 1), {
          value: t.autoScalingGroup.autoScalingGroupName,
        }),
    );
    new CfnOutput(this, WEB_OUTPUTS.dashboardUrl, { value: this.dashboard.url });
  }

  /** The data stack's zones: no context lookup for a stack with a fixed account. */
  override get availabilityZones(): string[] {
    return this.props.data.availabilityZones;
  }
}

/**
 * The group's launch template (created by AutoScalingGroup under the launch-template feature flag) with a credit
 * specification: the group's props have no cpuCredits, the template does (LaunchTemplateData.CreditSpecification).
 */
function setCpuCredits(tier: WebTier, mode: string): void {
  const template = tier.autoScalingGroup.node.tryFindChild('LaunchTemplate');
  const cfn = template?.node.defaultChild;
  if (!(cfn instanceof ec2.CfnLaunchTemplate))
    throw new Error(
      'no launch template under the Auto Scaling group to set the CPU credits on: WebTier sets the feature flag ' +
        '@aws-cdk/aws-autoscaling:generateLaunchTemplateInsteadOfLaunchConfig on its own node',
    );
  cfn.addPropertyOverride('LaunchTemplateData.CreditSpecification.CpuCredits', mode);
}
