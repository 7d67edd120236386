import * as path from 'node:path';

/**
 * Where everything lives on one machine. An instance uses `al2023Layout`; tests build the same tree in a
 * temp directory with Debian's binaries (`root` prefixes every rushhour-owned path), so the renderers are
 * the same functions with different inputs.
 */
export interface SiteLayout {
  /** The front door's port (web.port); the balancer's target port. 80 is fine: nginx's master binds as root. */
  readonly port: number;
  /** Local port for the upstream behind nginx when it is TCP (node, command, reference, Apache). */
  readonly upstreamPort: number;
  /** The extracted site bundle (read-only for the site user, except writableDirs). */
  readonly siteDir: string;
  /** rushhour's own config: the env file, the site JSON, the rendered nginx/php-fpm/Apache configs. */
  readonly etcDir: string;
  /** Sockets and pid files. */
  readonly runDir: string;
  readonly logDir: string;
  /** Files rushhour ships to the instance: health script, session handler, busy page, boot script. */
  readonly libDir: string;
  /** nginx temp files, per-instance PHP sessions. */
  readonly stateDir: string;
  /** The unprivileged user the site runs as (php-fpm pool workers, node, command). Never root. */
  readonly siteUser: string;
  readonly siteGroup: string;
  /** nginx worker user (`user` directive); the master stays root to bind privileged ports. */
  readonly nginxUser: string;
  /** Apache's worker user (apache webServer only). */
  readonly apacheUser: string;
  readonly bins: {
    readonly nginx: string;
    readonly phpFpm: string;
    readonly httpd: string;
    readonly node: string;
    readonly bash: string;
  };
  /** Directory holding mod_*.so for Apache. */
  readonly apacheModulesDir: string;
  readonly mimeTypes: string;
  /** Apache's mime types (mailcap's /etc/mime.types on both AL2023 and Debian). */
  readonly apacheMimeTypes: string;
  /** This machine's size, for the php-fpm pool rule. The boot step reads them from the running instance. */
  readonly vcpus: number;
  readonly memoryMiB: number;
}

/** Amazon Linux 2023 paths and package-created users (nginx, apache). */
export function al2023Layout(opts: {
  port: number;
  upstreamPort?: number;
  vcpus: number;
  memoryMiB: number;
  nodeVersion?: string;
}): SiteLayout {
  return {
    port: opts.port,
    upstreamPort: opts.upstreamPort ?? (opts.port === 8081 ? 8082 : 8081),
    siteDir: '/opt/rushhour/site',
    etcDir: '/etc/rushhour',
    runDir: '/run/rushhour',
    logDir: '/var/log/rushhour',
    libDir: '/opt/rushhour/lib',
    stateDir: '/var/lib/rushhour',
    siteUser: 'rushhour',
    siteGroup: 'rushhour',
    nginxUser: 'nginx',
    apacheUser: 'apache',
    bins: {
      nginx: '/usr/sbin/nginx',
      // AL2023 installs one PHP stream at a time; its php-fpm binary is unversioned.
      phpFpm: '/usr/sbin/php-fpm',
      httpd: '/usr/sbin/httpd',
      node: `/usr/bin/node-${opts.nodeVersion ?? '22'}`,
      bash: '/bin/bash',
    },
    apacheModulesDir: '/etc/httpd/modules',
    mimeTypes: '/etc/nginx/mime.types',
    apacheMimeTypes: '/etc/mime.types',
    vcpus: opts.vcpus,
    memoryMiB: opts.memoryMiB,
  };
}

/** Paths of the files rushhour renders, from the layout. One place, so renderers and tests agree. */
export function sitePaths(l: SiteLayout) {
  return {
    envFile: path.join(l.etcDir, 'site.env'),
    siteJson: path.join(l.etcDir, 'site.json'),
    nginxConf: path.join(l.etcDir, 'nginx.conf'),
    phpFpmConf: path.join(l.etcDir, 'php-fpm.conf'),
    httpdConf: path.join(l.etcDir, 'httpd.conf'),
    siteSocket: path.join(l.runDir, 'php-site.sock'),
    healthSocket: path.join(l.runDir, 'php-health.sock'),
    healthScript: path.join(l.libDir, 'rushhour-health.php'),
    sessionHandler: path.join(l.libDir, 'rushhour-session.php'),
    busyPage: path.join(l.libDir, 'busy.html'),
    bootScript: path.join(l.libDir, 'site-boot.js'),
    sessionFilesDir: path.join(l.stateDir, 'php-sessions'),
    nginxTemp: path.join(l.stateDir, 'nginx'),
  };
}
