import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pullDb } from '../../src/origin/pull-db';
import { pullWeb } from '../../src/origin/pull-web';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';
import { localOriginOptions } from '../../src/local/origin';
import { LocalSshd, startSshd } from '../../src/local/sshd';
import { fingerprintOf, HostKeyMismatchError } from '../../src/ssh/host-keys';
import { SshSession } from '../../src/ssh/session';
import { StateFile } from '../../src/state/state-file';

/**
 * Real sshd on loopback (logging in as the current user), real MariaDB as the origin's database; the
 * origin's mysqldump and mysql run through the SSH session with a remote option file (socket auth).
 */
let sshd: LocalSshd;
let origin: LocalMariaDb;
let work: string;

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

beforeAll(async () => {
  [sshd, origin] = await Promise.all([startSshd(), startMariaDb()]);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-pull-test-'));
  origin.sql(`SET NAMES utf8mb4; CREATE DATABASE courses;
    USE courses;
    CREATE TABLE course (id INT PRIMARY KEY, code VARCHAR(20), title VARCHAR(200), seats INT, taken INT DEFAULT 0) DEFAULT CHARSET=utf8mb4;
    CREATE TABLE registration (id INT AUTO_INCREMENT PRIMARY KEY, student INT, course INT, photo BLOB);
    INSERT INTO course VALUES (1,'CS101','Intro ☕ 😀 it''s',30,0),(2,'MA201','Linear\\nAlgebra',20,0);
    INSERT INTO registration (student, course, photo) VALUES (7,1,UNHEX('00FF0A27')),(8,2,NULL);
    CREATE TRIGGER reg_ins AFTER INSERT ON registration FOR EACH ROW UPDATE course SET taken = taken + 1 WHERE id = NEW.course;
    CREATE PROCEDURE seats_left(IN c INT) SELECT seats - taken FROM course WHERE id = c;`);
}, 120000);

afterAll(async () => {
  await Promise.all([sshd?.stop(), origin?.stop()]);
});

const originOpts = () => ({ ...localOriginOptions(sshd, origin), log: () => undefined });

test("pull-db streams a consistent dump, verified by sha256 on both ends, with the origin's table checksums", async () => {
  const out = path.join(work, 'db');
  const stateFile = path.join(work, 'state.json');
  const rec = await pullDb({ ...originOpts(), database: 'courses', out, stateFile });
  expect(rec.dumpSha256).toBe(sha256(rec.dumpFile));
  const sql = execFileSync('gzip', ['-dc', rec.dumpFile], { encoding: 'utf8' });
  expect(sql).toContain('CREATE TABLE `course`');
  expect(sql).toContain('reg_ins');
  expect(sql).toContain('seats_left');
  expect(sql).toContain('0x00FF0A27'); // --hex-blob
  const checksums = JSON.parse(fs.readFileSync(path.join(out, 'courses.checksums.json'), 'utf8'));
  const expected = origin
    .sql('CHECKSUM TABLE courses.course, courses.registration')
    .trim()
    .split('\n')
    .map((l) => l.split('\t'));
  expect(checksums.tables.course.checksum).toBe(expected[0][1]);
  expect(checksums.tables.registration).toEqual({ checksum: expected[1][1], rows: 2 });
  // Loading the dump into a fresh database gives the same checksums.
  origin.sql('CREATE DATABASE copy');
  execFileSync('bash', [
    '-c',
    `gzip -dc ${rec.dumpFile} | mariadb --no-defaults --socket=${origin.socket} -uroot copy`,
  ]);
  expect(origin.sql('CHECKSUM TABLE copy.course, copy.registration').replace(/copy\./g, 'courses.')).toBe(
    origin.sql('CHECKSUM TABLE courses.course, courses.registration'),
  );
  // The state file records the finished pull and the remote temp dir is gone.
  const op = new StateFile(stateFile).list('pull-db:')[0];
  expect(op.finishedAt).toBeDefined();
  expect(fs.existsSync(String(op.steps['remote-temp'].data.remoteDir))).toBe(false);
});

