import { Command } from 'commander';
import { loadConfig } from '../../../lib/config';
import { AwsStatus, deploymentStatus } from '../../aws/deployment';
import { DEFAULT_STATE_FILE, OperationState, StateFile } from '../../state/state-file';
import type { CliEnv } from '../env';
import { stateFileOption } from '../origin-options';

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
  const ops = new StateFile(stateFile).list();
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

export function formatAwsStatus(aws: AwsStatus, region: string): string {
  const lines = ['', `aws (${region}):`];
  for (const [name, s] of Object.entries(aws.stacks)) {
    lines.push(`  stack ${name}: ${s ? s.status : 'not deployed'}`);
    for (const [k, v] of Object.entries(s?.outputs ?? {})) lines.push(`    ${k} = ${v}`);
  }
  const db = aws.database;
  lines.push(
    db
      ? `  database ${db.identifier}: ${db.status} (db.${db.instanceClass.replace(/^db\./, '')}, MySQL ${db.engineVersion}${db.multiAz ? ', Multi-AZ' : ''})`
      : '  database: none found',
  );
  for (const g of aws.groups)
    lines.push(`  group ${g.name}: ${g.inService} in service, desired ${g.desired} (min ${g.min}, max ${g.max})`);
  return lines.join('\n');
}

export async function status(options: {
  site?: string;
  stateFile?: string;
  print?: (s: string) => void;
  /**
   * Named in the heading of the AWS part (the command passes AWS_REGION or AWS_DEFAULT_REGION).
   * @default 'default region'
   */
  region?: string;
}): Promise<{ aws?: AwsStatus; awsMissing?: string }> {
  const print = options.print ?? ((s: string) => console.log(s));
  print(localStatus(options.stateFile ?? DEFAULT_STATE_FILE));
  const d = await deploymentStatus(options.site);
  if (d.aws) print(formatAwsStatus(d.aws, options.region ?? 'default region'));
  else print(`\naws: ${d.missingBecause === 'no-site' ? '' : 'not shown: '}${d.awsMissing}`);
  return { aws: d.aws, awsMissing: d.awsMissing };
}

export function register(program: Command, env: CliEnv): void {
  program
    .command('status')
    .description('What is deployed (stacks, RDS, groups) and what was pulled and synced (local state file)')
    .option('--site <siteName>', "the deployment's siteName (for the AWS part)")
    .option('--config <file>', 'read siteName from this config')
    .addOption(stateFileOption())
    .action(async (opts) => {
      let site = opts.site as string | undefined;
      if (!site && opts.config) {
        site = loadConfig(opts.config, { checkFiles: false }).siteName;
      }
      await status({ site, stateFile: opts.stateFile, region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION });
    });
}
