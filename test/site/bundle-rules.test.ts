import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { ExcludeMatcher } from '../../src/site/bundle-ignore';
import { parseFindListing } from '../../src/site/bundle-origin';
import {
  BundleEntry,
  BundleIndex,
  credentialName,
  dataOnNonFile,
  linkEscape,
  normaliseEntryPath,
  passwordAssignment,
  pathEscape,
  pathThroughSymlink,
  setIdBits,
  specialFile,
  worldWritable,
} from '../../src/site/bundle-rules';
import { acceptTarball, BundleRefusedError, vetEntries, vetTarball, vetTarballSync } from '../../src/site/bundle-vet';
import { TarFormatError } from '../../src/site/tar-scan';

const file = (p: string, mode = 0o644, size = 10): BundleEntry => ({ path: p, type: 'file', mode, size });
const link = (p: string, target: string): BundleEntry => ({
  path: p,
  type: 'symlink',
  mode: 0o777,
  size: 0,
  linkTarget: target,
});
const indexOf = (...entries: BundleEntry[]): BundleIndex => {
  const m = new Map(entries.map((e) => [e.path, e]));
  return { entryAt: (p) => m.get(p) };
};
const none = indexOf();

describe('rules, one entry at a time', () => {
  test('path-escape refuses absolute names and ".." components, nothing else', () => {
    expect(pathEscape.check(file('/etc/passwd'), none)).toMatchObject([{ action: 'refuse', path: '/etc/passwd' }]);
    expect(pathEscape.check(file('a/../../x'), none)).toMatchObject([{ action: 'refuse', rule: 'path-escape' }]);
    expect(pathEscape.check(file('a/..b/x'), none)).toEqual([]);
    expect(pathEscape.check(file('index.php'), none)).toEqual([]);
  });

  test('link-escape refuses absolute and escaping symlinks, also through the bundle own links', () => {
    expect(linkEscape.check(link('etc', '/etc/passwd'), none)).toMatchObject([
      { action: 'refuse', path: 'etc', message: 'symlink points to the absolute path /etc/passwd' },
    ]);
    expect(linkEscape.check(link('a/up', '../../x'), none)[0].message).toMatch(/outside the site root/);
    expect(linkEscape.check(link('a/ok', '../x'), none)).toEqual([]);
    expect(linkEscape.check(link('a/dangling-inside', 'nope/nothing'), none)).toEqual([]);
    // `d -> .` is harmless on its own, but `e -> d/..` then leaves the root: resolution follows the bundle's links.
    const d = link('d', '.');
    expect(linkEscape.check(d, indexOf(d))).toEqual([]);
    expect(linkEscape.check(link('e', 'd/..'), indexOf(d))[0].message).toMatch(/outside the site root/);
    const abs = link('abs', '/srv');
    expect(linkEscape.check(link('via', 'abs/x'), indexOf(abs))[0].message).toMatch(/through abs/);
    const loopA = link('la', 'lb');
    const loopB = link('lb', 'la');
    expect(linkEscape.check(loopA, indexOf(loopA, loopB))[0].message).toMatch(/loop/);
  });

  test('link-escape refuses hardlinks outside the root or to a member the bundle lacks', () => {
    const hl = (target: string): BundleEntry => ({
      path: 'h',
      type: 'hardlink',
      mode: 0o644,
      size: 0,
      linkTarget: target,
    });
    expect(linkEscape.check(hl('../x'), none)[0].message).toMatch(/outside the site root/);
    expect(linkEscape.check(hl('/etc/shadow'), none)[0].message).toMatch(/outside the site root/);
    expect(linkEscape.check(hl('./a.txt'), none)[0].message).toMatch(/not in the bundle/);
    expect(linkEscape.check(hl('./a.txt'), indexOf(file('a.txt')))).toEqual([]);
  });

  test('path-through-symlink refuses an entry written under one of the bundle symlinks', () => {
    const l = link('lib', 'vendor');
    expect(pathThroughSymlink.check(file('lib/x.php'), indexOf(l))).toMatchObject([
      { action: 'refuse', path: 'lib/x.php', message: 'written through the symlink lib' },
    ]);
    expect(pathThroughSymlink.check(file('vendor/x.php'), indexOf(l))).toEqual([]);
  });

  test('special-file refuses devices, fifos, sockets and unknown types', () => {
    for (const type of ['device', 'fifo', 'socket', 'other'] as const)
      expect(specialFile.check({ path: 'x', type, mode: 0o644, size: 0 }, none)).toMatchObject([{ action: 'refuse' }]);
    expect(specialFile.check(file('x'), none)).toEqual([]);
    expect(specialFile.check({ path: 'd', type: 'dir', mode: 0o755, size: 0 }, none)).toEqual([]);
  });

  test('data-on-non-file refuses a link that claims data', () => {
    expect(dataOnNonFile.check({ ...link('l', 'x'), size: 512 }, none)).toMatchObject([{ action: 'refuse' }]);
    expect(dataOnNonFile.check(link('l', 'x'), none)).toEqual([]);
  });

  test('setid-bits and world-writable normalise, naming the bits; symlinks are left alone', () => {
    expect(setIdBits.check(file('bin/run', 0o4755), none)).toMatchObject([
      { action: 'normalise', strip: 0o7000, message: 'mode 4755 has setuid: stripped' },
    ]);
    expect(setIdBits.check(file('d', 0o3775), none)[0].message).toBe('mode 3775 has setgid+sticky: stripped');
    expect(setIdBits.check(file('x', 0o755), none)).toEqual([]);
    expect(worldWritable.check(file('up.txt', 0o666), none)).toMatchObject([{ action: 'normalise', strip: 0o002 }]);
    expect(worldWritable.check(file('ok.txt', 0o664), none)).toEqual([]);
    expect(worldWritable.check(link('l', 'x'), none)).toEqual([]);
  });

  test('credential-name warns on the documented names only', () => {
    for (const p of [
      'config.php',
      'inc/wp-config.php',
      '.env',
      '.env.production',
      'certs/site.pem',
      'id_rsa',
      '.htpasswd',
    ])
      expect(credentialName.check(file(p), none)).toMatchObject([{ action: 'warn', path: p }]);
    for (const p of ['index.php', 'configure.php', 'env.txt', 'README.md'])
      expect(credentialName.check(file(p), none)).toEqual([]);
  });

  test('password-assignment warns with the line number, never the value; binary files are skipped', () => {
    const check = (text: string | Buffer) =>
      passwordAssignment.check(file('x.php'), Buffer.isBuffer(text) ? text : Buffer.from(text));
    expect(check("<?php\n// db\n$db_pass = 'hunter2';\n")).toEqual([
      { rule: 'password-assignment', action: 'warn', path: 'x.php', message: 'line 3 assigns a password-like value' },
    ]);
    expect(check('return [\'password\' => "s3cret"];')).toHaveLength(1);
    expect(check("define('DB_PASSWORD', 'x');")).toHaveLength(1);
    expect(check('\n\nDB_PASSWORD=abc\n')[0].message).toBe('line 3 assigns a password-like value');
    expect(JSON.stringify(check("$password = 'hunter2';"))).not.toContain('hunter2');
    expect(check("$password = $_POST['password'];")).toEqual([]);
    expect(check('<input type="password" name="pw">')).toEqual([]);
    expect(check(Buffer.from("\0\0password = 'x'"))).toEqual([]);
  });
});