test('a wrong host key is refused with a clear message, pinned or from known_hosts', async () => {
  const other = randomBytes(51);
  const wrongKnownHosts = path.join(work, 'wrong_known_hosts');
  fs.writeFileSync(wrongKnownHosts, `[127.0.0.1]:${sshd.port} ssh-ed25519 ${other.toString('base64')}\n`);
  await expect(
    SshSession.connect({
      host: '127.0.0.1',
      port: sshd.port,
      username: sshd.username,
      identityFile: sshd.privateKeyPath,
      hostKey: { knownHostsFile: wrongKnownHosts },
    }),
  ).rejects.toThrow(/host key verification failed for \[127\.0\.0\.1\]:\d+: the server presented SHA256:.* not in/);
  await expect(
    SshSession.connect({
      host: '127.0.0.1',
      port: sshd.port,
      username: sshd.username,
      identityFile: sshd.privateKeyPath,
      hostKey: { fingerprint: fingerprintOf(other) },
    }),
  ).rejects.toThrow(HostKeyMismatchError);
  await expect(
    pullDb({
      ...originOpts(),
      knownHosts: undefined,
      hostKeyFingerprint: fingerprintOf(other),
      database: 'courses',
      out: path.join(work, 'x'),
      stateFile: path.join(work, 'x.json'),
    }),
  ).rejects.toThrow(/pinned fingerprint is SHA256:/);
  // The right pin works.
  const s = await SshSession.connect({
    host: '127.0.0.1',
    port: sshd.port,
    username: sshd.username,
    identityFile: sshd.privateKeyPath,
    hostKey: { fingerprint: sshd.hostKeyFingerprint },
  });
  expect((await s.run('echo ok', 'echo')).trim()).toBe('ok');
  s.close();
});

/**
 * A TCP relay in front of sshd that cuts one connection (the first to carry more than `cutAfter` bytes to
 * the client).
 */
