import { SiteConfig } from './schema';

/**
 * Amazon Linux 2023 packages per runtime. Names checked against AL2023 package lists (search, 2026-12):
 * PHP streams ship as php8.3-* / php8.4-* (fpm, cli, common, mysqlnd, mbstring, ... ; PHP 8.3 is in
 * AL2023 since 2023.5.20240624); AL2023 has no mod_php, so Apache runs PHP through php-fpm; nginx and
 * httpd are plain names; Node is nodejs22 / nodejs24 (binaries node-22 / node-24). Node 22 is always
 * installed: the boot step (site-boot.js) runs on it.
 */
export function al2023Packages(site: SiteConfig): string[] {
  const base = ['nginx', 'nodejs22'];
  switch (site.runtime) {
    case 'php': {
      const v = `php${site.phpVersion}`;
      const exts = ['fpm', 'cli', 'common', 'mysqlnd', 'pdo', 'mbstring', 'opcache', ...site.extensions];
      return [
        ...base,
        ...[...new Set(exts)].map((e) => `${v}-${e}`),
        ...(site.webServer === 'apache' ? ['httpd'] : []),
      ];
    }
    case 'node':
      return site.nodeVersion === '22' ? base : [...base, `nodejs${site.nodeVersion}`];
    case 'command':
      return [...base, ...site.packages];
    case 'reference':
      return base;
  }
}

/**
 * The bash lines the user data runs for the packages: each attempt and its time in the bootstrap log,
 * five tries with a growing pause (a mirror or the network is often not ready in the first seconds).
 */
export function renderInstallLines(packages: readonly string[]): string[] {
  for (const p of packages)
    if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(p)) throw new Error(`not a dnf package name: ${JSON.stringify(p)}`);
  const list = packages.join(' ');
  return [
    `for try in 1 2 3 4 5; do`,
    `  echo "rushhour: dnf install (try $try) ${list} at $(date -u +%FT%TZ)"`,
    `  if dnf install -y ${list}; then break; fi`,
    `  if [ "$try" = 5 ]; then echo "rushhour: FATAL: dnf install failed 5 times" >&2; exit 1; fi`,
    `  sleep $((try * 5))`,
    'done',
    'echo "rushhour: packages installed at $(date -u +%FT%TZ)"',
  ];
}
