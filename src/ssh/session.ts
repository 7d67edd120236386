import * as fs from 'node:fs';
import { Writable } from 'node:stream';
import { Client, ConnectConfig, SFTPWrapper, utils } from 'ssh2';
import { kindOfLevel, SshError } from './errors';
import { HostKeyPolicy, hostVerifier } from './host-keys';

/** Where and how to log in to the origin. */
export interface SshTarget {
  readonly host: string;
  /** @default 22 */
  readonly port?: number;
  readonly username: string;
  readonly hostKey: HostKeyPolicy;
  /** Private key file; when absent the SSH agent at SSH_AUTH_SOCK is used. */
  readonly identityFile?: string;
  /** Passphrase of the private key (from the environment, a file or a prompt, never from config). */
  readonly passphrase?: string;
  /** Asked for the passphrase when the key is encrypted and none was given (a terminal prompt). */
  readonly askPassphrase?: () => Promise<string>;
  /** The SSH agent's socket (SSH_AUTH_SOCK), used when there is no identity file. */
  readonly agentSocket?: string;
  /** @default 20000 */
  readonly readyTimeoutMs?: number;
}

/** Parses `user@host[:port]` as given to --origin. */
export function parseOrigin(origin: string): { username: string; host: string; port: number } {
  const m = /^([^@\s]+)@(\[[^\]]+\]|[^:\s]+)(?::(\d{1,5}))?$/.exec(origin);
  if (!m) throw new SshError('local-setup', `--origin must be user@host or user@host:port (got "${origin}")`);
  const port = m[3] ? Number(m[3]) : 22;
  if (port < 1 || port > 65535) throw new SshError('local-setup', `--origin port must be 1-65535 (got ${port})`);
  return { username: m[1], host: m[2].replace(/^\[|\]$/g, ''), port };
}

