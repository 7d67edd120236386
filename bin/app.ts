#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { restrictAssemblyModes } from '../lib/assembly-modes';
import { ConfigError, loadConfig } from '../lib/config';
import { addRushhourStacks } from '../lib/rushhour-app';

// Read the config (-c config=PATH), create the stacks (cdk-nag applied there). Nothing else.
const app = new App();
try {
  // Inside the try: building the stacks also checks the config's files (web.bundlePath is vetted).
  // Context values from `-c` arrive as strings: "true" as well as true turns strict mode on.
  const strict = String(app.node.tryGetContext('rushhour:strict') ?? 'false') === 'true';
  addRushhourStacks(app, loadConfig(app.node.tryGetContext('config') ?? 'examples/rushhour.config.json'), { strict });
  // Synthesized here rather than on exit (the CLI's auto-synth) so the asset dirs CDK leaves 0777 can be fixed.
  restrictAssemblyModes(app.synth().directory);
} catch (err) {
  // A config mistake is the operator's to fix: the message, not a stack trace.
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
