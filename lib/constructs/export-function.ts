import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { EXPORT_ENV } from '../contracts';
import { acknowledge, arnRef } from '../nag/acknowledge';
import { acknowledgeVpcExecutionPolicies, functionSecurityGroup, projectFunction } from './lambda-defaults';

export interface ExportFunctionProps {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly masterSecret: secretsmanager.ISecret;
  readonly databaseName: string;
  /** Bucket for S3 server access logs of the export bucket. */
  readonly accessLogsBucket: s3.IBucket;
}

/**
 * The function the CLI invokes after the rush to dump RDS into S3 (s3://bucket/exports/<exportId>/...),
 * slice by slice until it reports done. The handler lives in lambda/export-db.
 */
export class ExportFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly bucket: s3.Bucket;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: ExportFunctionProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'export-bucket/',
      // The export is the week's data on its way home: keep it when the stack goes.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.securityGroup = functionSecurityGroup(
      this,
      props.vpc,
      'Export Lambda: to RDS, and to S3/Secrets Manager endpoints',
    );
    this.function = projectFunction(this, 'Function', {
      entryFile: 'lambda/export-db/index.ts',
      handler: 'handler',
      description: 'rushhour export: RDS to S3, one slice per invocation',
      timeout: Duration.minutes(15),
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [this.securityGroup],
      environment: {
        [EXPORT_ENV.bucket]: this.bucket.bucketName,
        [EXPORT_ENV.masterSecretArn]: props.masterSecret.secretArn,
        [EXPORT_ENV.databaseName]: props.databaseName,
      },
    });
    // Objects under exports/ only; ListBucket (same prefix) makes a missing object a 404 rather than a 403.
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject', 's3:PutObject'],
        resources: [this.bucket.arnForObjects('exports/*')],
      }),
    );
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': ['exports/*'] } },
      }),
    );
    props.masterSecret.grantRead(this.function);

    acknowledgeVpcExecutionPolicies(this.function);
    acknowledge(
      this.function.role!.node.findChild('DefaultPolicy'),
      `AwsSolutions-IAM5[Resource::${arnRef(this.bucket)}/exports/*]`,
      'Each export writes objects named by its export id, known only at run time; the grant is limited to the exports/ prefix of this bucket.',
    );
  }
}
