import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BOOT_HELPERS, renderUserData } from '../../src/bootstrap/user-data';

/**
 * The boot survives a repository or S3 hiccup: the retry helper the user data defines, run by bash with
 * a flaky command and a `sleep` stand-in that records the waits instead of waiting.
 */
describe('boot retries with backoff, steps and total time logged', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-boot-'));
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.writeFileSync(path.join(dir, 'bin', 'sleep'), `#!/bin/bash\necho "$1" >> ${dir}/waits\n`, { mode: 0o755 });
    // Fails until it has been called $1 times.
    fs.writeFileSync(
      path.join(dir, 'bin', 'flaky'),
      `#!/bin/bash\nn=$(( $(cat ${dir}/calls 2>/dev/null || echo 0) + 1 )); echo $n > ${dir}/calls; [ "$n" -ge "$1" ]\n`,
      { mode: 0o755 },
    );
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function run(body: string): { code: number; out: string; waits: string[]; calls: number } {
    // As on the instance, where the user data sends both streams to its log.
    const script = ['set -euo pipefail', 'exec 2>&1', ...BOOT_HELPERS, body, 'echo AFTER'].join('\n');
    let code = 0;
    let out: string;
    try {
      out = execFileSync('bash', ['-c', script], {
        env: { PATH: `${dir}/bin:/usr/bin:/bin` },
        encoding: 'utf8',
        stdio: 'pipe',
      });
    } catch (err) {
      const e = err as { status: number; stdout: string; stderr: string };
      code = e.status;
      out = e.stdout + e.stderr;
    }
    const read = (f: string) => (fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), 'utf8') : '');
    return { code, out, waits: read('waits').split('\n').filter(Boolean), calls: Number(read('calls') || 0) };
  }

  test('a command that fails twice succeeds on the third attempt, after waits of 2 and 4 s', () => {
    const r = run('retry flaky 3');
    expect(r).toMatchObject({ code: 0, calls: 3, waits: ['2', '4'] });
    expect(r.out).toContain('rushhour: flaky failed (attempt 1 of 6), retrying in 2s');
    expect(r.out).toContain('AFTER');
  });

  test('a command that keeps failing stops the boot after 6 attempts (about a minute of backoff)', () => {
    const r = run('retry flaky 99');
    expect(r).toMatchObject({ code: 1, calls: 6, waits: ['2', '4', '8', '16', '32'] });
    expect(r.out).toContain('rushhour: FATAL: flaky failed 6 times');
    expect(r.out).not.toContain('AFTER');
  });

  test('each step and the total are logged with seconds since boot', () => {
    const r = run('boot_step "install Node 22"\nboot_step done');
    expect(r.out).toMatch(/rushhour: step \[install Node 22\] at \+\d+s\nrushhour: step \[done\] at \+\d+s/);
  });

  test('the user data retries the package install and the download, and logs its steps in order', () => {
    const lines = renderUserData({
      bundleS3Url: 's3://bucket/key.js',
      bundleSha256: 'a'.repeat(64),
      kind: 'node-single-file',
      port: 8080,
      healthCheckPath: '/healthz',
      ssmPrefix: '/rushhour/x/db',
      region: 'us-east-1',
    });
    expect(lines.filter((l) => l.startsWith('retry '))).toEqual([
      'retry dnf install -y nodejs22',
      "retry aws s3 cp --only-show-errors --region us-east-1 's3://bucket/key.js' /opt/rushhour/download",
    ]);
    // Node 22 strictly: no silent fallback to whatever `node` the image has.
    expect(lines.join('\n')).toContain('NODE_BIN="$(command -v node-22 || true)"');
    expect(lines.join('\n')).not.toMatch(/nodejs20|node-20/);
    const steps = lines.filter((l) => l.startsWith('boot_step ')).map((l) => l.slice('boot_step '.length));
    expect(steps).toEqual(['"install Node 22"', '"download the bundle"', '"start the site"', 'done']);
    execFileSync('bash', ['-n'], { input: lines.join('\n') });
  });
});
