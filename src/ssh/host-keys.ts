import { createHash, createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import { HostKeyMismatchError, SshError } from './errors';

export { HostKeyMismatchError };

/** How the origin's host key is checked. There is deliberately no "accept any key". */
export type HostKeyPolicy = { readonly knownHostsFile: string } | { readonly fingerprint: string };

export interface KnownHostKey {
  readonly algorithm: string;
  readonly key: Buffer;
}

/** The OpenSSH SHA256 fingerprint of a raw public key blob: `SHA256:` + unpadded base64. */
export function fingerprintOf(key: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
}

/** The name known_hosts uses for a host: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    // Hashed entry: |1|base64(salt)|base64(HMAC-SHA1(salt, name)).
    const [, , salt, hash] = pattern.split('|');
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  const re = new RegExp(
    '^' +
      pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.') +
      '$',
  );
  return re.test(name);
}

/** The keys a known_hosts file lists for host:port (plain, wildcard and hashed entries; @revoked honoured). */
export function knownHostKeys(file: string, host: string, port: number): { keys: KnownHostKey[]; revoked: Buffer[] } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new SshError('local-setup', `cannot read known_hosts file ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const names = [knownHostsName(host, port)];
  const keys: KnownHostKey[] = [];
  const revoked: Buffer[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0].startsWith('@') ? fields.shift() : undefined;
    if (fields.length < 3 || marker === '@cert-authority') continue;
    const [patterns, algorithm, b64] = fields;
    let matched = false;
    for (const p of patterns.split(',')) {
      const negated = p.startsWith('!');
      if (names.some((n) => patternMatches(negated ? p.slice(1) : p, n))) {
        if (negated) {
          matched = false;
          break;
        }
        matched = true;
      }
    }
    if (!matched) continue;
    const key = Buffer.from(b64, 'base64');
    if (marker === '@revoked') revoked.push(key);
    else keys.push({ algorithm, key });
  }
  return { keys, revoked };
}

/**
 * A host verifier for ssh2: returns true only for an expected key, and records why it said no so the
 * caller can report it (ssh2 itself only says "Host denied").
 */
export function hostVerifier(
  policy: HostKeyPolicy,
  host: string,
  port: number,
): {
  verify: (key: Buffer) => boolean;
  algorithms?: string[];
  rejection: () => HostKeyMismatchError | undefined;
} {
  let rejection: HostKeyMismatchError | undefined;
  if ('fingerprint' in policy) {
    if (!/^SHA256:[A-Za-z0-9+/]{43}$/.test(policy.fingerprint)) {
      throw new SshError(
        'local-setup',
        `--host-key-fingerprint must look like "SHA256:" followed by 43 base64 characters, as \`ssh-keygen -lf <key>.pub\` prints it (got "${policy.fingerprint}")`,
      );
    }
    return {
      verify: (key) => {
        const got = fingerprintOf(key);
        if (got === policy.fingerprint) return true;
        rejection = new HostKeyMismatchError(
          `host key verification failed for ${knownHostsName(host, port)}: the server presented ${got}, ` +
            `but the pinned fingerprint is ${policy.fingerprint}. Someone may be intercepting the connection, or the server's key changed; ` +
            'check the fingerprint on the server (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) before changing the pin.',
          { host, port },
        );
        return false;
      },
      rejection: () => rejection,
    };
  }
  const { keys, revoked } = knownHostKeys(policy.knownHostsFile, host, port);
  if (keys.length === 0) {
    throw new HostKeyMismatchError(
      `${policy.knownHostsFile} has no key for ${knownHostsName(host, port)}: add the origin's host key ` +
        `(e.g. ssh-keyscan -p ${port} ${host} >> ${policy.knownHostsFile}, then compare its fingerprint with the server's) or pass --host-key-fingerprint`,
      { host, port },
    );
  }
  return {
    // Offer only the algorithms we have keys for, so the server presents a key we can check.
    algorithms: [...new Set(keys.map((k) => k.algorithm))],
    verify: (key) => {
      if (revoked.some((r) => r.equals(key))) {
        rejection = new HostKeyMismatchError(
          `host key ${fingerprintOf(key)} of ${knownHostsName(host, port)} is marked @revoked in ${policy.knownHostsFile}`,
          { host, port },
        );
        return false;
      }
      if (keys.some((k) => k.key.equals(key))) return true;
      rejection = new HostKeyMismatchError(
        `host key verification failed for ${knownHostsName(host, port)}: the server presented ${fingerprintOf(key)}, ` +
          `which is not in ${policy.knownHostsFile} (it lists ${keys.map((k) => fingerprintOf(k.key)).join(', ')}). Someone may be intercepting ` +
          'the connection, or the server was reinstalled; verify the new key out of band before updating known_hosts.',
        { host, port },
      );
      return false;
    },
    rejection: () => rejection,
  };
}
