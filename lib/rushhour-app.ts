import { Annotations, App, CfnOutput, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, pastScheduleProblem, type RushhourConfig } from './config';
import { DataStack } from './data-stack';
import { ImportStack } from './import-stack';
import { stackNames } from './stack-names';
import { WebStack } from './web-stack';

export interface RushhourStacks {
  readonly data: DataStack;
  /** The dump import: after the data stack, before the web stack (whose instances read what it writes). */
  readonly import: ImportStack;
  readonly web: WebStack;
}

export interface AddRushhourStacksOptions {
  /** Scheduled actions before this time are left out. @default new Date() */
  readonly now?: Date;
  /**
   * Fail on what is otherwise a synth warning (a schedule window already over), as `strict: true` in the config
   * does; bin/app.ts sets it from the context `rushhour:strict`.
   * @default false
   */
  readonly strict?: boolean;
}

export { stackNames } from './stack-names';

/**
 * Creates the stateful, the import and the stateless stack of one deployment and checks the whole app with
 * cdk-nag's AwsSolutions pack (3.x API). The CDK app entry and the tests both build the app this way.
 */
export function addRushhourStacks(
  app: App,
  config: RushhourConfig,
  options: AddRushhourStacksOptions = {},
): RushhourStacks {
  const past = pastScheduleProblem(config, options.now ?? new Date());
  if (past && (config.strict || options.strict)) throw new ConfigError(`invalid rushhour config:\n  schedule: ${past}`);
  const env = { account: config.account, region: config.region };
  const names = stackNames(config.siteName);
  const data = new DataStack(app, names.data, {
    env,
    config,
    description: `rushhour ${config.siteName}: network, database, import, export (stateful)`,
  });
  const imported = new ImportStack(app, names.import, {
    env,
    config,
    data,
    description: `rushhour ${config.siteName}: dump import into the database, DB config in SSM`,
  });
  const web = new WebStack(app, names.web, {
    env,
    config,
    data,
    now: options.now,
    description: `rushhour ${config.siteName}: load balancers, groups, DNS, dashboard (stateless)`,
  });
  for (const consumer of [imported, web]) {
    new CfnOutput(consumer, 'DataStackFingerprint', {
      value: data.templateFingerprint(),
      description: 'The data stack template this stack last read its outputs from (see DataStack.templateFingerprint)',
    });
  }
  // The instances read the DB config the import writes to SSM at boot: the import comes first.
  web.addStackDependency(imported, 'web instances read the DB config the import writes');
  // cfn-lint's resource schemas have no Tags on ALB listeners and dashboards, though aws-cdk-lib renders them.
  Tags.of(app).add('rushhour:site', config.siteName, {
    excludeResourceTypes: ['AWS::ElasticLoadBalancingV2::Listener', 'AWS::CloudWatch::Dashboard'],
  });
  // A warning, not an error: a config kept for the record may be synthesized after its rush. The CDK CLI prints it
  // with the stack's path, and `cdk synth --strict` fails on it.
  if (past) Annotations.of(web).addWarningV2('rushhour:schedule-in-past', `schedule: ${past}`);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { data, import: imported, web };
}
