import { buildSync } from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';

const REPO_ROOT = path.resolve(__dirname, '..');

/**
 * Bundles the reference app into one CommonJS file for Node 20: `node outFile` starts the server.
 * Deterministic: the same sources give the same bytes (paths are relative to the repository, no
 * timestamps, no source maps), so the CDK asset hash and the instance's sha256 check stay stable.
 */
export function bundleReferenceApp(outFile: string): void {
  fs.mkdirSync(path.dirname(path.resolve(outFile)), { recursive: true });
  const result = buildSync({
    absWorkingDir: REPO_ROOT,
    entryPoints: [path.join(REPO_ROOT, 'app', 'entry.ts')],
    outfile: path.resolve(outFile),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    keepNames: true,
    sourcemap: false,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'silent',
    write: true,
  });
  if (result.errors.length) {
    throw new Error(`bundling the reference app failed: ${result.errors.map((e) => e.text).join('; ')}`);
  }
}
