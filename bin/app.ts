#!/usr/bin/env node
import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadConfig } from '../lib/config';
import { DataStack } from '../lib/data-stack';
import { WebStack } from '../lib/web-stack';

// Read the config (-c config=PATH), create the two stacks, check them with cdk-nag. Nothing else.
const app = new App();
const config = loadConfig(app.node.tryGetContext('config') ?? 'examples/rushhour.config.json');
const env = { account: config.account, region: config.region };
const data = new DataStack(app, `rushhour-${config.siteName}-data`, { env, config, description: `rushhour ${config.siteName}: network, database, import, export (stateful)` });
new WebStack(app, `rushhour-${config.siteName}-web`, { env, config, data, description: `rushhour ${config.siteName}: load balancers, groups, DNS, dashboard (stateless)` });
// cfn-lint's resource schemas have no Tags on ALB listeners and dashboards, though aws-cdk-lib renders them.
Tags.of(app).add('rushhour:site', config.siteName, { excludeResourceTypes: ['AWS::ElasticLoadBalancingV2::Listener', 'AWS::CloudWatch::Dashboard'] });
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
