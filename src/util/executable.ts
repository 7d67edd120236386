import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** True if `file` is a regular file this process may execute. */
export function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The directories on PATH, in order. */
export function pathDirs(): string[] {
  return (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
}

/**
 * PATH plus the sbin directories (Debian puts daemons such as mariadbd and sshd there, and they are not on
 * a non-root PATH) and ~/go/bin (where `go install` puts k6).
 */
export function defaultSearchDirs(): string[] {
  return [...pathDirs(), '/usr/sbin', '/sbin', '/usr/local/sbin', path.join(os.homedir(), 'go', 'bin')];
}

/** Absolute path of the first executable `name` in `dirs`, or undefined. */
export function which(name: string, dirs: readonly string[] = defaultSearchDirs()): string | undefined {
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** Like `which`, but throws an error that names the install command. */
export function requireTool(name: string, installHint: string): string {
  const found = which(name);
  if (!found)
    throw new Error(`${name} is not installed. Install it with: ${installHint} (or run: bash scripts/setup.sh)`);
  return found;
}
