import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { restrictAssemblyModes } from '../../lib/assembly-modes';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';
import { localOriginOptions } from '../../src/local/origin';
import { LocalSshd, startSshd } from '../../src/local/sshd';
import { pullDb } from '../../src/origin/pull-db';
import { pullWeb } from '../../src/origin/pull-web';
import { sshTarget } from '../../src/ssh/origin';
import { SshSession } from '../../src/ssh/session';
import { resumableGet } from '../../src/ssh/transfer';

/**
 * Files holding the origin's data or credentials are 0600 whatever the umask (real sshd and MariaDB as the
 * origin), and the cloud assembly the entry writes has nothing group- or world-writable.
 */
let sshd: LocalSshd;
let origin: LocalMariaDb;
let work: string;
let umask: number;

const modeOf = (p: string) => fs.lstatSync(p).mode & 0o7777;
const octal = (m: number) => `0${m.toString(8)}`;

beforeAll(async () => {
  // The usual umask: with it, a file created without an explicit mode is 0644, readable by every local user.
  umask = process.umask(0o022);
  [sshd, origin] = await Promise.all([startSshd(), startMariaDb()]);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-file-modes-'));
  origin.sql(`CREATE DATABASE courses; USE courses;
    CREATE TABLE student (id INT PRIMARY KEY, email VARCHAR(200), password_hash VARCHAR(200));
    INSERT INTO student VALUES (1, 'a@example.edu', 'hash-1'), (2, 'b@example.edu', 'hash-2');`);
}, 120000);

afterAll(async () => {
  process.umask(umask);
  await Promise.all([sshd?.stop(), origin?.stop()]);
});

test('pull-db: the dump, its .checksums.json and the state file are 0600', async () => {
  const out = path.join(work, 'db');
  const stateFile = path.join(work, 'db.state.json');
  const rec = await pullDb({ ...localOriginOptions(sshd, origin), database: 'courses', out, stateFile, log: () => {} });
  const modes = Object.fromEntries(
    [rec.dumpFile, path.join(out, 'courses.checksums.json'), stateFile].map((f) => [
      path.basename(f),
      octal(modeOf(f)),
    ]),
  );
  expect(modes).toEqual({ 'courses.sql.gz': '0600', 'courses.checksums.json': '0600', 'db.state.json': '0600' });
});

test('pull-db over files an older version left 0644: the checksums are made 0600 too', async () => {
  const out = path.join(work, 'db-again');
  fs.mkdirSync(out);
  const checksums = path.join(out, 'courses.checksums.json');
  fs.writeFileSync(checksums, '{}\n', { mode: 0o644 });
  expect(modeOf(checksums)).toBe(0o644);
  await pullDb({
    ...localOriginOptions(sshd, origin),
    database: 'courses',
    out,
    stateFile: path.join(work, 'db-again.state.json'),
    log: () => {},
  });
  expect(octal(modeOf(checksums))).toBe('0600');
});

test('pull-web: the site archive (it may hold wp-config.php) is 0600, repacked or not', async () => {
  const site = path.join(work, 'www', 'site');
  fs.mkdirSync(site, { recursive: true });
  fs.writeFileSync(path.join(site, 'index.php'), '<?php echo "hi";\n');
  fs.writeFileSync(path.join(site, 'config.php'), "<?php $db_password = 'origin-secret';\n");
  const base = {
    origin: `${sshd.username}@127.0.0.1:${sshd.port}`,
    knownHosts: sshd.knownHostsPath,
    identity: sshd.privateKeyPath,
    path: site,
    log: () => {},
  };
  const plain = await pullWeb({ ...base, out: path.join(work, 'web'), stateFile: path.join(work, 'web.state.json') });
  expect(octal(modeOf(plain.archive))).toBe('0600');
  // A world-writable member makes the archive go through the repacking path (a new file).
  fs.chmodSync(path.join(site, 'index.php'), 0o666);
  const repacked = await pullWeb({
    ...base,
    out: path.join(work, 'web-repacked'),
    stateFile: path.join(work, 'web-repacked.state.json'),
  });
  expect(repacked.normalised).toContain('index.php');
  expect(octal(modeOf(repacked.archive))).toBe('0600');
  expect(octal(modeOf(path.join(work, 'web-repacked.state.json')))).toBe('0600');
});