test('vetEntries combines the strip bits of all rules per entry', () => {
  const r = vetEntries([file('a', 0o4777), file('b', 0o644)]);
  expect(r.refusals).toEqual([]);
  expect(r.normalisations.map((f) => f.rule).sort()).toEqual(['setid-bits', 'world-writable']);
  expect([...r.modes]).toEqual([['a', 0o775]]);
});

test('entry names are normalised the same way for the listing and the archive', () => {
  expect(normaliseEntryPath('./')).toBe('.');
  expect(normaliseEntryPath('./a//b/')).toBe('a/b');
  expect(normaliseEntryPath('/etc/x')).toBe('/etc/x');
  expect(normaliseEntryPath('a/../b')).toBe('a/../b');
});

describe('excludes (gitignore-like)', () => {
  const entries = [
    'index.php',
    '.git',
    '.git/config',
    'schema.sql',
    'uploads',
    'uploads/a.jpg',
    'uploads/keep.txt',
    'logs',
    'logs/x.log',
    'src',
    'src/logs',
    'src/logs/y.log',
    'src/app.log',
    'build',
    'build/out.js',
    'deep/a/b/cache',
    '.rushhourignore',
  ].map((p) => ({
    path: p,
    type: /^(\.git|uploads|logs|src|src\/logs|build)$/.test(p) ? 'dir' : 'file',
  }));
  const kept = (ignore: string | undefined, excludes: string[] = []) =>
    ExcludeMatcher.forSite(ignore, excludes)
      .apply(entries)
      .kept.map((e) => e.path);

  test('.git and .rushhourignore are excluded by default, and may be re-included', () => {
    expect(kept(undefined)).not.toContain('.git/config');
    expect(kept(undefined)).not.toContain('.rushhourignore');
    expect(kept('!.rushhourignore')).toContain('.rushhourignore');
  });

  test('unanchored names match at any depth, anchored ones at the root, dir-only with a trailing slash', () => {
    expect(kept('logs/')).not.toContain('src/logs/y.log');
    expect(kept('/logs/')).toContain('src/logs/y.log');
    expect(kept('/logs/')).not.toContain('logs/x.log');
    expect(kept('*.log')).not.toContain('src/app.log');
    expect(kept('schema.sql/')).toContain('schema.sql'); // a file, not a directory
    expect(kept('**/cache')).not.toContain('deep/a/b/cache');
    expect(kept('deep/**')).not.toContain('deep/a/b/cache');
    expect(kept('src/**/*.log')).toEqual(expect.not.arrayContaining(['src/app.log', 'src/logs/y.log']));
  });

  test('negation re-includes, except inside an excluded directory; --exclude comes last', () => {
    expect(kept('uploads/*\n!uploads/keep.txt')).toEqual(expect.arrayContaining(['uploads', 'uploads/keep.txt']));
    expect(kept('uploads/*\n!uploads/keep.txt')).not.toContain('uploads/a.jpg');
    expect(kept('uploads/\n!uploads/keep.txt')).not.toContain('uploads/keep.txt');
    expect(kept('# comment\n\nschema.sql')).not.toContain('schema.sql');
    expect(kept('!schema.sql', ['schema.sql'])).not.toContain('schema.sql');
    expect(kept('build/', ['!build/'])).toContain('build/out.js');
  });
});

