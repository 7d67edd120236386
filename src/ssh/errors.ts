/**
 * Every failure of the SSH layer as one error type with a `kind`, so callers decide by type (retry a lost
 * connection, never retry a wrong host key) instead of matching message text.
 */
export type SshErrorKind =
  /** The server refused our login (ssh2 level `client-authentication`). */
  | 'authentication'
  /** The server's host key is not the expected one (our verifier said no). */
  | 'host-key'
  /** Could not connect: DNS, refused, timeout, handshake (ssh2 levels `client-socket`, `client-timeout`, ...). */
  | 'connection'
  /** An established connection closed under a running command or transfer. */
  | 'connection-lost'
  /** A command on the origin exited non-zero. */
  | 'remote-command'
  /** An SFTP open/stat/read of a remote file failed (no such file, permission). */
  | 'remote-file'
  /** Our side cannot log in as configured: identity unreadable or encrypted, no agent, a bad option. */
  | 'local-setup';

export class SshError extends Error {
  override name = 'SshError';
  readonly host?: string;
  readonly port?: number;
  /** ssh2's `err.level`, when ssh2 raised it. */
  readonly level?: string;
  /** What was run, for remote-command (a description, never data). */
  readonly command?: string;
  readonly exitCode?: number | null;
  readonly signal?: string;
  /** The tail of the remote command's stderr. */
  readonly stderr?: string;
  /** The remote path of a remote-file error. */
  readonly remotePath?: string;
  /** The SFTP status code (2: no such file, 3: permission denied). */
  readonly sftpCode?: number;

  constructor(
    readonly kind: SshErrorKind,
    message: string,
    details: SshErrorDetails = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    const { cause: _cause, ...fields } = details;
    Object.assign(this, fields);
  }
}

/** What a thrower tells an SshError: its fields (declared once, on the class) and the cause. */
export type SshErrorDetails = Partial<Omit<SshError, keyof Error | 'kind'>> & { readonly cause?: unknown };

/** Raised when the server's host key is not the expected one; the message says what to check. */
export class HostKeyMismatchError extends SshError {
  override name = 'HostKeyMismatchError';
  constructor(message: string, details: SshErrorDetails = {}) {
    super('host-key', message, details);
  }
}

export const isSshError = (err: unknown, ...kinds: SshErrorKind[]): err is SshError =>
  err instanceof SshError && (kinds.length === 0 || kinds.includes(err.kind));

/** The kind of a connect-time error from ssh2, by its `level`. */
export function kindOfLevel(level: string | undefined): SshErrorKind {
  // ssh2 reports our verifier's "no" as a `handshake` error: the caller uses the verifier's own rejection.
  return level === 'client-authentication' ? 'authentication' : 'connection';
}
