/**
 * Student passwords, hashed with scrypt (node:crypto, RFC 7914) and stored as a PHC string:
 * `$scrypt$ln=11,r=8,p=1$<salt base64>$<key base64>`. The cost travels with each hash, so raising it later needs
 * no migration: old hashes still verify with the cost they were made with.
 */
import { createHash, randomBytes, scrypt, ScryptOptions, timingSafeEqual } from 'node:crypto';

export interface ScryptCost {
  /** log2 of N, the CPU/memory cost. */
  readonly ln: number;
  /** Block size. */
  readonly r: number;
  /** Parallelism. */
  readonly p: number;
}

/**
 * N = 2^11, r = 8, p = 1: 2 MiB and a few ms of one core per hash (measured on the shared 2-core machine: 7 ms with
 * its other core busy, see docs/app.md). Chosen for two costs: a rush is thousands of logins a minute on 2-vCPU
 * instances that also serve the pages, and the seed hashes every student (10,000 in well under a minute). That
 * is far below OWASP's minimum for scrypt (N = 2^17, 128 MiB, ~100 ms per login): it slows a guesser with a
 * stolen table down, it does not stop one from trying weak passwords. The cost is recorded per hash, so a
 * deployment with real passwords can raise it without a migration.
 */
export const SCRYPT_COST: ScryptCost = { ln: 11, r: 8, p: 1 };
/** Bounds on what a stored hash may ask for, so a bad row cannot make one login allocate gigabytes. */
const MAX_COST: ScryptCost = { ln: 20, r: 32, p: 16 };
const KEY_BYTES = 32;
const SALT_BYTES = 16;

/** A stored hash that is not a PHC scrypt string this module can verify. */
export class PasswordHashFormatError extends Error {
  constructor(readonly reason: string) {
    super(`stored password hash is not a valid $scrypt$ string: ${reason}`);
    this.name = 'PasswordHashFormatError';
  }
}

function derive(password: string, salt: Buffer, cost: ScryptCost, keyBytes: number): Promise<Buffer> {
  const N = 2 ** cost.ln;
  const options: ScryptOptions = { N, r: cost.r, p: cost.p, maxmem: 256 * N * cost.r + 1024 * 1024 };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, keyBytes, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/**
 * Hashes `password` with a random salt. `salt` is for the seed only, which derives it from the student id so that
 * the example dump stays byte-for-byte reproducible (its passwords are public demo data, see seed-password.ts).
 */
export async function hashPassword(password: string, cost: ScryptCost = SCRYPT_COST, salt?: Buffer): Promise<string> {
  const s = salt ?? randomBytes(SALT_BYTES);
  const key = await derive(password, s, cost, KEY_BYTES);
  return `$scrypt$ln=${cost.ln},r=${cost.r},p=${cost.p}$${b64(s)}$${b64(key)}`;
}

/** The seed's salt for a student: fixed per id (see hashPassword). */
export function seedSalt(studentId: number): Buffer {
  return createHash('sha256').update(`rushhour seed salt ${studentId}`).digest().subarray(0, SALT_BYTES);
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}

interface ParsedHash {
  readonly cost: ScryptCost;
  readonly salt: Buffer;
  readonly key: Buffer;
}

export function parsePasswordHash(stored: string): ParsedHash {
  const m = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]{16,88})\$([A-Za-z0-9+/]{22,88})$/.exec(
    stored,
  );
  if (!m) throw new PasswordHashFormatError('expected $scrypt$ln=N,r=N,p=N$salt$key');
  const cost = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (cost.ln < 1 || cost.ln > MAX_COST.ln || cost.r < 1 || cost.r > MAX_COST.r || cost.p < 1 || cost.p > MAX_COST.p)
    throw new PasswordHashFormatError(`cost ln=${cost.ln},r=${cost.r},p=${cost.p} is out of bounds`);
  const key = Buffer.from(m[5], 'base64');
  if (key.length < 16) throw new PasswordHashFormatError('key shorter than 16 bytes');
  return { cost, salt: Buffer.from(m[4], 'base64'), key };
}

/** True when `password` matches the stored hash; compared in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const { cost, salt, key } = parsePasswordHash(stored);
  const candidate = await derive(password, salt, cost, key.length);
  return timingSafeEqual(candidate, key);
}

/**
 * A hash of a random password with the current cost, for a login naming a student that does not exist: it costs
 * the same as a real check, so the answer time does not tell which student numbers exist.
 */
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  return (decoy ??= hashPassword(randomBytes(16).toString('hex')));
}
