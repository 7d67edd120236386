import type { CloudFormationClient, Stack } from '@aws-sdk/client-cloudformation';
import { autoScalingGroupOutputIndex, DATA_OUTPUTS } from '../../lib/contracts';
import { stackNames } from '../../lib/stack-names';

/**
 * What is deployed, read from AWS: the stacks and their outputs (CloudFormation), the RDS instance and
 * the Auto Scaling groups. The SDK clients are loaded on first use, so the CLI starts without them.
 */

export interface StackState {
  readonly status: string;
  readonly outputs: Record<string, string>;
}

export interface AwsStatus {
  readonly stacks: Record<string, StackState | null>;
  readonly database?: {
    identifier: string;
    status: string;
    instanceClass: string;
    engineVersion: string;
    multiAz: boolean;
  };
  readonly groups: Array<{ name: string; desired: number; min: number; max: number; inService: number }>;
}

/** Raised when a deployment lacks a stack output the CLI needs. */
export class MissingStackOutputError extends Error {
  override readonly name = 'MissingStackOutputError';
  constructor(
    readonly stackName: string,
    readonly outputKey: string,
  ) {
    super(`stack ${stackName} has no output ${outputKey}: is the data stack deployed?`);
  }
}

/**
 * DescribeStacks of a stack that does not exist fails with the SDK's `ValidationError` (CloudFormation has
 * no dedicated not-found error); the stack name is ours and well-formed, so that is the only validation
 * such a call can fail.
 */
export const isStackMissing = (err: unknown): boolean => (err as { name?: string })?.name === 'ValidationError';

const outputsOf = (s: Stack) =>
  Object.fromEntries((s.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));

async function cloudFormation(): Promise<{
  client: CloudFormationClient;
  sdk: typeof import('@aws-sdk/client-cloudformation');
}> {
  const sdk = await import('@aws-sdk/client-cloudformation');
  return { client: new sdk.CloudFormationClient({}), sdk };
}

/** A stack's status and outputs, or null when it does not exist. */
export async function describeStack(stackName: string): Promise<StackState | null> {
  const { client, sdk } = await cloudFormation();
  try {
    const s = (await client.send(new sdk.DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
    return s ? { status: s.StackStatus ?? '?', outputs: outputsOf(s) } : null;
  } catch (err) {
    if (isStackMissing(err)) return null;
    throw err;
  } finally {
    client.destroy();
  }
}

/** A stack's outputs by key; empty when the stack does not exist. */
export async function stackOutputs(stackName: string): Promise<Record<string, string>> {
  return (await describeStack(stackName))?.outputs ?? {};
}

/** The export function of a deployment, from the data stack's outputs. */
export async function exportFunctionName(siteName: string): Promise<string> {
  const stack = stackNames(siteName).data;
  const fn = (await stackOutputs(stack))[DATA_OUTPUTS.exportFunctionName];
  if (!fn) throw new MissingStackOutputError(stack, DATA_OUTPUTS.exportFunctionName);
  return fn;
}

/** The Auto Scaling group names among a web stack's outputs, in load balancer order. */
export function autoScalingGroupNames(outputs: Record<string, string>): string[] {
  return Object.entries(outputs)
    .map(([k, v]) => ({ k: autoScalingGroupOutputIndex(k), v }))
    .filter((e): e is { k: number; v: string } => e.k !== undefined)
    .sort((a, b) => a.k - b.k)
    .map((e) => e.v);
}

async function databaseOf(identifier: string): Promise<AwsStatus['database']> {
  const { RDSClient, DescribeDBInstancesCommand } = await import('@aws-sdk/client-rds');
  const rds = new RDSClient({});
  try {
    const db = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }))).DBInstances?.[0];
    if (!db) return undefined;
    return {
      identifier,
      status: db.DBInstanceStatus ?? '?',
      instanceClass: db.DBInstanceClass ?? '?',
      engineVersion: db.EngineVersion ?? '?',
      multiAz: Boolean(db.MultiAZ),
    };
  } finally {
    rds.destroy();
  }
}

async function groupsOf(names: string[]): Promise<AwsStatus['groups']> {
  if (names.length === 0) return [];
  const { AutoScalingClient, DescribeAutoScalingGroupsCommand } = await import('@aws-sdk/client-auto-scaling');
  const client = new AutoScalingClient({});
  try {
    const out = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: names }));
    return (out.AutoScalingGroups ?? []).map((g) => ({
      name: g.AutoScalingGroupName ?? '?',
      desired: g.DesiredCapacity ?? 0,
      min: g.MinSize ?? 0,
      max: g.MaxSize ?? 0,
      inService: (g.Instances ?? []).filter((i) => i.LifecycleState === 'InService').length,
    }));
  } finally {
    client.destroy();
  }
}

/** What is deployed for a site: the data, import and web stacks and their outputs, the RDS instance, the groups. */
export async function awsStatus(siteName: string): Promise<AwsStatus> {
  const { client, sdk } = await cloudFormation();
  const names = stackNames(siteName);
  const stacks: AwsStatus['stacks'] = {};
  let dbInstanceId: string | undefined;
  try {
    // In deployment order: the import runs after the data stack and before the web stack reads what it writes.
    for (const name of [names.data, names.import, names.web]) {
      try {
        const s = (await client.send(new sdk.DescribeStacksCommand({ StackName: name }))).Stacks?.[0];
        stacks[name] = s ? { status: s.StackStatus ?? '?', outputs: outputsOf(s) } : null;
        if (s && name === names.data) {
          const res = await client.send(new sdk.DescribeStackResourcesCommand({ StackName: name }));
          dbInstanceId = res.StackResources?.find((r) => r.ResourceType === 'AWS::RDS::DBInstance')?.PhysicalResourceId;
        }
      } catch (err) {
        if (!isStackMissing(err)) throw err;
        stacks[name] = null;
      }
    }
  } finally {
    client.destroy();
  }
  const database = dbInstanceId ? await databaseOf(dbInstanceId) : undefined;
  const groups = await groupsOf(autoScalingGroupNames(stacks[names.web]?.outputs ?? {}));
  return { stacks, database, groups };
}

/** Why the AWS part cannot be shown, or undefined when credentials seem to be there. */
export async function missingAwsReason(): Promise<string | undefined> {
  const { client } = await cloudFormation();
  try {
    // The SDK's own default chain (env, profile, SSO, instance role), as every client would use it.
    await client.config.credentials();
    return undefined;
  } catch (err) {
    return `no AWS credentials found (${(err as Error).message.split('\n')[0]}); set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY to see the deployment`;
  } finally {
    client.destroy();
  }
}

export interface DeploymentStatus {
  readonly aws?: AwsStatus;
  /** Why the AWS part is not shown. */
  readonly awsMissing?: string;
  /** no-site: not asked for; otherwise it could not be read. */
  readonly missingBecause?: 'no-site' | 'no-credentials' | 'aws-error';
}

/** The deployment part of `rushhour status`: the AWS state, or why it cannot be shown. */
export async function deploymentStatus(siteName: string | undefined): Promise<DeploymentStatus> {
  if (!siteName)
    return { awsMissing: "no --site given (the deployment's siteName): AWS part skipped", missingBecause: 'no-site' };
  const missing = await missingAwsReason();
  if (missing) return { awsMissing: missing, missingBecause: 'no-credentials' };
  try {
    return { aws: await awsStatus(siteName) };
  } catch (err) {
    return { awsMissing: `AWS call failed: ${(err as Error).message}`, missingBecause: 'aws-error' };
  }
}
