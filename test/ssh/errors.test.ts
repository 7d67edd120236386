import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../../src/local/ports';
import { LocalSshd, startSshd } from '../../src/local/sshd';
import { HostKeyMismatchError, SshError } from '../../src/ssh/errors';
import { sshTarget } from '../../src/ssh/origin';
import { SshSession } from '../../src/ssh/session';
import { resumableGet } from '../../src/ssh/transfer';

/** Each failure of the SSH layer, provoked against a real sshd, is an SshError of the right kind with its fields. */
let sshd: LocalSshd;
let work: string;

beforeAll(async () => {
  sshd = await startSshd();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-ssh-errors-'));
});
afterAll(async () => {
  await sshd?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

const base = () => ({
  origin: `${sshd.username}@127.0.0.1:${sshd.port}`,
  knownHosts: sshd.knownHostsPath,
  identity: sshd.privateKeyPath,
});

async function caught(p: Promise<unknown>): Promise<SshError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SshError);
  return err as SshError;
}

test('a key the server does not accept: kind authentication, from ssh2 level client-authentication', async () => {
  const key = path.join(work, 'stranger');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const err = await caught(SshSession.connect(sshTarget({ ...base(), identity: key })));
  expect(err).toMatchObject({ name: 'SshError', kind: 'authentication', level: 'client-authentication' });
  expect(err.port).toBe(sshd.port);
});

test('a wrong pinned host key: HostKeyMismatchError, an SshError of kind host-key', async () => {
  const err = await caught(
    SshSession.connect(sshTarget({ ...base(), knownHosts: undefined, hostKeyFingerprint: `SHA256:${'B'.repeat(43)}` })),
  );
  expect(err).toBeInstanceOf(HostKeyMismatchError);
  expect(err).toMatchObject({ name: 'HostKeyMismatchError', kind: 'host-key', host: '127.0.0.1', port: sshd.port });
});

test('nothing listening: kind connection', async () => {
  const port = await freePort();
  const err = await caught(
    SshSession.connect({ ...sshTarget(base()), port, hostKey: { fingerprint: sshd.hostKeyFingerprint } }),
  );
  expect(err.kind).toBe('connection');
  expect(err.level).toBe('client-socket');
});

test('a remote command that exits non-zero: kind remote-command with exit code and stderr', async () => {
  const s = await SshSession.connect(sshTarget(base()));
  try {
    const err = await caught(s.run('echo nope >&2; exit 3', 'the probe'));
    expect(err).toMatchObject({ kind: 'remote-command', command: 'the probe', exitCode: 3 });
    expect(err.stderr).toContain('nope');
  } finally {
    s.close();
  }
});

test('a missing remote file: kind remote-file with the SFTP status, and a download does not retry it', async () => {
  const missing = path.join(work, 'not-there.tar.gz');
  const s = await SshSession.connect(sshTarget(base()));
  try {
    const err = await caught(s.remoteSize(missing));
    expect(err).toMatchObject({ kind: 'remote-file', remotePath: missing, sftpCode: 2 });
  } finally {
    s.close();
  }
  const logs: string[] = [];
  const err = await caught(
    resumableGet({
      connect: () => SshSession.connect(sshTarget(base())),
      remotePath: missing,
      localPath: path.join(work, 'local.part'),
      expectedSha256: '0'.repeat(64),
      retries: 3,
      retryDelayMs: 10,
      log: (m) => logs.push(m),
    }),
  );
  expect(err.kind).toBe('remote-file');
  expect(logs.filter((l) => /retrying/.test(l))).toHaveLength(0);
});

test('the connection closing under a running command: kind connection-lost', async () => {
  const s = await SshSession.connect(sshTarget(base()));
  const running = s.exec('sleep 30');
  setTimeout(() => s.client.end(), 300);
  const err = await caught(running);
  expect(err.kind).toBe('connection-lost');
});
