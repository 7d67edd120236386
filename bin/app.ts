#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { ConfigError, loadConfig } from '../lib/config';
import { addRushhourStacks } from '../lib/rushhour-app';

// Read the config (-c config=PATH), create the stacks (cdk-nag applied there). Nothing else.
const app = new App();
const config = (() => {
  try {
    return loadConfig(app.node.tryGetContext('config') ?? 'examples/rushhour.config.json');
  } catch (err) {
    // A config mistake is the operator's to fix: the message, not a stack trace.
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
})();
addRushhourStacks(app, config);
