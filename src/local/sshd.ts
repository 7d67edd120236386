import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './ports';
import { requireTool, spawnOwned, stopProcess, waitUntilListening } from './process';

const INSTALL = 'apt-get install -y --no-install-recommends openssh-server openssh-client';

/** A real OpenSSH server on a loopback port, accepting one client key for the current user. */
export interface LocalSshd {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly username: string;
  /** The client's private key (OpenSSH format), for ssh2's `privateKey`. */
  readonly privateKeyPath: string;
  /** A known_hosts file holding this server's host key as `[127.0.0.1]:PORT ssh-ed25519 ...`. */
  readonly knownHostsPath: string;
  /** The host key's SHA256 fingerprint as OpenSSH prints it (`SHA256:...`). */
  readonly hostKeyFingerprint: string;
  readonly dir: string;
  stop(): Promise<void>;
}

function keygen(file: string): void {
  execFileSync(requireTool('ssh-keygen', INSTALL), [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    'rushhour-test',
    '-f',
    file,
  ]);
}

export async function startSshd(options: { dir?: string } = {}): Promise<LocalSshd> {
  const sshd = requireTool('sshd', INSTALL);
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-sshd-'));
  fs.mkdirSync('/run/sshd', { recursive: true });
  const hostKey = path.join(dir, 'host_ed25519');
  const clientKey = path.join(dir, 'client_ed25519');
  if (!fs.existsSync(hostKey)) keygen(hostKey);
  if (!fs.existsSync(clientKey)) keygen(clientKey);
  const authorized = path.join(dir, 'authorized_keys');
  fs.copyFileSync(`${clientKey}.pub`, authorized);
  fs.chmodSync(authorized, 0o600);
  const username = os.userInfo().username;
  const port = await freePort();
  const config = path.join(dir, 'sshd_config');
  fs.writeFileSync(
    config,
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${hostKey}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorized}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      'StrictModes no',
      `AllowUsers ${username}`,
      'Subsystem sftp internal-sftp',
      'MaxSessions 50',
      'MaxStartups 50:30:100',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  execFileSync(sshd, ['-t', '-f', config]);
  const child = spawnOwned(sshd, ['-D', '-e', '-f', config]);
  await waitUntilListening(child, port, 'sshd');
  const pub = fs.readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const knownHostsPath = path.join(dir, 'known_hosts');
  fs.writeFileSync(knownHostsPath, `[127.0.0.1]:${port} ${pub}\n`);
  const hostKeyFingerprint = execFileSync(
    requireTool('ssh-keygen', INSTALL),
    ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`],
    { encoding: 'utf8' },
  ).split(/\s+/)[1];
  return {
    host: '127.0.0.1',
    port,
    username,
    privateKeyPath: clientKey,
    knownHostsPath,
    hostKeyFingerprint,
    dir,
    async stop() {
      await stopProcess(child);
      if (!options.dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
