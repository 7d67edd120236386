import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalSshd, startSshd } from '../../src/local/sshd';

/** The commands as the operator runs them (`npx rushhour ...` = node bin/rushhour.js), against a real sshd. */
const ROOT = path.resolve(__dirname, '..', '..');
let sshd: LocalSshd;
let work: string;

beforeAll(async () => {
  sshd = await startSshd();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-cli-test-'));
});
afterAll(async () => {
  await sshd?.stop();
});

const rushhour = (...args: string[]) => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'rushhour.js'), ...args], {
    encoding: 'utf8',
    cwd: work,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

test('pull-web from the command line: plain progress lines (no TTY), verified archive, state file', () => {
  const site = path.join(work, 'www', 'site');
  fs.mkdirSync(site, { recursive: true });
  fs.writeFileSync(path.join(site, 'index.html'), '<h1>courses</h1>\n');
  const r = rushhour(
    'pull-web',
    '--origin',
    `${sshd.username}@127.0.0.1:${sshd.port}`,
    '--known-hosts',
    sshd.knownHostsPath,
    '--identity',
    sshd.privateKeyPath,
    '--path',
    site,
    '--out',
    'web',
    '--state-file',
    'state.json',
  );
  expect(r.err).not.toMatch(/rushhour:/);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/pull-web .*\(100%\)/);
  expect(r.out).toMatch(
    /pulled .*site\.tar\.gz \(\d+ bytes, sha256 [0-9a-f]{64}, verified on both ends; 1 attempt\(s\)\)/,
  );
  expect(fs.existsSync(path.join(work, 'web', 'site.tar.gz'))).toBe(true);
  const state = JSON.parse(fs.readFileSync(path.join(work, 'state.json'), 'utf8'));
  expect(Object.keys(state.operations)[0]).toMatch(/^pull-web:/);
});

test('a wrong pinned host key: exit 1, a clear message, nothing written', () => {
  const r = rushhour(
    'pull-db',
    '--origin',
    `${sshd.username}@127.0.0.1:${sshd.port}`,
    '--host-key-fingerprint',
    `SHA256:${'A'.repeat(43)}`,
    '--identity',
    sshd.privateKeyPath,
    '--database',
    'courses',
    '--out',
    'db2',
    '--state-file',
    'state2.json',
  );
  expect(r.code).toBe(1);
  expect(r.err).toMatch(
    /rushhour: host key verification failed for \[127\.0\.0\.1\]:\d+: the server presented SHA256:\S+, but the pinned fingerprint is SHA256:A{43}/,
  );
  expect(fs.existsSync(path.join(work, 'db2', 'courses.sql.gz'))).toBe(false);
});

test('no host key source at all is refused before connecting', () => {
  const r = spawnSync(
    process.execPath,
    [
      path.join(ROOT, 'bin', 'rushhour.js'),
      'pull-web',
      '--origin',
      `${sshd.username}@127.0.0.1:${sshd.port}`,
      '--identity',
      sshd.privateKeyPath,
      '--path',
      '/tmp',
    ],
    { encoding: 'utf8', cwd: work, env: { ...process.env, HOME: work } },
  );
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/host key must be verified: pass --known-hosts FILE or --host-key-fingerprint SHA256/);
});
