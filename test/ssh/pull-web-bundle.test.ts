import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pullWeb } from '../../src/origin/pull-web';
import { LocalSshd, startSshd } from '../../src/local/sshd';
import { BundleRefusedError } from '../../src/site/bundle-vet';

/**
 * pull-web against a real sshd on loopback, with a site directory an operator might really have: a Git
 * checkout, a .rushhourignore, a dump next to the code, links out of the site, a setuid script, a
 * world-writable file, a fifo and a config.php holding the origin's database password.
 */
let sshd: LocalSshd;
let work: string;
let site: string;

beforeAll(async () => {
  sshd = await startSshd();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-pull-web-bundle-'));
  site = path.join(work, 'www', 'courses');
  const w = (p: string, text: string, mode = 0o644) => {
    fs.mkdirSync(path.dirname(path.join(site, p)), { recursive: true });
    fs.writeFileSync(path.join(site, p), text);
    fs.chmodSync(path.join(site, p), mode);
  };
  w('.git/HEAD', 'ref: refs/heads/main\n');
  w('.git/config', '[core]\n');
  w('.rushhourignore', '# not for the instances\nschema.sql\n*.bak\n');
  w('schema.sql', 'CREATE TABLE course (id INT);\n');
  w('index.php.bak', '<?php // old\n');
  w('notes/todo.txt', 'call the registrar\n');
  w('index.php', '<?php echo "courses"; ?>\n');
  w('inc/db.php', '<?php require __DIR__ . "/../config.php";\n');
  w('config.php', "<?php\n$db_host = 'localhost';\n$db_password = 'origin-secret-123';\n");
  w('run.sh', '#!/bin/sh\necho run\n', 0o4755);
  w('uploads/readme.txt', 'uploads\n', 0o666);
  fs.symlinkSync('/etc/passwd', path.join(site, 'passwd'));
  fs.symlinkSync('../../outside', path.join(site, 'inc', 'up'));
  fs.symlinkSync('index.php', path.join(site, 'home.php')); // inside the site: fine
  execFileSync('mkfifo', [path.join(site, 'queue')]);
}, 60000);

afterAll(async () => {
  await sshd?.stop();
});

const opts = (name: string) => ({
  origin: `${sshd.username}@127.0.0.1:${sshd.port}`,
  knownHosts: sshd.knownHostsPath,
  identity: sshd.privateKeyPath,
  path: site,
  out: path.join(work, name),
  stateFile: path.join(work, `${name}.state.json`),
});

test('entries that must not reach an instance are refused before anything is packed, each named', async () => {
  const logs: string[] = [];
  const err = await pullWeb({ ...opts('refused'), exclude: ['notes/'], log: (m) => logs.push(m) }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BundleRefusedError);
  const refused = err as BundleRefusedError;
  expect(refused.findings.map((f) => `${f.path} ${f.rule}`).sort()).toEqual([
    'inc/up link-escape',
    'passwd link-escape',
    'queue special-file',
  ]);
  expect(refused.message).toMatch(/passwd: symlink points to the absolute path \/etc\/passwd/);
  expect(refused.message).toMatch(/inc\/up: symlink points outside the site root \(\.\.\/\.\.\/outside\)/);
  expect(refused.message).toMatch(/queue: is a fifo/);
  expect(refused.message).toMatch(/--exclude PATTERN or a line in .*\.rushhourignore/);
  // Excluded entries are not vetted, and say why they were left out.
  expect(logs).toEqual(
    expect.arrayContaining([
      'excluded .git/ (default:1: .git/)',
      'excluded schema.sql (.rushhourignore:2: schema.sql)',
      'excluded index.php.bak (.rushhourignore:3: *.bak)',
      'excluded notes/ (--exclude:1: notes/)',
    ]),
  );
  expect(fs.readdirSync(path.join(work, 'refused'))).toEqual([]);
});

test('with the refused entries excluded: the contents at the archive root, normalised modes, the credential warning', async () => {
  const logs: string[] = [];
  const res = await pullWeb({
    ...opts('pulled'),
    exclude: ['notes/', '/passwd', 'inc/up', 'queue'],
    log: (m) => logs.push(m),
  });
  expect(createHash('sha256').update(fs.readFileSync(res.archive)).digest('hex')).toBe(res.sha256);
  const names = execFileSync('tar', ['-tzf', res.archive], { encoding: 'utf8' }).trim().split('\n').sort();
  expect(names).toEqual([
    'config.php',
    'home.php',
    'inc/',
    'inc/db.php',
    'index.php',
    'run.sh',
    'uploads/',
    'uploads/readme.txt',
  ]);
  // Extracted as an instance would: index.php at the root, the modes normalised, the origin's owner gone.
  const out = fs.mkdtempSync(path.join(work, 'extract-'));
  execFileSync('tar', ['-xzf', res.archive, '-C', out]);
  expect(fs.readFileSync(path.join(out, 'index.php'), 'utf8')).toBe('<?php echo "courses"; ?>\n');
  expect(fs.statSync(path.join(out, 'run.sh')).mode & 0o7777).toBe(0o755);
  expect(fs.statSync(path.join(out, 'uploads', 'readme.txt')).mode & 0o7777).toBe(0o664);
  expect(fs.readlinkSync(path.join(out, 'home.php'))).toBe('index.php');
  const owners = execFileSync('tar', ['-tvzf', res.archive, '--numeric-owner'], { encoding: 'utf8' });
  for (const line of owners.trim().split('\n')) expect(line.split(/\s+/)[1]).toBe('0/0');
  expect([...res.normalised].sort()).toEqual(['run.sh', 'uploads/readme.txt']);
  expect(logs).toContain('normalised: run.sh: mode 4755 has setuid: stripped [setid-bits]');
  expect(res.warnings).toEqual(['config.php']);
  expect(logs).toContain(
    'warning: may hold credentials, check before it is served: config.php: is named like a file that holds credentials; line 3 assigns a password-like value [credential-name, password-assignment]',
  );
  expect(logs.join('\n')).not.toContain('origin-secret-123');
});
