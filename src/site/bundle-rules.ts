import * as path from 'node:path';

/**
 * What must not reach an instance from a site bundle, as small pure rules over the bundle's entries
 * (cdk-nag style: each rule looks at one entry and returns findings that name it). The same rules run
 * on `pull-web`'s listing of the origin's directory, on the archive it pulled, and at `cdk synth` on
 * `web.bundlePath`, so the three can never disagree.
 *
 * - refuse: the bundle is not accepted (an escape from the site root, a device, ...);
 * - normalise: the entry is accepted with `strip` bits cleared from its mode (pull-web repacks; synth refuses,
 *   since the asset is uploaded as it is);
 * - warn: accepted as it is, but the operator should look (credentials).
 */

export type BundleEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'device' | 'fifo' | 'socket' | 'other';

export interface BundleEntry {
  /** Relative to the site root, `/`-separated, without a leading `./` (the root itself is `.`). */
  readonly path: string;
  readonly type: BundleEntryType;
  /** Permission bits with setuid/setgid/sticky (`mode & 0o7777`). */
  readonly mode: number;
  /** Symlink target as written, or the entry a hardlink refers to (as stored). */
  readonly linkTarget?: string;
  readonly size: number;
}

export type FindingAction = 'refuse' | 'normalise' | 'warn';

export interface Finding {
  readonly rule: string;
  readonly action: FindingAction;
  /** The entry, as named in the bundle. */
  readonly path: string;
  readonly message: string;
  /** For `normalise`: the mode bits to clear. */
  readonly strip?: number;
}

/** What a rule may ask about the rest of the bundle. */
export interface BundleIndex {
  /** The entry at a normalised path (the last one, as tar extracts it last), if the bundle has it. */
  entryAt(p: string): BundleEntry | undefined;
}

export interface BundleRule {
  readonly id: string;
  readonly description: string;
  check(entry: BundleEntry, bundle: BundleIndex): Finding[];
}

/** A rule over a regular file's first bytes (run only where the data is at hand: the pulled archive, synth). */
export interface ContentRule {
  readonly id: string;
  readonly description: string;
  check(entry: BundleEntry, head: Buffer): Finding[];
}

const finding = (
  rule: string,
  action: FindingAction,
  entry: BundleEntry,
  message: string,
  strip?: number,
): Finding => ({
  rule,
  action,
  path: entry.path,
  message,
  ...(strip !== undefined ? { strip } : {}),
});

/**
 * `./a//b/` -> `a/b`; `./` -> `.`. Absolute paths and `..` are kept, for the rules to refuse. Exported
 * because every reader (listing, tar headers) names entries through it.
 */
export function normaliseEntryPath(p: string): string {
  const parts = p.split('/').filter((c) => c !== '' && c !== '.');
  const joined = parts.join('/');
  if (p.startsWith('/')) return `/${joined}`;
  return joined || '.';
}

const hasDotDot = (p: string) => p.split('/').includes('..');

export const pathEscape: BundleRule = {
  id: 'path-escape',
  description: 'an entry named with an absolute path or a `..` component would be written outside the site root',
  check: (e) =>
    e.path.startsWith('/') || hasDotDot(e.path)
      ? [finding('path-escape', 'refuse', e, 'the name leaves the site root (absolute or through "..")')]
      : [],
};

/** Parent directories of `p`, shortest first: `a/b/c` -> `a`, `a/b`. */
function parents(p: string): string[] {
  const parts = p.split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

export const pathThroughSymlink: BundleRule = {
  id: 'path-through-symlink',
  description: 'an entry under a symlink of the bundle would be written wherever that link points',
  check: (e, bundle) => {
    const link = parents(e.path).find((d) => bundle.entryAt(d)?.type === 'symlink');
    return link ? [finding('path-through-symlink', 'refuse', e, `written through the symlink ${link}`)] : [];
  },
};

const MAX_LINK_HOPS = 40; // Linux's limit on symlinks followed in one lookup

/**
 * Where a symlink at `linkPath` pointing at `target` ends up, following the bundle's own symlinks on the
 * way (a link to `d/..` where `d -> .` leaves the root although the text of the target does not).
 * Returns the reason it escapes, or undefined when it stays inside (dangling inside is fine).
 */
export function symlinkEscape(linkPath: string, target: string, bundle: BundleIndex): string | undefined {
  if (target.startsWith('/')) return `points to the absolute path ${target}`;
  const stack = linkPath.split('/').slice(0, -1);
  const queue = target.split('/');
  let hops = 0;
  while (queue.length) {
    const c = queue.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (!stack.length) return `points outside the site root (${target})`;
      stack.pop();
      continue;
    }
    stack.push(c);
    const hit = bundle.entryAt(stack.join('/'));
    if (hit?.type === 'symlink' && hit.linkTarget !== undefined) {
      if (++hops > MAX_LINK_HOPS) return `is a symlink loop (${target})`;
      stack.pop();
      if (hit.linkTarget.startsWith('/')) return `points outside the site root through ${hit.path} (${target})`;
      queue.unshift(...hit.linkTarget.split('/'));
    }
  }
  return undefined;
}