test("find's NUL-separated listing is parsed with any name", () => {
  const out = [
    'f',
    '4755',
    '12',
    '',
    'bin/ru n',
    'l',
    '777',
    '9',
    '/etc/passwd',
    'a\nb',
    'p',
    '644',
    '0',
    '',
    'q',
    '',
  ].join('\0');
  expect(parseFindListing(out)).toEqual([
    { path: 'bin/ru n', type: 'file', mode: 0o4755, size: 12 },
    { path: 'a\nb', type: 'symlink', mode: 0o777, size: 0, linkTarget: '/etc/passwd' },
    { path: 'q', type: 'fifo', mode: 0o644, size: 0 },
  ]);
});

describe('the tar reader on archives GNU tar wrote', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-tar-test-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const pack = (site: string, name: string, format: string) => {
    const out = path.join(dir, name);
    execFileSync('tar', [`--format=${format}`, '-czf', out, '-C', site, '.']);
    return out;
  };

  function makeSite(): string {
    const site = fs.mkdtempSync(path.join(dir, 'site-'));
    const long = path.join(site, 'a'.repeat(60), 'b'.repeat(60));
    fs.mkdirSync(long, { recursive: true });
    // 60 + 60 + 84 characters: beyond the 100 of a plain header (GNU long name, pax path, ustar prefix).
    fs.writeFileSync(path.join(long, `${'c'.repeat(80)}.php`), '<?php echo 1;');
    fs.chmodSync(path.join(long, `${'c'.repeat(80)}.php`), 0o646);
    fs.writeFileSync(path.join(site, 'index.php'), '<?php echo "hi";');
    fs.writeFileSync(path.join(site, 'config.php'), "<?php\n$password = 'x';\n");
    fs.writeFileSync(path.join(site, 'run'), '#!/bin/sh\n');
    fs.chmodSync(path.join(site, 'run'), 0o4755);
    fs.writeFileSync(path.join(site, 'open.txt'), 'x');
    fs.chmodSync(path.join(site, 'open.txt'), 0o666);
    fs.symlinkSync('index.php', path.join(site, 'home.php'));
    fs.symlinkSync(`${'d'.repeat(150)}/x`, path.join(site, 'longlink'));
    fs.linkSync(path.join(site, 'index.php'), path.join(site, 'hard.php'));
    return site;
  }

  test.each(['gnu', 'pax', 'ustar'])(
    '%s format: names, long names, modes, links and content warnings',
    async (format) => {
      const site = makeSite();
      if (format === 'ustar') fs.rmSync(path.join(site, 'longlink')); // ustar cannot hold a 150-character link target
      const tgz = pack(site, `${format}.tar.gz`, format);
      const r = await vetTarball(tgz);
      expect(vetTarballSync(tgz)).toEqual(r);
      expect(r.refusals).toEqual([]);
      expect(r.normalisations.map((f) => `${f.path} ${f.rule}`).sort()).toEqual([
        `${'a'.repeat(60)}/${'b'.repeat(60)}/${'c'.repeat(80)}.php world-writable`,
        'open.txt world-writable',
        'run setid-bits',
      ]);
      expect(r.warnings.map((f) => `${f.path} ${f.rule}`).sort()).toEqual([
        'config.php credential-name',
        'config.php password-assignment',
      ]);
      expect(r.entries).toBeGreaterThanOrEqual(9);
    },
  );

  test('a bad checksum is a TarFormatError, not a silent pass', async () => {
    const bad = path.join(dir, 'bad.tar.gz');
    const raw = Buffer.alloc(1024);
    raw.write('index.php', 0);
    raw.write('0000644\0', 100);
    raw.write('00000000000\0', 124);
    raw.write('0000000\0', 148); // wrong checksum
    fs.writeFileSync(bad, zlib.gzipSync(raw));
    await expect(vetTarball(bad)).rejects.toThrow(TarFormatError);
  });

  test('acceptTarball repacks with stripped bits; GNU tar extracts the normalised modes and the same data', async () => {
    const site = makeSite();
    const tgz = pack(site, 'accept.tar.gz', 'gnu');
    const dest = path.join(dir, 'accepted.tar.gz');
    const logs: string[] = [];
    const r = await acceptTarball(tgz, dest, (m) => logs.push(m));
    expect(r.repacked).toBe(true);
    expect(fs.existsSync(tgz)).toBe(false);
    expect(logs).toContain('normalised: run: mode 4755 has setuid: stripped [setid-bits]');
    expect(logs.some((l) => /^warning: may hold credentials.* config\.php: /.test(l))).toBe(true);
    const out = fs.mkdtempSync(path.join(dir, 'x-'));
    execFileSync('tar', ['-xzf', dest, '-C', out]);
    expect(fs.statSync(path.join(out, 'run')).mode & 0o7777).toBe(0o755);
    expect(fs.statSync(path.join(out, 'open.txt')).mode & 0o7777).toBe(0o664);
    expect(fs.readFileSync(path.join(out, 'index.php'), 'utf8')).toBe('<?php echo "hi";');
    expect((await vetTarball(dest)).normalisations).toEqual([]);
  });

  test('acceptTarball refuses an archive with an escaping entry, naming it, and keeps the file for inspection', async () => {
    const site = fs.mkdtempSync(path.join(dir, 'bad-'));
    fs.writeFileSync(path.join(site, 'index.php'), 'x');
    fs.symlinkSync('/etc', path.join(site, 'etc'));
    const tgz = pack(site, 'refused.tar.gz', 'gnu');
    const err = await acceptTarball(tgz, path.join(dir, 'never.tar.gz'), () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BundleRefusedError);
    expect((err as BundleRefusedError).findings).toMatchObject([{ path: 'etc', rule: 'link-escape' }]);
    expect((err as Error).message).toContain('etc: symlink points to the absolute path /etc [link-escape]');
    expect(fs.existsSync(tgz)).toBe(true);
    expect(fs.existsSync(path.join(dir, 'never.tar.gz'))).toBe(false);
  });
});