async function cuttingRelay(
  targetPort: number,
  cutAfter: number,
): Promise<{ port: number; cuts: number; close: () => void }> {
  const state = { port: 0, cuts: 0, close: () => server.close() };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    let down = 0;
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => {
      down += d.length;
      if (state.cuts === 0 && down > cutAfter) {
        state.cuts++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(d);
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}

test('pull-web archives the site, and a transfer cut mid-way resumes from where it stopped and verifies', async () => {
  const site = path.join(work, 'www', 'site');
  fs.mkdirSync(path.join(site, 'img'), { recursive: true });
  fs.writeFileSync(path.join(site, 'index.php'), '<?php echo "hello"; ?>\n');
  fs.writeFileSync(path.join(site, 'img', 'big.bin'), randomBytes(6 * 1024 * 1024)); // incompressible: a 6 MB archive
  // Archive via the real sshd first (the relay only carries the download), then cut the download at ~2 MB.
  const relay = await cuttingRelay(sshd.port, 2 * 1024 * 1024);
  const knownHosts = path.join(work, 'relay_known_hosts');
  fs.writeFileSync(knownHosts, fs.readFileSync(sshd.knownHostsPath, 'utf8').replace(`:${sshd.port}`, `:${relay.port}`));
  const logs: string[] = [];
  try {
    const out = path.join(work, 'web');
    const res = await pullWeb({
      ...originOpts(),
      origin: `${sshd.username}@127.0.0.1:${relay.port}`,
      knownHosts,
      path: site,
      out,
      stateFile: path.join(work, 'web-state.json'),
      retryDelayMs: 100,
      log: (m) => logs.push(m),
    });
    expect(relay.cuts).toBe(1);
    expect(res.attempts).toBe(2);
    expect(res.resumedBytes).toBeGreaterThan(0); // the second attempt appended instead of restarting
    expect(logs.some((l) => /resuming .* at byte \d+/.test(l))).toBe(true);
    expect(sha256(res.archive)).toBe(res.sha256);
    const listing = execFileSync('tar', ['-tzf', res.archive], { encoding: 'utf8' });
    expect(listing.split('\n')).toContain('img/big.bin'); // the site's contents at the archive root
    const extracted = path.join(work, 'extracted');
    fs.mkdirSync(extracted);
    execFileSync('tar', ['-xzf', res.archive, '-C', extracted]);
    expect(sha256(path.join(extracted, 'img', 'big.bin'))).toBe(sha256(path.join(site, 'img', 'big.bin')));
  } finally {
    relay.close();
  }
});

test('pull-db survives a connection cut mid-stream: the dump finishes on the origin and the rest comes over SFTP, verified', async () => {
  // ~4 MB of incompressible rows, so the gzip stream is long enough to be cut after 1 MB.
  origin.sql(`CREATE DATABASE big; CREATE TABLE big.blobs (id INT PRIMARY KEY, b MEDIUMBLOB);`);
  for (let i = 0; i < 4; i++)
    origin.sql(`INSERT INTO big.blobs VALUES (${i}, 0x${randomBytes(1024 * 1024).toString('hex')})`);
  const relay = await cuttingRelay(sshd.port, 1024 * 1024);
  const knownHosts = path.join(work, 'relay2_known_hosts');
  fs.writeFileSync(knownHosts, fs.readFileSync(sshd.knownHostsPath, 'utf8').replace(`:${sshd.port}`, `:${relay.port}`));
  const logs: string[] = [];
  try {
    const rec = await pullDb({
      ...originOpts(),
      origin: `${sshd.username}@127.0.0.1:${relay.port}`,
      knownHosts,
      database: 'big',
      out: path.join(work, 'big'),
      stateFile: path.join(work, 'big-state.json'),
      log: (m) => logs.push(m),
    });
    expect(relay.cuts).toBe(1);
    expect(logs.join('\n')).toMatch(/the connection dropped after \d+ bytes; the dump continues on the origin/);
    expect(logs.join('\n')).toMatch(/resuming .* at byte [1-9]\d*/);
    expect(rec.dumpBytes).toBeGreaterThan(4 * 1024 * 1024);
    expect(sha256(rec.dumpFile)).toBe(rec.dumpSha256);
    origin.sql('CREATE DATABASE big_copy');
    execFileSync('bash', [
      '-c',
      `gzip -dc ${rec.dumpFile} | mariadb --no-defaults --socket=${origin.socket} -uroot big_copy`,
    ]);
    expect(origin.sql('CHECKSUM TABLE big_copy.blobs').split('\t')[1]).toBe(
      origin.sql('CHECKSUM TABLE big.blobs').split('\t')[1],
    );
  } finally {
    relay.close();
  }
});

test('an encrypted identity needs its passphrase from a file or the environment, never from argv or config', async () => {
  const key = path.join(work, 'encrypted_key');
  fs.copyFileSync(sshd.privateKeyPath, key);
  fs.chmodSync(key, 0o600);
  const passphrase = `pp-${Math.random().toString(36).slice(2)}`; // generated per run
  execFileSync('ssh-keygen', ['-q', '-p', '-f', key, '-P', '', '-N', passphrase]);
  const { sshTarget } = await import('../../src/ssh/origin');
  const base = { origin: `${sshd.username}@127.0.0.1:${sshd.port}`, knownHosts: sshd.knownHostsPath, identity: key };
  await expect(
    SshSession.connect({ ...sshTarget(base), passphrase: undefined, askPassphrase: undefined }),
  ).rejects.toThrow(/is encrypted: set RUSHHOUR_SSH_PASSPHRASE, pass --identity-passphrase-file/);
  const file = path.join(work, 'passphrase');
  fs.writeFileSync(file, `${passphrase}\n`, { mode: 0o600 });
  const s = await SshSession.connect(sshTarget({ ...base, identityPassphraseFile: file }));
  expect((await s.run('echo in', 'echo')).trim()).toBe('in');
  s.close();
  fs.writeFileSync(file, 'wrong\n');
  await expect(SshSession.connect(sshTarget({ ...base, identityPassphraseFile: file }))).rejects.toThrow(
    /cannot use the SSH identity/,
  );
});

test('pull-db fails when the origin is written to during the pull, and cleans up on the origin', async () => {
  // A mysqldump that lets a "student" register while it dumps.
  const wrapper = path.join(work, 'mysqldump-with-writer');
  fs.writeFileSync(
    wrapper,
    `#!/bin/sh\nmariadb --no-defaults --socket='${origin.socket}' -uroot -e "INSERT INTO courses.registration (student, course) VALUES (99, 2)"\nexec mysqldump "$@"\n`,
    { mode: 0o755 },
  );
  const stateFile = path.join(work, 'changing-state.json');
  await expect(
    pullDb({
      ...originOpts(),
      mysqldumpBin: wrapper,
      database: 'courses',
      out: path.join(work, 'changing'),
      stateFile,
    }),
  ).rejects.toThrow(/the origin changed while it was dumped \(tables course, registration\).*Stop the site's writers/);
  expect(fs.existsSync(path.join(work, 'changing', 'courses.checksums.json'))).toBe(false);
  const op = new StateFile(stateFile).list('pull-db:')[0];
  expect(op.steps.dump).toBeUndefined(); // the next run starts over
});
