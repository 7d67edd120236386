import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge } from '../nag/acknowledge';

/** The repository root: NodejsFunction finds package-lock.json here and bundles with the local esbuild. */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

export interface ProjectFunctionProps extends Omit<nodejs.NodejsFunctionProps, 'entry' | 'runtime' | 'bundling'> {
  /** Entry file relative to the project root, e.g. "lambda/import-dump/index.ts". */
  readonly entryFile: string;
}

/** A Node.js Lambda bundled locally with esbuild (never Docker), with its own log group kept one month. */
export function projectFunction(scope: Construct, id: string, props: ProjectFunctionProps): nodejs.NodejsFunction {
  const { entryFile, ...rest } = props;
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, { retention: logs.RetentionDays.ONE_MONTH });
  return new nodejs.NodejsFunction(scope, id, {
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    entry: path.join(PROJECT_ROOT, entryFile),
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
    memorySize: 1024,
    timeout: Duration.minutes(15),
    logGroup,
    bundling: {
      forceDockerBundling: false,
      target: 'node22',
      minify: false,
      sourceMap: true,
      // The SDK v3 clients ship with the runtime; mysql2 and the project's code are bundled.
      externalModules: ['@aws-sdk/*'],
    },
    ...rest,
  });
}

/**
 * The security group of a project Lambda in the VPC (`SecurityGroup` in `scope`): no inbound rule (nothing
 * calls a Lambda over the network), all outbound (RDS, whose own group admits this one, and the VPC endpoints).
 */
export function functionSecurityGroup(scope: Construct, vpc: ec2.IVpc, description: string): ec2.SecurityGroup {
  return new ec2.SecurityGroup(scope, 'SecurityGroup', { vpc, description, allowAllOutbound: true });
}

/** Acknowledges cdk-nag's IAM4 for the two AWS managed policies CDK gives the role of a Lambda in a VPC. */
export function acknowledgeVpcExecutionPolicies(fn: lambda.IFunction): void {
  for (const policy of ['service-role/AWSLambdaBasicExecutionRole', 'service-role/AWSLambdaVPCAccessExecutionRole']) {
    acknowledge(
      fn.role!,
      `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${policy}]`,
      'AWS managed Lambda execution policy: log writing and, in a VPC, ENI management; it grants nothing on data.',
    );
  }
}