test('a download in progress: the .part file is 0600 from its first byte, also when resumed over a 0644 one', async () => {
  const remote = path.join(work, 'remote.bin');
  const data = randomBytes(3 * 1024 * 1024);
  fs.writeFileSync(remote, data);
  const sha = createHash('sha256').update(data).digest('hex');
  const target = sshTarget({
    origin: `${sshd.username}@127.0.0.1:${sshd.port}`,
    knownHosts: sshd.knownHostsPath,
    identity: sshd.privateKeyPath,
  });
  const seen = new Set<string>();
  const get = (localPath: string) =>
    resumableGet({
      connect: () => SshSession.connect(target),
      remotePath: remote,
      localPath,
      expectedSha256: sha,
      window: 1,
      onProgress: () => seen.add(octal(modeOf(localPath))),
    });
  await get(path.join(work, 'fresh.part'));
  expect([...seen]).toEqual(['0600']);
  // An older version's half download, 0644: resuming appends to it and makes it 0600 first.
  const old = path.join(work, 'old.part');
  fs.writeFileSync(old, data.subarray(0, 1024 * 1024), { mode: 0o644 });
  seen.clear();
  const r = await get(old);
  expect(r.resumedBytes).toBe(1024 * 1024);
  expect([...seen]).toEqual(['0600']);
});

test('restrictAssemblyModes clears group/world write on dirs and files, keeps exec bits, leaves symlinks alone', () => {
  const dir = fs.mkdtempSync(path.join(work, 'assembly-'));
  fs.mkdirSync(path.join(dir, 'asset.abc'));
  fs.chmodSync(path.join(dir, 'asset.abc'), 0o777);
  fs.writeFileSync(path.join(dir, 'asset.abc', 'index.js'), '');
  fs.chmodSync(path.join(dir, 'asset.abc', 'index.js'), 0o666);
  fs.writeFileSync(path.join(dir, 'asset.abc', 'run.sh'), '');
  fs.chmodSync(path.join(dir, 'asset.abc', 'run.sh'), 0o775);
  fs.symlinkSync('/tmp', path.join(dir, 'link'));
  const changed = restrictAssemblyModes(dir).map((p) => path.relative(dir, p));
  expect(changed.sort()).toEqual(['asset.abc', 'asset.abc/index.js', 'asset.abc/run.sh']);
  expect(octal(modeOf(path.join(dir, 'asset.abc')))).toBe('0755');
  expect(octal(modeOf(path.join(dir, 'asset.abc', 'index.js')))).toBe('0644');
  expect(octal(modeOf(path.join(dir, 'asset.abc', 'run.sh')))).toBe('0755');
  expect(octal(fs.statSync('/tmp').mode & 0o7777)).toBe('01777'); // not followed
});

test('the CDK entry (bin/app.ts, Lambdas bundled) leaves nothing under cdk.out group- or world-writable', () => {
  const outdir = fs.mkdtempSync(path.join(work, 'cdk.out-'));
  const r = spawnSync(process.execPath, [require.resolve('tsx/cli'), 'bin/app.ts'], {
    cwd: path.resolve(__dirname, '..', '..'),
    env: { ...process.env, CDK_OUTDIR: outdir, CDK_DISABLE_CLI_TELEMETRY: 'true' },
    encoding: 'utf8',
    timeout: 180_000,
  });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
  const entries: string[] = [];
  const walk = (p: string) => {
    entries.push(p);
    if (fs.lstatSync(p).isDirectory()) for (const n of fs.readdirSync(p)) walk(path.join(p, n));
  };
  walk(outdir);
  // NodejsFunction assets were staged (the dirs aws-cdk-lib chmods 0777), so the check is not vacuous.
  const assetDirs = fs.readdirSync(outdir).filter((n) => /^asset\.[0-9a-f]{64}$/.test(n));
  expect(assetDirs.length).toBeGreaterThan(0);
  const writable = entries
    .filter((p) => !fs.lstatSync(p).isSymbolicLink() && modeOf(p) & 0o022)
    .map((p) => `${path.relative(outdir, p)} ${octal(modeOf(p))}`);
  expect(writable).toEqual([]);
}, 200000);