export const linkEscape: BundleRule = {
  id: 'link-escape',
  description: 'a symlink or hardlink pointing outside the site root (absolute, or through "..")',
  check: (e, bundle) => {
    if (e.type === 'symlink') {
      const why = symlinkEscape(e.path, e.linkTarget ?? '', bundle);
      return why ? [finding('link-escape', 'refuse', e, `symlink ${why}`)] : [];
    }
    if (e.type === 'hardlink') {
      // A hardlink names another member of the archive; tar links to that name under the extraction root.
      const t = e.linkTarget ?? '';
      if (t.startsWith('/') || hasDotDot(t))
        return [finding('link-escape', 'refuse', e, `hardlink to ${t}, outside the site root`)];
      if (!bundle.entryAt(normaliseEntryPath(t)))
        return [finding('link-escape', 'refuse', e, `hardlink to ${t}, which is not in the bundle`)];
    }
    return [];
  },
};

export const specialFile: BundleRule = {
  id: 'special-file',
  description: 'device files, fifos, sockets and unknown tar member types have no place in a site',
  check: (e) => {
    if (e.type === 'device' || e.type === 'fifo' || e.type === 'socket')
      return [finding('special-file', 'refuse', e, `is a ${e.type === 'device' ? 'device file' : e.type}`)];
    if (e.type === 'other') return [finding('special-file', 'refuse', e, 'is a tar member of an unknown type')];
    return [];
  },
};

export const dataOnNonFile: BundleRule = {
  id: 'data-on-non-file',
  description: 'a link or directory header that claims data: tar implementations disagree on how to read past it',
  check: (e) =>
    e.size > 0 && e.type !== 'file' && e.type !== 'other' && e.type !== 'dir'
      ? [finding('data-on-non-file', 'refuse', e, `a ${e.type} with ${e.size} bytes of data`)]
      : [],
};

export const setIdBits: BundleRule = {
  id: 'setid-bits',
  description: 'setuid, setgid and sticky bits are stripped: a site needs none of them',
  check: (e) =>
    e.type !== 'symlink' && e.mode & 0o7000
      ? [
          finding(
            'setid-bits',
            'normalise',
            e,
            `mode ${fmtMode(e.mode)} has ${[e.mode & 0o4000 && 'setuid', e.mode & 0o2000 && 'setgid', e.mode & 0o1000 && 'sticky'].filter(Boolean).join('+')}: stripped`,
            0o7000,
          ),
        ]
      : [],
};

export const worldWritable: BundleRule = {
  id: 'world-writable',
  description: 'world-writable files and directories lose o+w (writable directories are configured, not shipped)',
  check: (e) =>
    e.type !== 'symlink' && e.mode & 0o002
      ? [finding('world-writable', 'normalise', e, `mode ${fmtMode(e.mode)} is world-writable: o+w stripped`, 0o002)]
      : [],
};

/**
 * Names that usually hold credentials: PHP CMS config files (WordPress, Joomla, Drupal, MediaWiki, and
 * the plain `config.php` of a hand-written site), dotenv files, private keys and password files. A short
 * heuristic, not a scanner: it exists to make the operator look, before the file sits on 18 instances.
 */
export const CREDENTIAL_NAMES: readonly RegExp[] = [
  /^(wp-)?config\.php$/i,
  /^configuration\.php$/i,
  /^settings(\.local)?\.php$/i,
  /^LocalSettings\.php$/,
  /^\.env(\..+)?$/,
  /^\.htpasswd$/,
  /^\.my\.cnf$/,
  /^\.pgpass$/,
  /^id_(rsa|dsa|ecdsa|ed25519)$/,
  /\.(pem|key|p12|pfx)$/i,
  /^credentials\.json$/i,
];

export const credentialName: BundleRule = {
  id: 'credential-name',
  description: 'a file named like one that holds credentials',
  check: (e) =>
    e.type === 'file' && CREDENTIAL_NAMES.some((r) => r.test(path.posix.basename(e.path)))
      ? [finding('credential-name', 'warn', e, 'is named like a file that holds credentials')]
      : [],
};

/**
 * A password-like key assigned a literal: `$password = 'x'`, `'password' => "x"`, `DB_PASSWORD=x`,
 * `define('DB_PASSWORD', 'x')`, `password: "x"`. The value itself is never printed.
 */
export const PASSWORD_ASSIGNMENT: readonly RegExp[] = [
  /\b[\w-]*?(password|passwd|pwd|_pass)['"]?\s*(=>|=|:)\s*['"][^'"\s]+/i,
  /\bdefine\s*\(\s*['"]\w*(password|passwd|pwd|_pass)['"]\s*,\s*['"][^'"]+/i,
  /^[ \t]*(export[ \t]+)?\w*(password|passwd|pwd|_pass)[ \t]*=[ \t]*[^\s'"$]/im,
];

/** How much of a file the content rule reads: config files are small. */
export const CONTENT_HEAD_BYTES = 64 * 1024;

export const passwordAssignment: ContentRule = {
  id: 'password-assignment',
  description: 'a text file that assigns a literal to a password-like key',
  check: (e, head) => {
    if (head.includes(0)) return []; // binary
    const text = head.toString('utf8');
    for (const r of PASSWORD_ASSIGNMENT) {
      const m = r.exec(text);
      if (m) {
        const line = text.slice(0, m.index).split('\n').length;
        return [finding('password-assignment', 'warn', e, `line ${line} assigns a password-like value`)];
      }
    }
    return [];
  },
};

export const ENTRY_RULES: readonly BundleRule[] = [
  pathEscape,
  pathThroughSymlink,
  linkEscape,
  specialFile,
  dataOnNonFile,
  setIdBits,
  worldWritable,
  credentialName,
];

export const CONTENT_RULES: readonly ContentRule[] = [passwordAssignment];

export function fmtMode(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}
