import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { restrictAssemblyModes } from '../../lib/assembly-modes';
import { loadConfig, parseConfig, RushhourConfig, RushhourConfigInput } from '../../lib/config';
import { addRushhourStacks, RushhourStacks } from '../../lib/rushhour-app';

export const ROOT = path.resolve(__dirname, '..', '..');
export const EXAMPLE_CONFIG = path.join(ROOT, 'examples', 'rushhour.config.json');
/** A fixed clock before the example's windows, so every scheduled action is in the template. */
export const NOW = new Date('2026-12-01T00:00:00Z');

// Tests get the feature flags cdk.json gives the CLI (launch templates, etc.); without them they would differ.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const CDK_CONTEXT = require('../../cdk.json').context;

export function exampleConfig(): RushhourConfig {
  return loadConfig(EXAMPLE_CONFIG);
}

/** The example config with changes, validated like a file next to the example. */
export function configWith(changes: (raw: RushhourConfigInput) => void): RushhourConfig {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const raw = JSON.parse(JSON.stringify(require(EXAMPLE_CONFIG))) as RushhourConfigInput;
  changes(raw);
  return parseConfig(raw, { baseDir: path.dirname(EXAMPLE_CONFIG) });
}

export interface Synthesized extends RushhourStacks {
  readonly app: App;
  readonly assembly: CloudAssembly;
  readonly dataTemplate: Template;
  readonly webTemplate: Template;
}

export interface SynthOptions {
  readonly now?: Date;
  /**
   * Also run aws-cdk-lib's default CloudFormation rules (as `cdk synth` does). They cost several seconds of
   * engine start-up, so only the validation test turns them on; cdk-nag always runs.
   * @default false
   */
  readonly defaultRules?: boolean;
  /**
   * Bundle the Lambda handlers with esbuild, as `cdk synth` does. Off, CDK skips NodejsFunction bundling
   * (context `aws:cdk:bundling-stacks: []`): the templates are the same except for the asset hashes, which
   * the snapshot serializer normalizes anyway. Only a test that needs a deployable asset turns it on.
   * @default false
   */
  readonly bundle?: boolean;
}

// One synth per configuration and options in a test file: a synth costs seconds (cdk-nag visits every node).
// Jest gives every test file its own module registry, so this cache is per file.
const synthCache = new Map<string, Synthesized>();

/**
 * Builds the app as bin/app.ts does and synthesizes it, once per (config, options) in a test file. Treat the
 * result as read-only: other tests in the file get the same object.
 */
export function synth(config: RushhourConfig = exampleConfig(), options: SynthOptions = {}): Synthesized {
  const key = JSON.stringify({ config, options: { ...options, now: (options.now ?? NOW).toISOString() } });
  let synthesized = synthCache.get(key);
  if (!synthesized) synthCache.set(key, (synthesized = synthUncached(config, options)));
  return synthesized;
}

function synthUncached(config: RushhourConfig, options: SynthOptions): Synthesized {
  const context = {
    ...CDK_CONTEXT,
    '@aws-cdk/core:validateAgainstDefaultRules': options.defaultRules ?? false,
    ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
  };
  const app = new App({ context, outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-cdk-test-')) });
  const stacks = addRushhourStacks(app, config, { now: options.now ?? NOW });
  const assembly = app.synth();
  restrictAssemblyModes(assembly.directory); // as bin/app.ts does
  return {
    app,
    assembly,
    ...stacks,
    dataTemplate: Template.fromJSON(assembly.getStackByName(stacks.data.stackName).template),
    webTemplate: Template.fromJSON(assembly.getStackByName(stacks.web.stackName).template),
  };
}

/**
 * Synthesized CloudFormation JSON: the tests walk property paths that differ by resource type and check them
 * with expect, so one loose type here instead of a cast at every step.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export type CfnJson = any;

/** A resource of a synthesized template. */
export type CfnResource = { Properties: Record<string, CfnJson>; [k: string]: CfnJson };

/** Resources of one type as [logicalId, resource] pairs. */
export function resourcesOf(template: Template, type: string): [string, CfnResource][] {
  return Object.entries(template.findResources(type)) as [string, CfnResource][];
}
