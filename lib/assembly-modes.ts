import * as fs from 'node:fs';
import * as path from 'node:path';

/** Group and other write: no file or directory of the cloud assembly needs them. */
const GROUP_OTHER_WRITE = 0o022;

/**
 * Clears group and world write on everything under a cloud assembly directory (cdk.out), without following
 * symlinks; returns the paths it changed.
 *
 * Why here and not in a construct or an Aspect: aws-cdk-lib's AssetStaging bundles a NodejsFunction into
 * `asset.<hash>-building`, `chmodSync(tempDir, 0o777)`s it (so a bundling container of any user can write it)
 * and renames it to `asset.<hash>`, all while the construct is created; nothing in the construct tree runs
 * after that and before the files are on disk. So the entry (bin/app.ts) and the tests' synth run this once
 * the assembly is written. A world-writable asset dir lets any local user swap the code that is then uploaded
 * and run as the import and export Lambdas.
 */
export function restrictAssemblyModes(outdir: string): string[] {
  const changed: string[] = [];
  const visit = (p: string) => {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) return; // a link's own mode is not used; its target is visited where it lives
    if (st.mode & GROUP_OTHER_WRITE) {
      fs.chmodSync(p, st.mode & 0o7777 & ~GROUP_OTHER_WRITE);
      changed.push(p);
    }
    if (st.isDirectory()) for (const name of fs.readdirSync(p)) visit(path.join(p, name));
  };
  visit(outdir);
  return changed;
}
