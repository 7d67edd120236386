import * as fs from 'node:fs';
import * as path from 'node:path';
import { Annotations, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { bundleReferenceApp } from '../../app/bundle';
import { renderSiteUserData } from '../../src/bootstrap/site-user-data';
import { renderUserData } from '../../src/bootstrap/user-data';
import { buildBootScript } from '../../src/site/build-boot';
import type { Finding } from '../../src/site/bundle-rules';
import { formatFindings, vetTarballSync } from '../../src/site/bundle-vet';
import type { SiteConfig } from '../../src/site/schema';
import { sha256FileSync } from '../../src/util/sha256';
import { ConfigError } from '../config';
import { PROJECT_ROOT } from './lambda-defaults';

export interface WebBundleProps {
  /** A user's site as a `.tar.gz`; the reference app (one esbuild file) when absent. @default - the reference app */
  readonly bundlePath?: string;
  /** Starts the user's site from the extracted tarball. Required with `bundlePath`. */
  readonly startCommand?: string;
  readonly port: number;
  readonly healthCheckPath: string;
  readonly ssmPrefix: string;
  readonly region: string;
  /**
   * `web.site` (parsed). A php, node or command runtime runs `bundlePath` behind the front door, rendered
   * on the instance by the boot step (src/site), which ships as a second asset. @default - the reference path
   */
  readonly site?: SiteConfig;
}

/** A `web.bundlePath` with entries that must not reach an instance; synth stops here, not the instance's tar. */
export class WebBundleRefusedError extends ConfigError {
  override readonly name = 'WebBundleRefusedError';
  constructor(
    readonly bundlePath: string,
    readonly findings: readonly Finding[],
  ) {
    super(
      `invalid rushhour config:\n  web.bundlePath: ${bundlePath}: ${findings.length} entr${findings.length === 1 ? 'y' : 'ies'} must not reach an instance:\n${formatFindings(findings).replace(/^/gm, '  ')}\n  Pack the site with "npx rushhour pull-web", which excludes, refuses and normalises these, or fix them and repack.`,
    );
  }
}

/**
 * The same rules as pull-web (src/site/bundle-rules.ts). Normalisations are refused too: the asset is
 * uploaded byte for byte, so a setuid bit here would be a setuid bit on every instance.
 */
function vetBundle(scope: Construct, file: string): void {
  const report = vetTarballSync(file);
  const bad = [...report.refusals, ...report.normalisations];
  if (bad.length) throw new WebBundleRefusedError(file, bad);
  for (const w of report.warnings)
    Annotations.of(scope).addWarningV2(
      `rushhour:bundle-${w.rule}`,
      `web.bundlePath: ${w.path} ${w.message}: check it holds no secret that should not sit on every instance`,
    );
}

/** Builds a file aside and renames it into place: parallel synths (test workers) never read a half-written file. */
function buildInto(file: string, build: (partial: string) => void): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.partial.js`;
  build(partial);
  fs.renameSync(partial, file);
  return file;
}

/**
 * The site bundle as an S3 asset and the user data that installs, verifies and runs it; for a `web.site`
 * runtime also the boot step (`site-boot.js`) as its own asset, checked by sha256 on the instance too.
 */
export class WebBundle extends Construct {
  readonly asset: s3assets.Asset;
  readonly sha256: string;
  readonly userData: ec2.UserData;
  /** The boot step of a `web.site` runtime. @default - none (reference path) */
  readonly bootAsset?: s3assets.Asset;

  constructor(scope: Construct, id: string, props: WebBundleProps) {
    super(scope, id);
    const site = props.site && props.site.runtime !== 'reference' ? props.site : undefined;
    if (site) {
      this.asset = this.siteAsset(props);
      this.sha256 = sha256FileSync(props.bundlePath!);
      // Deterministic esbuild output: the asset hash changes only when the boot step does.
      const bootFile = buildInto(path.join(PROJECT_ROOT, '.rushhour', 'bundle', 'site-boot.js'), (f) =>
        buildBootScript(f),
      );
      this.bootAsset = new s3assets.Asset(this, 'BootAsset', { path: bootFile });
      this.userData = ec2.UserData.forLinux();
      this.userData.addCommands(
        ...renderSiteUserData({
          site,
          bundleS3Url: this.asset.s3ObjectUrl,
          bundleSha256: this.sha256,
          bootS3Url: this.bootAsset.s3ObjectUrl,
          bootSha256: sha256FileSync(bootFile),
          port: props.port,
          healthCheckPath: props.healthCheckPath,
          ssmPrefix: props.ssmPrefix,
          region: props.region,
        }),
      );
      return;
    }
    let file: string;
    let kind: 'node-single-file' | 'tarball';
    if (props.bundlePath) {
      if (!/\.(tar\.gz|tgz)$/.test(props.bundlePath) || !fs.statSync(props.bundlePath).isFile()) {
        throw new Error(
          `web.bundlePath must be a .tar.gz file of the site (pack a directory with "tar -czf site.tar.gz -C DIR ."), got ${props.bundlePath}`,
        );
      }
      if (!props.startCommand)
        throw new Error('web.startCommand is required with web.bundlePath, e.g. "node server.js"');
      file = props.bundlePath;
      kind = 'tarball';
      vetBundle(this, file);
    } else {
      // Deterministic esbuild output: the asset hash changes only when the app does.
      file = buildInto(path.join(PROJECT_ROOT, '.rushhour', 'bundle', 'reference-app.js'), bundleReferenceApp);
      kind = 'node-single-file';
    }
    this.asset = new s3assets.Asset(this, 'Asset', { path: file });
    this.sha256 = sha256FileSync(file);
    this.userData = ec2.UserData.forLinux();
    this.userData.addCommands(
      ...renderUserData({
        // A token (the bootstrap bucket's name is known at deploy); renderUserData checks only resolved values.
        bundleS3Url: this.asset.s3ObjectUrl,
        bundleSha256: this.sha256,
        kind,
        startCommand: props.startCommand,
        port: props.port,
        healthCheckPath: props.healthCheckPath,
        ssmPrefix: props.ssmPrefix,
        region: props.region,
      }),
    );
  }

  /** A web.site runtime's bundle: a vetted .tar.gz is required; the runtime, not web.startCommand, starts it. */
  private siteAsset(props: WebBundleProps): s3assets.Asset {
    if (!props.bundlePath || !/\.(tar\.gz|tgz)$/.test(props.bundlePath) || !fs.statSync(props.bundlePath).isFile())
      throw new ConfigError(
        `invalid rushhour config:\n  web.bundlePath: web.site.runtime "${props.site!.runtime}" needs the site as a .tar.gz (npx rushhour pull-web, or "tar -czf site.tar.gz -C DIR ."), got ${props.bundlePath ?? 'none'}`,
      );
    vetBundle(this, props.bundlePath);
    return new s3assets.Asset(this, 'Asset', { path: props.bundlePath });
  }

  /** s3:GetObject on exactly this bundle object (and the boot step's, if any): no wildcard. */
  grantRead(grantee: iam.IGrantable): void {
    const arn = (a: s3assets.Asset) =>
      Stack.of(this).formatArn({
        service: 's3',
        region: '',
        account: '',
        resource: a.s3BucketName,
        resourceName: a.s3ObjectKey,
      });
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [this.asset, ...(this.bootAsset ? [this.bootAsset] : [])].map(arn),
      }),
    );
  }
}
