import { Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct, IDependable } from 'constructs';
import { acknowledge } from '../nag/acknowledge';

export interface NetworkProps {
  /** Availability zones, named explicitly so synth needs no lookup. */
  readonly availabilityZones: string[];
  /**
   * NAT gateways. With 0 the web instances live in public subnets (reachable only from their ALB) and
   * the private parts reach AWS through VPC endpoints; with more, the instances move to private subnets
   * that route out through the NAT gateways.
   * @default 0
   */
  readonly natGateways?: number;
}

/**
 * The VPC: public subnets for the load balancers (and the instances when there is no NAT), isolated
 * subnets for the database and the import/export Lambdas, and the endpoints those isolated parts need.
 */
export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  /** Where the web instances run. */
  readonly webSubnets: ec2.SubnetSelection;
  /** Whether the web instances need a public IP to reach the internet (no NAT). */
  readonly webInstancesNeedPublicIp: boolean;
  /** Where the database and the Lambdas run: no route to the internet. */
  readonly isolatedSubnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
  /** The VPC endpoints (S3 gateway, Secrets Manager, SSM): what the isolated parts need before they run. */
  readonly endpoints: IDependable[] = [];

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const natGateways = props.natGateways ?? 0;
    const subnetConfiguration: ec2.SubnetConfiguration[] = [
      { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
      { name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
    ];
    if (natGateways > 0)
      subnetConfiguration.push({ name: 'Web', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 });

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.40.0.0/16'),
      availabilityZones: props.availabilityZones,
      natGateways,
      subnetConfiguration,
      // The isolated subnets reach S3 without NAT through this gateway endpoint (free of charge).
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
      flowLogs: { Rejected: { trafficType: ec2.FlowLogTrafficType.REJECT } },
    });
    this.endpoints.push(this.vpc.node.findChild('S3'));
    // aws-cdk-lib's own rule, on every subnet of this VPC.
    Validations.of(this.vpc).acknowledge({
      id: 'CloudFormation-Validate::W3010',
      reason:
        'The zones are named in the config (network.availabilityZones, default <region>a/b) so that synth needs no AWS lookup.',
    });
    this.webInstancesNeedPublicIp = natGateways === 0;
    this.webSubnets =
      natGateways > 0 ? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } : { subnetType: ec2.SubnetType.PUBLIC };

    // Interface endpoints for what the import/export Lambdas call from the isolated subnets.
    // Each costs about 7.3 USD per AZ per month; the web instances use them too.
    const endpoints: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
      SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      Ssm: ec2.InterfaceVpcEndpointAwsService.SSM,
    };
    for (const [name, service] of Object.entries(endpoints)) {
      const endpoint = this.vpc.addInterfaceEndpoint(name, {
        service,
        subnets: this.isolatedSubnets,
        privateDnsEnabled: true,
        open: true,
      });
      this.endpoints.push(endpoint);
      acknowledge(
        endpoint.node.findChild('SecurityGroup'),
        'AwsSolutions-EC23',
        "Admits HTTPS only from the VPC's own CIDR (a token, which the rule cannot evaluate), never from the internet.",
      );
    }
  }
}
