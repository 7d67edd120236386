import { Command } from 'commander';
import { loadConfig } from '../../../lib/config';
import { availabilityZonesFor } from '../../../lib/data-stack';
import { CheckResult, formatPreflight, PreflightEdge, preflightExitCode, runPreflight } from '../../aws/preflight';
import { awsPreflightEdge } from '../../aws/preflight-edge';

/** Loads the config, runs the checks against the account (or a given edge), returns the results and the exit code. */
export async function preflight(options: {
  config: string;
  edge?: PreflightEdge;
}): Promise<{ results: CheckResult[]; code: number }> {
  const config = loadConfig(options.config, { checkFiles: false });
  const edge = options.edge ?? awsPreflightEdge({ region: config.region });
  const results = await runPreflight(config, edge, availabilityZonesFor(config));
  return { results, code: preflightExitCode(results) };
}

export function register(program: Command): void {
  program
    .command('preflight')
    .description(
      'Check the account before the week: vCPU quota, RDS engine and class, instance type in the zones, certificate, DNS, CDK bootstrap, connection budget, LCU reservation. Exit 1 on any fail',
    )
    .option('--config <file>', 'rushhour config', 'rushhour.config.json')
    .option('--json', 'print the results as JSON')
    .action(async (opts) => {
      const { results, code } = await preflight(opts);
      console.log(opts.json ? JSON.stringify(results, null, 2) : formatPreflight(results));
      process.exitCode = code;
    });
}
