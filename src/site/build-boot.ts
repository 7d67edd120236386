import { buildSync } from 'esbuild';
import * as path from 'node:path';

/**
 * Bundles ./boot.ts and its imports (the AWS SDK's SSM and Secrets Manager clients, zod) into one
 * CommonJS file for the instance's Node 22/24: no npm install on the instance. The CDK app ships the
 * output as an S3 asset; the tests run the same output.
 */
export function buildBootScript(outFile: string): { bytes: number } {
  const res = buildSync({
    entryPoints: [path.join(__dirname, 'boot.ts')],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    minify: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'silent',
  });
  return { bytes: Object.values(res.metafile!.outputs)[0].bytes };
}
