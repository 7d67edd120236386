import { ChildProcess, spawn, SpawnOptions } from 'node:child_process';
import { waitForPort } from './ports';

// Executable lookup lives in util (the bench and load-test scripts use it too); re-exported for the local helpers.
export { requireTool, which } from '../util/executable';

/** A child process that is killed when this process exits, so a crashed test or Ctrl-C leaves nothing running. */
export function spawnOwned(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  const kill = () => {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  };
  process.once('exit', kill);
  child.once('exit', () => process.removeListener('exit', kill));
  return child;
}

/** Sends SIGTERM, waits up to `graceMs` for exit, then SIGKILL. */
export async function stopProcess(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Waits until `child` listens on `port`; fails at once with the child's last output if it exits first,
 * instead of waiting out the timeout on a server that already died.
 */
export async function waitUntilListening(
  child: ChildProcess,
  port: number,
  name: string,
  timeoutMs = 60000,
): Promise<void> {
  let output = '';
  const collect = (b: Buffer) => {
    output = (output + b.toString()).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let onExit: (code: number | null) => void = () => undefined;
  const exited = new Promise<never>((_, reject) => {
    onExit = (code) => reject(new Error(`${name} exited (code ${code}) before listening on port ${port}:\n${output}`));
    child.once('exit', onExit);
  });
  try {
    await Promise.race([waitForPort(port, '127.0.0.1', timeoutMs), exited]);
  } finally {
    child.removeListener('exit', onExit);
    exited.catch(() => undefined);
  }
}
