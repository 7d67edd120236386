import * as path from 'node:path';
import { SiteLayout, sitePaths } from './layout';
import { PhpSite } from './schema';

const MODULES = [
  ['mpm_event_module', 'mod_mpm_event.so'],
  ['unixd_module', 'mod_unixd.so'],
  ['log_config_module', 'mod_log_config.so'],
  ['authn_core_module', 'mod_authn_core.so'],
  ['authz_core_module', 'mod_authz_core.so'],
  ['authz_host_module', 'mod_authz_host.so'],
  // Old .htaccess files say "Order deny,allow / Deny from all".
  ['access_compat_module', 'mod_access_compat.so'],
  ['dir_module', 'mod_dir.so'],
  ['mime_module', 'mod_mime.so'],
  ['alias_module', 'mod_alias.so'],
  ['env_module', 'mod_env.so'],
  ['setenvif_module', 'mod_setenvif.so'],
  ['headers_module', 'mod_headers.so'],
  ['rewrite_module', 'mod_rewrite.so'],
  ['proxy_module', 'mod_proxy.so'],
  ['proxy_fcgi_module', 'mod_proxy_fcgi.so'],
] as const;

/**
 * Apache for PHP sites that rely on .htaccess: behind nginx on a loopback port, PHP through php-fpm
 * (AL2023 has no mod_php; the pool's env[] lines work the same). The whole config is this file
 * (`httpd -f`); the distribution's conf.d is not read.
 */
export function renderHttpdConf(site: PhpSite, l: SiteLayout, o: { maxInFlight: number }): string {
  const p = sitePaths(l);
  const docroot = path.join(l.siteDir, site.documentRoot);
  // Workers: the PHP requests nginx lets through plus room for health checks and Apache-served files.
  const workers = o.maxInFlight + 16;
  return [
    `ServerRoot ${l.stateDir}`,
    ...MODULES.map(
      ([name, file]) => `<IfModule !${name}>\n  LoadModule ${name} ${path.join(l.apacheModulesDir, file)}\n</IfModule>`,
    ),
    `Listen 127.0.0.1:${l.upstreamPort}`,
    'ServerName localhost',
    `User ${l.apacheUser}`,
    `Group ${l.siteGroup}`,
    `PidFile ${path.join(l.runDir, 'httpd.pid')}`,
    `ErrorLog ${path.join(l.logDir, 'httpd-error.log')}`,
    'LogLevel warn',
    'LogFormat "%a %t \\"%r\\" %>s %b %D" rushhour',
    `CustomLog ${path.join(l.logDir, 'httpd-access.log')} rushhour`,
    `TypesConfig ${l.apacheMimeTypes}`,
    'ServerTokens Prod',
    'ServerSignature Off',
    'KeepAlive On',
    'KeepAliveTimeout 75',
    'Timeout 65',
    'StartServers 1',
    'ServerLimit 4',
    `ThreadsPerChild ${Math.min(64, workers)}`,
    `MaxRequestWorkers ${Math.ceil(workers / Math.min(64, workers)) * Math.min(64, workers)}`,
    // The balancer terminates TLS; PHP sees HTTPS=on like on the origin.
    'SetEnvIf X-Forwarded-Proto "^https$" HTTPS=on',
    '<Directory />',
    '  AllowOverride None',
    '  Require all denied',
    '</Directory>',
    `DocumentRoot ${docroot}`,
    `<Directory ${docroot}>`,
    '  Options FollowSymLinks',
    '  AllowOverride All',
    '  Require all granted',
    '</Directory>',
    'DirectoryIndex index.php index.html',
    '<FilesMatch "^\\.">',
    '  Require all denied',
    '</FilesMatch>',
    '<FilesMatch "\\.php$">',
    `  SetHandler "proxy:unix:${p.siteSocket}|fcgi://rushhour-site"`,
    '</FilesMatch>',
    // The front door's health path lands here; php-fpm's one-worker health pool answers it.
    `Alias /.rushhour/health ${p.healthScript}`,
    `<Directory ${path.dirname(p.healthScript)}>`,
    '  Require ip 127.0.0.1',
    '</Directory>',
    '<Location /.rushhour/health>',
    `  SetHandler "proxy:unix:${p.healthSocket}|fcgi://rushhour-health"`,
    '</Location>',
    '',
  ].join('\n');
}