/** Quotes a word for the remote POSIX shell. */
export function shq(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

const HOST_KEY_ALGORITHMS: Record<string, string[]> = {
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

export interface ExecResult {
  readonly code: number | null;
  readonly signal?: string;
  readonly stderr: string;
}

/** One authenticated SSH connection to the origin. */
export class SshSession {
  static async connect(target: SshTarget): Promise<SshSession> {
    const port = target.port ?? 22;
    const where = { host: target.host, port };
    const verifier = hostVerifier(target.hostKey, target.host, port);
    const config: ConnectConfig = {
      host: target.host,
      port,
      username: target.username,
      readyTimeout: target.readyTimeoutMs ?? 20000,
      keepaliveInterval: 10000,
      hostVerifier: (key: Buffer) => verifier.verify(key),
    };
    if (verifier.algorithms) {
      config.algorithms = { serverHostKey: verifier.algorithms.flatMap((a) => HOST_KEY_ALGORITHMS[a] ?? [a]) as never };
    }
    if (target.identityFile) {
      try {
        config.privateKey = fs.readFileSync(target.identityFile);
      } catch (err) {
        throw new SshError(
          'local-setup',
          `cannot read the SSH identity ${target.identityFile}: ${(err as Error).message}`,
          { ...where, cause: err },
        );
      }
      let passphrase = target.passphrase;
      if (!passphrase && utils.parseKey(config.privateKey as Buffer) instanceof Error) {
        if (!target.askPassphrase) {
          throw new SshError(
            'local-setup',
            `the SSH identity ${target.identityFile} is encrypted: set RUSHHOUR_SSH_PASSPHRASE, pass --identity-passphrase-file, run on a terminal to be asked, or use the SSH agent`,
            where,
          );
        }
        passphrase = await target.askPassphrase();
      }
      if (passphrase) {
        const parsed = utils.parseKey(config.privateKey as Buffer, passphrase);
        if (parsed instanceof Error)
          throw new SshError(
            'local-setup',
            `cannot use the SSH identity ${target.identityFile}: ${parsed.message}`,
            where,
          );
        config.passphrase = passphrase;
      }
    } else if (target.agentSocket) {
      config.agent = target.agentSocket;
    } else {
      throw new SshError(
        'local-setup',
        'no SSH credentials: pass --identity KEYFILE or start an SSH agent (SSH_AUTH_SOCK is not set)',
        where,
      );
    }
    const client = new Client();
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve());
      client.once('error', (err: Error & { level?: string }) => {
        const rejection = verifier.rejection();
        reject(
          rejection ??
            new SshError(
              kindOfLevel(err.level),
              `SSH connection to ${target.username}@${target.host}:${port} failed: ${err.message}`,
              { ...where, level: err.level, cause: err },
            ),
        );
      });
      client.connect(config);
    });
    return new SshSession(client, target);
  }

  private sftpChannel?: Promise<SFTPWrapper>;
  private closed = false;

  private constructor(
    readonly client: Client,
    readonly target: SshTarget,
  ) {
    client.on('close', () => {
      this.closed = true;
    });
    client.on('error', () => {
      this.closed = true;
    });
  }

  /** Host and port, for the structured fields of errors. */
  get where(): { host: string; port: number } {
    return { host: this.target.host, port: this.target.port ?? 22 };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Runs a command on the origin. stdout goes to `stdout` (streamed, with backpressure) or is collected;
   * stdin, when given, is piped in. Resolves with the exit code; stderr is kept (last 64 KiB) for messages.
   */
  exec(
    command: string,
    options: { stdout?: Writable; stdin?: NodeJS.ReadableStream } = {},
  ): Promise<ExecResult & { stdoutText: string }> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, channel) => {
        if (err)
          return reject(
            new SshError('connection-lost', `cannot run a command on the origin: ${err.message}`, {
              ...this.where,
              cause: err,
            }),
          );
        let stderr = '';
        const out: Buffer[] = [];
        let code: number | null = null;
        let signal: string | undefined;
        channel.stderr.on('data', (d: Buffer) => {
          stderr = (stderr + d.toString('utf8')).slice(-65536);
        });
        if (options.stdout) channel.pipe(options.stdout, { end: false });
        else channel.on('data', (d: Buffer) => out.push(d));
        channel.on('exit', (c: number | null, s?: string) => {
          code = c;
          signal = s;
        });
        let settled = false;
        const finish = () => {
          if (settled) return;
          settled = true;
          resolve({ code, signal, stderr, stdoutText: Buffer.concat(out).toString('utf8') });
        };
        channel.on('close', finish);
        this.client.once('close', () => {
          if (!settled) {
            settled = true;
            reject(
              new SshError('connection-lost', 'the SSH connection closed while a command was running', this.where),
            );
          }
        });
        if (options.stdin) {
          options.stdin.on('error', () => channel.destroy());
          options.stdin.pipe(channel);
        } else {
          channel.end();
        }
      });
    });
  }

  /** Runs a command and returns its stdout; throws with its stderr when it exits non-zero. */
  async run(command: string, what: string): Promise<string> {
    const r = await this.exec(command);
    if (r.code !== 0) throw remoteCommandError(what, r, this.where);
    return r.stdoutText;
  }

  /** sha256 of a file on the origin, via `sha256sum`. */
  async remoteSha256(remotePath: string): Promise<string> {
    const out = await this.run(`sha256sum -b ${shq(remotePath)}`, `sha256sum of ${remotePath}`);
    const m = /^([0-9a-f]{64})\b/.exec(out.trim());
    if (!m)
      throw new SshError('remote-command', `unexpected sha256sum output for ${remotePath}: ${out.slice(0, 200)}`, {
        ...this.where,
        command: `sha256sum of ${remotePath}`,
      });
    return m[1];
  }

  sftp(): Promise<SFTPWrapper> {
    this.sftpChannel ??= new Promise((resolve, reject) =>
      this.client.sftp((err, s) => (err ? reject(err) : resolve(s))),
    );
    return this.sftpChannel;
  }

  async remoteSize(remotePath: string): Promise<number> {
    const sftp = await this.sftp();
    return new Promise((resolve, reject) =>
      sftp.stat(remotePath, (err, st) =>
        err ? reject(remoteFileError('stat', remotePath, err, this.where)) : resolve(st.size),
      ),
    );
  }

  close(): void {
    this.closed = true;
    this.client.end();
  }
}

/** A remote command's non-zero exit as an SshError of kind remote-command (the message quotes its stderr). */
export function remoteCommandError(
  what: string,
  r: ExecResult,
  where: { host: string; port: number },
  message = `${what} failed on the origin (exit ${r.code ?? r.signal}): ${r.stderr.trim() || '(no message)'}`,
): SshError {
  return new SshError('remote-command', message, {
    ...where,
    command: what,
    exitCode: r.code,
    signal: r.signal,
    stderr: r.stderr.slice(-4096),
  });
}

/** An SFTP failure on a remote file (ssh2 gives the SFTP status as `code`). */
export function remoteFileError(
  op: 'open' | 'stat',
  remotePath: string,
  err: Error & { code?: unknown },
  where: { host: string; port: number },
): SshError {
  return new SshError('remote-file', `cannot ${op} ${remotePath} on the origin: ${err.message}`, {
    ...where,
    remotePath,
    sftpCode: typeof err.code === 'number' ? err.code : undefined,
    cause: err,
  });
}
