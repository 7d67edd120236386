import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { isExecutableFile, which } from '../../src/util/executable';
import { escapeHtml } from '../../src/util/html';
import { integerAtLeast, positiveNumber } from '../../src/util/options';
import { exponentialBackoff, linearBackoff, retry } from '../../src/util/retry';
import { sha256File, sha256FileSync } from '../../src/util/sha256';
import { quoteIdent } from '../../src/util/sql-ident';

test('quoteIdent doubles inner backticks', () => {
  expect(quoteIdent('a`b')).toBe('`a``b`');
  expect(quoteIdent('plain')).toBe('`plain`');
});

test('escapeHtml escapes the five characters and stringifies numbers', () => {
  expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  expect(escapeHtml(42)).toBe('42');
});

test('sha256File and sha256FileSync agree with a one-shot hash across chunk boundaries', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-sha-')), 'f');
  const data = Buffer.alloc(5 * 1024 * 1024 + 7, 'ab');
  fs.writeFileSync(file, data);
  const want = createHash('sha256').update(data).digest('hex');
  expect(await sha256File(file)).toBe(want);
  expect(sha256FileSync(file)).toBe(want);
});

test('retry retries while shouldRetry allows, with the computed delays, then rethrows the last error', async () => {
  const waits: number[] = [];
  let calls = 0;
  const ok = await retry(
    async (n) => {
      calls++;
      if (n < 3) throw new Error(`fail ${n}`);
      return 'done';
    },
    { shouldRetry: () => true, delayMs: exponentialBackoff(100), sleep: async (ms) => void waits.push(ms) },
  );
  expect(ok).toBe('done');
  expect(calls).toBe(3);
  expect(waits).toEqual([100, 200]);

  const seen: number[] = [];
  await expect(
    retry(
      async (n) => {
        throw new Error(`fail ${n}`);
      },
      { shouldRetry: (_e, n) => n < 2, delayMs: () => 0, onRetry: (_e, n) => seen.push(n) },
    ),
  ).rejects.toThrow('fail 2');
  expect(seen).toEqual([1]);
  expect([1, 2, 3, 9].map(linearBackoff(2000, 10000))).toEqual([2000, 4000, 6000, 10000]);
});

test('positiveNumber and integerAtLeast reject with messages that name the flag', () => {
  expect(positiveNumber('--rate')('2.5')).toBe(2.5);
  expect(() => positiveNumber('--rate')('0')).toThrow(InvalidArgumentError);
  expect(() => positiveNumber('--n', { integer: true })('1.5')).toThrow('--n must be a positive integer, got "1.5"');
  expect(() => positiveNumber('--rate')('x')).toThrow('--rate must be a positive number, got "x"');
  expect(integerAtLeast('--students', 0)('0')).toBe(0);
  expect(() => integerAtLeast('--courses', 1)('0')).toThrow('--courses must be an integer >= 1, got "0"');
});

test('which finds an executable file in the given directories and skips non-executables', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-which-'));
  fs.writeFileSync(path.join(dir, 'plain'), '');
  fs.writeFileSync(path.join(dir, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  fs.mkdirSync(path.join(dir, 'adir'));
  expect(which('tool', [dir])).toBe(path.join(dir, 'tool'));
  expect(which('plain', [dir])).toBeUndefined();
  expect(which('adir', [dir])).toBeUndefined();
  expect(isExecutableFile(path.join(dir, 'missing'))).toBe(false);
  expect(which('sh')).toMatch(/\/sh$/);
});
