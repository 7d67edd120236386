import { Command } from 'commander';
import { DEFAULT_STATE_FILE, OperationState, StateFile } from '../../state/state-file';
import { loadConfig } from '../../../lib/config';
import { stackNames } from '../../../lib/stack-names';

/** A stack's outputs by key; empty when the stack does not exist. */
export async function stackOutputs(stackName: string): Promise<Record<string, string>> {
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  try {
    const out = await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = out.Stacks?.[0];
    return Object.fromEntries((stack?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  } catch (err) {
    if (/does not exist/.test((err as Error).message)) return {};
    throw err;
  }
}

export interface AwsStatus {
  readonly stacks: Record<string, { status: string; outputs: Record<string, string> } | null>;
  readonly database?: {
    identifier: string;
    status: string;
    instanceClass: string;
    engineVersion: string;
    multiAz: boolean;
  };
  readonly groups: Array<{ name: string; desired: number; min: number; max: number; inService: number }>;
}

/** What is deployed: stacks and outputs (CloudFormation), the RDS instance, the Auto Scaling groups. */
export async function awsStatus(siteName: string): Promise<AwsStatus> {
  const cfn = await import('@aws-sdk/client-cloudformation');
  const client = new cfn.CloudFormationClient({});
  const names = stackNames(siteName);
  const stacks: AwsStatus['stacks'] = {};
  let dbInstanceId: string | undefined;
  for (const name of [names.data, names.web]) {
    try {
      const s = (await client.send(new cfn.DescribeStacksCommand({ StackName: name }))).Stacks?.[0];
      stacks[name] = s
        ? {
            status: s.StackStatus ?? '?',
            outputs: Object.fromEntries((s.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? ''])),
          }
        : null;
      if (s && name === names.data) {
        const res = await client.send(new cfn.DescribeStackResourcesCommand({ StackName: name }));
        dbInstanceId = res.StackResources?.find((r) => r.ResourceType === 'AWS::RDS::DBInstance')?.PhysicalResourceId;
      }
    } catch (err) {
      if (!/does not exist/.test((err as Error).message)) throw err;
      stacks[name] = null;
    }
  }
  let database: AwsStatus['database'];
  if (dbInstanceId) {
    const { RDSClient, DescribeDBInstancesCommand } = await import('@aws-sdk/client-rds');
    const db = (await new RDSClient({}).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: dbInstanceId })))
      .DBInstances?.[0];
    if (db) {
      database = {
        identifier: dbInstanceId,
        status: db.DBInstanceStatus ?? '?',
        instanceClass: db.DBInstanceClass ?? '?',
        engineVersion: db.EngineVersion ?? '?',
        multiAz: Boolean(db.MultiAZ),
      };
    }
  }
  const groupNames = Object.entries(stacks[names.web]?.outputs ?? {})
    .filter(([k]) => /^AutoScalingGroup\d+Name$/.test(k))
    .map(([, v]) => v);
  const groups: AwsStatus['groups'] = [];
  if (groupNames.length > 0) {
    const { AutoScalingClient, DescribeAutoScalingGroupsCommand } = await import('@aws-sdk/client-auto-scaling');
    const out = await new AutoScalingClient({}).send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: groupNames }),
    );
    for (const g of out.AutoScalingGroups ?? []) {
      groups.push({
        name: g.AutoScalingGroupName ?? '?',
        desired: g.DesiredCapacity ?? 0,
        min: g.MinSize ?? 0,
        max: g.MaxSize ?? 0,
        inService: (g.Instances ?? []).filter((i) => i.LifecycleState === 'InService').length,
      });
    }
  }
  return { stacks, database, groups };
}

function describeOperation(op: OperationState): string {
  const what = op.finishedAt
    ? `finished ${op.finishedAt}`
    : `UNFINISHED (started ${op.startedAt}; last step: ${Object.keys(op.steps).slice(-1)[0] ?? 'none'}; rerun the same command to resume)`;
  const data = op.steps.finished?.data ?? {};
  const detail = Object.entries(data)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(' ');
  return `  ${op.key}: ${what}${detail ? `\n    ${detail}` : ''}`;
}

/** The local part: what the state file says was pulled and synced. */
export function localStatus(stateFile: string): string {
  const state = new StateFile(stateFile);
  const ops = state.list();
  if (ops.length === 0) return `local state (${stateFile}): nothing pulled or synced yet`;
  const section = (title: string, prefix: string) => {
    const list = ops.filter((o) => o.key.startsWith(prefix));
    return `${title}:\n${list.length ? list.map(describeOperation).join('\n') : '  (none)'}`;
  };
  return [
    `local state (${stateFile}):`,
    section('pulled (database)', 'pull-db:'),
    section('pulled (web)', 'pull-web:'),
    section('synced back', 'sync-back:'),
  ].join('\n');
}

/** Why the AWS part cannot be shown, or undefined when credentials seem to be there. */
export async function missingAwsReason(): Promise<string | undefined> {
  try {
    // The SDK's own default chain (env, profile, SSO, instance role), as every client would use it.
    const { CloudFormationClient } = await import('@aws-sdk/client-cloudformation');
    await new CloudFormationClient({}).config.credentials();
    return undefined;
  } catch (err) {
    return `no AWS credentials found (${(err as Error).message.split('\n')[0]}); set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY to see the deployment`;
  }
}

export async function status(options: {
  site?: string;
  stateFile?: string;
  print?: (s: string) => void;
}): Promise<{ aws?: AwsStatus; awsMissing?: string }> {
  const print = options.print ?? ((s: string) => console.log(s));
  print(localStatus(options.stateFile ?? DEFAULT_STATE_FILE));
  if (!options.site) {
    const why = "no --site given (the deployment's siteName): AWS part skipped";
    print(`\naws: ${why}`);
    return { awsMissing: why };
  }
  const missing = await missingAwsReason();
  if (missing) {
    print(`\naws: not shown: ${missing}`);
    return { awsMissing: missing };
  }
  try {
    const aws = await awsStatus(options.site);
    const lines = ['', `aws (${process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'default region'}):`];
    for (const [name, s] of Object.entries(aws.stacks)) {
      lines.push(`  stack ${name}: ${s ? s.status : 'not deployed'}`);
      for (const [k, v] of Object.entries(s?.outputs ?? {})) lines.push(`    ${k} = ${v}`);
    }
    lines.push(
      aws.database
        ? `  database ${aws.database.identifier}: ${aws.database.status} (db.${aws.database.instanceClass.replace(/^db\./, '')}, MySQL ${aws.database.engineVersion}${aws.database.multiAz ? ', Multi-AZ' : ''})`
        : '  database: none found',
    );
    for (const g of aws.groups)
      lines.push(`  group ${g.name}: ${g.inService} in service, desired ${g.desired} (min ${g.min}, max ${g.max})`);
    print(lines.join('\n'));
    return { aws };
  } catch (err) {
    const why = `AWS call failed: ${(err as Error).message}`;
    print(`\naws: not shown: ${why}`);
    return { awsMissing: why };
  }
}

export function register(program: Command): void {
  program
    .command('status')
    .description('What is deployed (stacks, RDS, groups) and what was pulled and synced (local state file)')
    .option('--site <siteName>', "the deployment's siteName (for the AWS part)")
    .option('--config <file>', 'read siteName from this config')
    .option('--state-file <file>', 'local state file', DEFAULT_STATE_FILE)
    .action(async (opts) => {
      let site = opts.site as string | undefined;
      if (!site && opts.config) {
        site = loadConfig(opts.config, { checkFiles: false }).siteName;
      }
      await status({ site, stateFile: opts.stateFile });
    });
}
