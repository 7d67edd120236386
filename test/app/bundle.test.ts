import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleReferenceApp } from '../../app/bundle';
import { sha256FileSync } from '../../src/util/sha256';

test('bundleReferenceApp is deterministic, self-contained and free of machine paths', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-bundle-'));
  const a = path.join(dir, 'a', 'app.js');
  const b = path.join(dir, 'b', 'nested', 'app.js');
  bundleReferenceApp(a);
  bundleReferenceApp(b);
  expect(sha256FileSync(a)).toBe(sha256FileSync(b));
  const text = fs.readFileSync(a, 'utf8');
  expect(text).not.toContain(path.resolve(__dirname, '..', '..'));
  // Runs with no node_modules next to it: without DB settings it stops with a clear message.
  const copy = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-bundle-alone-')), 'app.js');
  fs.copyFileSync(a, copy);
  let stderr = '';
  try {
    execFileSync(process.execPath, [copy], {
      env: { PATH: process.env.PATH, PORT: '1' },
      stdio: 'pipe',
      cwd: path.dirname(copy),
    });
  } catch (err) {
    stderr = String((err as { stderr: Buffer }).stderr);
  }
  expect(stderr).toContain('database settings missing: set DB_HOST, DB_USER, DB_PASSWORD, DB_NAME');
});
