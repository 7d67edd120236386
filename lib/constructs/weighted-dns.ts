import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import { Construct } from 'constructs';
import { DNS_SET_IDENTIFIER_PREFIX } from '../stack-names';

export interface WeightedDnsProps {
  readonly hostedZoneId: string;
  readonly zoneName: string;
  /** The name users visit, inside the zone. */
  readonly recordName: string;
  readonly loadBalancers: elbv2.IApplicationLoadBalancer[];
  /** One weight per load balancer. @default - equal weights */
  readonly weights?: number[];
}

/**
 * One weighted alias A record per load balancer under the same name, each with its own set identifier
 * and target health evaluation, so Route53 stops sending users to a balancer with no healthy targets.
 * The zone is referenced by id: no lookup at synth.
 */
export class WeightedDns extends Construct {
  readonly records: route53.ARecord[];

  constructor(scope: Construct, id: string, props: WeightedDnsProps) {
    super(scope, id);
    const weights = props.weights ?? props.loadBalancers.map(() => 1);
    if (weights.length !== props.loadBalancers.length) {
      throw new Error(
        `WeightedDns: needs one weight per load balancer (${props.loadBalancers.length}), got ${weights.length}`,
      );
    }
    const zone = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', {
      hostedZoneId: props.hostedZoneId,
      zoneName: props.zoneName.replace(/\.$/, ''),
    });
    this.records = props.loadBalancers.map(
      (alb, i) =>
        new route53.ARecord(this, `Record${i + 1}`, {
          zone,
          recordName: props.recordName.replace(/\.$/, '') + '.',
          target: route53.RecordTarget.fromAlias(new targets.LoadBalancerTarget(alb, { evaluateTargetHealth: true })),
          weight: weights[i],
          setIdentifier: `${DNS_SET_IDENTIFIER_PREFIX}${i + 1}`,
        }),
    );
  }
}
