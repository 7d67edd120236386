import * as fs from 'node:fs';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { bundleReferenceApp } from '../../app/bundle';
import { renderUserData } from '../../src/bootstrap/user-data';
import { sha256FileSync } from '../../src/util/sha256';
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
}

/** The site bundle as an S3 asset and the user data that installs, verifies and runs it. */
export class WebBundle extends Construct {
  readonly asset: s3assets.Asset;
  readonly sha256: string;
  readonly userData: ec2.UserData;

  constructor(scope: Construct, id: string, props: WebBundleProps) {
    super(scope, id);
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
    } else {
      // Deterministic esbuild output: the asset hash changes only when the app does.
      file = path.join(PROJECT_ROOT, '.rushhour', 'bundle', 'reference-app.js');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      // Build aside and rename into place: parallel synths (test workers) never read a half-written file.
      const partial = `${file}.${process.pid}.partial.js`;
      bundleReferenceApp(partial);
      fs.renameSync(partial, file);
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

  /** s3:GetObject on exactly this bundle object: no wildcard. */
  grantRead(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [
          Stack.of(this).formatArn({
            service: 's3',
            region: '',
            account: '',
            resource: this.asset.s3BucketName,
            resourceName: this.asset.s3ObjectKey,
          }),
        ],
      }),
    );
  }
}
