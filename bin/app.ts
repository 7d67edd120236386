#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { ConfigError, loadConfig } from '../lib/config';
import { addRushhourStacks } from '../lib/rushhour-app';

// Read the config (-c config=PATH), create the stacks (cdk-nag applied there). Nothing else.
const app = new App();
try {
  // Inside the try: building the stacks also checks the config's files (web.bundlePath is vetted).
  addRushhourStacks(app, loadConfig(app.node.tryGetContext('config') ?? 'examples/rushhour.config.json'));
} catch (err) {
  // A config mistake is the operator's to fix: the message, not a stack trace.
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
