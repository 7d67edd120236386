import * as crypto from 'node:crypto';
import { CfnOutput, Duration, Lazy, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { RushhourConfig } from './config';
import { DATA_OUTPUTS, ssmPrefixFor } from './contracts';
import { Database } from './constructs/database';
import { ExportFunction } from './constructs/export-function';
import { Network } from './constructs/network';
import { acknowledge } from './nag/acknowledge';

export interface DataStackProps extends StackProps {
  readonly config: RushhourConfig;
}

export { ssmPrefixFor };

/** Availability zones named without a lookup: the config's, or the region's first ones. */
export function availabilityZonesFor(config: RushhourConfig): string[] {
  return (
    config.network.availabilityZones ??
    ['a', 'b', 'c'].slice(0, config.network.maxAzs).map((s) => `${config.region}${s}`)
  );
}

/**
 * The stateful half: network, database, export function and the logs bucket. Its logical IDs must never
 * change (a rename replaces the database); the import stack and the web stack can come and go around it.
 * The import is not here on purpose: a failed import must never roll back the stack that holds the database.
 */
export class DataStack extends Stack {
  readonly network: Network;
  readonly database: Database;
  readonly exportFunction: ExportFunction;
  /** Access logs of the load balancers and of the export bucket. */
  readonly logsBucket: s3.Bucket;
  readonly ssmPrefix: string;
  private readonly zones: string[];

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.zones = availabilityZonesFor(config);
    this.ssmPrefix = ssmPrefixFor(config.siteName);

    this.network = new Network(this, 'Network', {
      availabilityZones: this.zones,
      natGateways: config.network.natGateways,
    });
    const vpc = this.network.vpc;

    this.logsBucket = new s3.Bucket(this, 'LogsBucket', {
      // ALB access logs accept only SSE-S3.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(
      this.logsBucket,
      'AwsSolutions-S1',
      'This is the access-log bucket itself; logging it into itself would loop.',
    );

    this.database = new Database(this, 'Database', {
      vpc,
      subnets: this.network.isolatedSubnets,
      ...config.database,
    });

    this.exportFunction = new ExportFunction(this, 'Export', {
      vpc,
      subnets: this.network.isolatedSubnets,
      masterSecret: this.database.masterSecret,
      databaseName: config.database.databaseName,
      accessLogsBucket: this.logsBucket,
    });
    this.database.allowFrom(this.exportFunction.securityGroup, 'export Lambda');

    new CfnOutput(this, DATA_OUTPUTS.exportFunctionName, {
      value: this.exportFunction.function.functionName,
      description: 'Invoked by "rushhour export" until it reports done',
    });
    new CfnOutput(this, DATA_OUTPUTS.exportBucketName, {
      value: this.exportFunction.bucket.bucketName,
      description: 'Exports land under exports/<exportId>/',
    });
    new CfnOutput(this, DATA_OUTPUTS.ssmPrefix, {
      value: this.ssmPrefix,
      description: 'DB config parameters written by the import stack',
    });
    new CfnOutput(this, DATA_OUTPUTS.databaseEndpoint, { value: this.database.instance.dbInstanceEndpointAddress });
    new CfnOutput(this, DATA_OUTPUTS.masterSecretArn, { value: this.database.masterSecret.secretArn });
  }

  /**
   * A hash of this stack's whole template, resolved at synth. The stacks that read this one's outputs put it
   * in an output of their own: their references are weak (Fn::GetStackOutput, read when the consumer is
   * created or updated), so whenever this template changes, theirs changes too and the next deploy updates
   * them and reads the outputs again, instead of "no changes" and a stale value.
   */
  templateFingerprint(): string {
    return Lazy.string({
      produce: () =>
        crypto
          .createHash('sha256')
          .update(JSON.stringify(this.resolve(this._toCloudFormation())))
          .digest('hex'),
    });
  }

  /**
   * The configured zones. Vpc checks explicit zones against this property, which for a stack with a fixed
   * account would otherwise be a context lookup (an AWS call at synth).
   */
  override get availabilityZones(): string[] {
    return this.zones;
  }
}
