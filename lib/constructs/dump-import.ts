import { CustomResource, Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { sha256FileSync } from '../../src/util/sha256';
import { IMPORT_DEADLINE_ENV, SSM_KEYS, ssmParameterName, TIME_BUDGET_ENV } from '../contracts';
import type { RefusableKind } from '../../src/sql/vetting';
import { acknowledge, arnRef } from '../nag/acknowledge';
import { acknowledgeVpcExecutionPolicies, functionSecurityGroup, projectFunction } from './lambda-defaults';

export interface DumpImportProps {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  /** The .sql or .sql.gz to import; uploaded as an S3 asset. */
  readonly dumpPath: string;
  readonly masterSecret: secretsmanager.ISecret;
  readonly appSecret: secretsmanager.ISecret;
  readonly databaseName: string;
  /** SSM path the import writes host/port/name/user/password-secret-arn under, e.g. /rushhour/site/db. */
  readonly ssmPrefix: string;
  /** Import a different dump over the existing data. @default false */
  readonly allowReimport?: boolean;
  /** Statement kinds the dump may contain anyway (see src/sql/vetting.ts). @default none */
  readonly allowStatements?: readonly RefusableKind[];
  /** Import a dump without mysqldump's completion trailer. @default false */
  readonly allowIncompleteDump?: boolean;
  /** Connections the import loads on in parallel (see docs/import.md). @default 1 */
  readonly connections?: number;
  /**
   * Create rushhour's PHP sessions table (SESSIONS_TABLE in lib/contracts.ts) after the import: a php
   * web.site with sessions "database". @default false
   */
  readonly sessionsTable?: boolean;
  /** Per-invocation time budget handed to the handler. @default - the handler's own default */
  readonly timeBudget?: Duration;
  /**
   * Wall-clock bound of one deployment's import: after this long since onEvent, isComplete starts no
   * slice and fails with what to do (deploy again: the next deployment resumes from the progress table).
   * Must leave room under `serviceTimeout` for the last slice (up to 90 s of work after its budget).
   * @default Duration.minutes(50)
   */
  readonly deadline?: Duration;
  /**
   * CloudFormation's own bound on the custom resource (ServiceTimeout; at most 60 minutes).
   * @default Duration.minutes(60)
   */
  readonly serviceTimeout?: Duration;
}

/**
 * The custom resource that streams the dump from S3 into RDS (in slices, through the Provider
 * framework's isComplete) and writes the DB config to SSM; its Delete removes those parameters. The
 * handler lives in lambda/import-dump. Place it in a stack of its own (ImportStack): its failure then
 * rolls back nothing but itself.
 */
export class DumpImport extends Construct {
  readonly resource: CustomResource;
  readonly securityGroup: ec2.SecurityGroup;
  readonly dumpAsset: s3assets.Asset;

  constructor(scope: Construct, id: string, props: DumpImportProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const serviceTimeout = props.serviceTimeout ?? Duration.minutes(60);
    const deadline = props.deadline ?? Duration.minutes(50);
    if (serviceTimeout.toSeconds() > 3600) throw new Error('DumpImport: serviceTimeout must be at most 60 minutes');
    if (deadline.toSeconds() + 5 * 60 > serviceTimeout.toSeconds()) {
      throw new Error(
        `DumpImport: deadline (${deadline.toMinutes()} min) must end at least 5 minutes before serviceTimeout (${serviceTimeout.toMinutes()} min)`,
      );
    }
    this.dumpAsset = new s3assets.Asset(this, 'Dump', { path: props.dumpPath });
    this.securityGroup = functionSecurityGroup(
      this,
      props.vpc,
      'Dump import Lambda: to RDS, and to S3/Secrets Manager/SSM endpoints',
    );

    const common = {
      entryFile: 'lambda/import-dump/index.ts',
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [this.securityGroup],
      environment: props.timeBudget ? { [TIME_BUDGET_ENV]: String(props.timeBudget.toMilliseconds()) } : undefined,
    };
    // onEvent only validates and records the request; isComplete imports slice by slice.
    const onEvent = projectFunction(this, 'OnEvent', {
      ...common,
      environment: { ...common.environment, [IMPORT_DEADLINE_ENV]: String(deadline.toMilliseconds()) },
      handler: 'onEvent',
      timeout: Duration.minutes(1),
      description: 'rushhour dump import: validate and record',
    });
    const isComplete = projectFunction(this, 'IsComplete', {
      ...common,
      handler: 'isComplete',
      timeout: Duration.minutes(15),
      description: 'rushhour dump import: import one slice',
    });

    // Exact ARNs, no wildcards: the dump object and the five parameters of the contract.
    const dumpObjectArn = stack.formatArn({
      service: 's3',
      region: '',
      account: '',
      resource: this.dumpAsset.s3BucketName,
      resourceName: this.dumpAsset.s3ObjectKey,
    });
    const parameterArns = ssmParameterArns(stack, props.ssmPrefix);
    for (const fn of [onEvent, isComplete]) {
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [dumpObjectArn] }));
      props.masterSecret.grantRead(fn);
      props.appSecret.grantRead(fn);
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['ssm:PutParameter', 'ssm:GetParameter', 'ssm:AddTagsToResource'],
          resources: parameterArns,
        }),
      );
    }
    // Delete removes the contract's parameters (onEvent only): nothing is left behind by a destroy.
    onEvent.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:DeleteParameters'], resources: parameterArns }));

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: onEvent,
      isCompleteHandler: isComplete,
      // A count of polls (120 x 30 s), not wall time: a poll may import for 13 minutes. The wall-clock bound
      // is the deadline above, enforced by isComplete, and CloudFormation's ServiceTimeout below.
      totalTimeout: Duration.hours(1),
      queryInterval: Duration.seconds(30),
      logGroup: new logs.LogGroup(this, 'ProviderLogs', { retention: logs.RetentionDays.ONE_MONTH }),
      // Every state transition is logged; execution data (handler input and output) is left out.
      disableWaiterStateMachineLogging: false,
      waiterStateMachineLogOptions: {
        destination: new logs.LogGroup(this, 'WaiterLogs', { retention: logs.RetentionDays.ONE_MONTH }),
        level: sfn.LogLevel.ALL,
      },
    });

    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::RushhourDumpImport',
      serviceTimeout,
      properties: {
        DumpBucket: this.dumpAsset.s3BucketName,
        DumpKey: this.dumpAsset.s3ObjectKey,
        // The dump's content hash: the handler refuses a different dump over imported data.
        DumpAssetHash: sha256FileSync(props.dumpPath),
        MasterSecretArn: props.masterSecret.secretArn,
        AppSecretArn: props.appSecret.secretArn,
        DatabaseName: props.databaseName,
        SsmPrefix: props.ssmPrefix,
        AllowReimport: String(props.allowReimport ?? false),
        // Only when set, so that templates without them stay as they were.
        ...(props.allowStatements?.length ? { AllowStatements: props.allowStatements.join(',') } : {}),
        ...(props.allowIncompleteDump ? { AllowIncompleteDump: 'true' } : {}),
        ...(props.connections !== undefined && props.connections > 1 ? { Connections: String(props.connections) } : {}),
        ...(props.sessionsTable ? { SessionsTable: 'true' } : {}),
      },
    });

    this.acknowledgeFindings(onEvent, isComplete, provider);
  }

  private acknowledgeFindings(onEvent: lambda.IFunction, isComplete: lambda.IFunction, provider: cr.Provider): void {
    for (const fn of [onEvent, isComplete]) acknowledgeVpcExecutionPolicies(fn);
    // The Provider framework's own functions, role policies and waiter state machine (aws-cdk-lib code).
    const framework = ['framework-onEvent', 'framework-isComplete', 'framework-onTimeout'].map((id) =>
      provider.node.findChild(id),
    );
    for (const fn of framework) {
      const role = fn.node.findChild('ServiceRole');
      acknowledge(
        role,
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        'Provider framework function (aws-cdk-lib): the AWS managed policy only writes its logs.',
      );
      for (const target of [onEvent, isComplete]) {
        acknowledge(
          role.node.findChild('DefaultPolicy'),
          `AwsSolutions-IAM5[Resource::${arnRef(target)}:*]`,
          'Provider framework (aws-cdk-lib): invoke any version of this one handler function; the wildcard is the version qualifier.',
        );
      }
      acknowledge(
        fn,
        'AwsSolutions-L1',
        'Provider framework function: aws-cdk-lib pins its runtime; it only relays to our handlers.',
      );
    }
    const waiter = provider.node.findChild('waiter-state-machine');
    for (const target of [framework[1], framework[2]]) {
      acknowledge(
        waiter.node.findChild('Role').node.findChild('DefaultPolicy'),
        `AwsSolutions-IAM5[Resource::${arnRef(target)}:*]`,
        'Provider framework waiter (aws-cdk-lib): invoke any version of the framework function; the wildcard is the version qualifier.',
      );
    }
    acknowledge(
      waiter.node.findChild('Role').node.findChild('DefaultPolicy'),
      'AwsSolutions-IAM5[Resource::*]',
      'Provider framework waiter (aws-cdk-lib): CloudWatch Logs delivery actions (logs:CreateLogDelivery and friends) accept only Resource "*".',
    );
    acknowledge(
      waiter.node.findChild('Resource'),
      'AwsSolutions-SF2',
      'The waiter only polls isComplete every 30 s during a deployment; its logs (level ALL) are enough to trace it.',
    );
  }
}

/** ARNs of the SSM parameters of the DB-config contract under `prefix`, plus the path itself. */
export function ssmParameterArns(stack: Stack, prefix: string): string[] {
  return SSM_KEYS.map((k) =>
    stack.formatArn({
      service: 'ssm',
      resource: 'parameter',
      resourceName: ssmParameterName(prefix, k).replace(/^\//, ''),
    }),
  );
}
