import * as path from 'node:path';
import { shQuote, withEnvFile } from './env-file';
import { SiteLayout, sitePaths } from './layout';
import { SiteConfig } from './schema';

/** One process rushhour runs: its unit name and the exact argv (tests spawn the same argv). */
export interface ServiceSpec {
  readonly unit: string;
  readonly description: string;
  /** The ExecStart words. */
  readonly argv: readonly string[];
  /** Run before every start as root, unsandboxed (`ExecStartPre=+`): the database wiring. */
  readonly preStart?: readonly string[];
  readonly stopSignal: 'SIGQUIT' | 'SIGTERM' | 'SIGWINCH';
  /** Extra sandbox lines. */
  readonly sandbox: readonly string[];
  readonly environment?: Readonly<Record<string, string>>;
}

export const UNITS = { front: 'rushhour-front', site: 'rushhour-site', apache: 'rushhour-apache' } as const;

/** The processes for a site: the front door (nginx) always, then php-fpm (+ Apache), or the site's command. */
export function siteServices(site: SiteConfig, l: SiteLayout): ServiceSpec[] {
  const p = sitePaths(l);
  const wireDb = [l.bins.node, p.bootScript, 'wire-db', '--site', p.siteJson];
  const writable = site.writableDirs.map((d) => path.join(l.siteDir, d));
  const rw = (dirs: string[]) => `ReadWritePaths=${dirs.join(' ')}`;
  const front: ServiceSpec = {
    unit: UNITS.front,
    description: 'rushhour front door (nginx)',
    // The master stays root (binds port 80 if asked); workers run as the nginx user.
    argv: [l.bins.nginx, '-c', p.nginxConf, '-g', 'daemon off;'],
    stopSignal: 'SIGQUIT',
    sandbox: [rw([l.runDir, l.logDir, l.stateDir])],
  };
  if (site.runtime === 'php') {
    const services: ServiceSpec[] = [
      front,
      {
        unit: UNITS.site,
        description: `rushhour site (php-fpm, PHP ${site.phpVersion})`,
        // The master reads the env file as root; workers run as the site user with clear_env and env[] lines.
        argv: withEnvFile(l.bins.bash, p.envFile, [l.bins.phpFpm, '--nodaemonize', '--fpm-config', p.phpFpmConf]),
        preStart: wireDb,
        stopSignal: 'SIGQUIT',
        sandbox: [rw([l.runDir, l.logDir, l.stateDir, ...writable])],
      },
    ];
    if (site.webServer === 'apache')
      services.push({
        unit: UNITS.apache,
        description: 'rushhour Apache (.htaccess) behind the front door',
        argv: [l.bins.httpd, '-f', p.httpdConf, '-DFOREGROUND'],
        stopSignal: 'SIGWINCH',
        sandbox: [rw([l.runDir, l.logDir, l.stateDir])],
      });
    return services;
  }
  // node, command, reference: the env file is read as root, then setpriv drops to the site user for good.
  const start = site.runtime === 'reference' ? `exec ${shQuote(l.bins.node)} app.js` : site.startCommand;
  return [
    front,
    {
      unit: UNITS.site,
      description: `rushhour site (${site.runtime})`,
      argv: withEnvFile(l.bins.bash, p.envFile, [
        '/usr/bin/setpriv',
        `--reuid=${l.siteUser}`,
        `--regid=${l.siteGroup}`,
        '--init-groups',
        '--inh-caps=-all',
        '--bounding-set=-all',
        '--',
        l.bins.bash,
        '-c',
        start,
      ]),
      preStart: wireDb,
      stopSignal: 'SIGTERM',
      environment: {
        PORT: String(l.upstreamPort),
        HOST: '127.0.0.1',
        NODE_ENV: 'production',
        PATH: `${path.join(l.libDir, 'bin')}:/usr/local/bin:/usr/bin:/bin`,
      },
      sandbox: [rw([...writable]), 'CapabilityBoundingSet=CAP_SETUID CAP_SETGID CAP_SETPCAP'],
    },
  ];
}

/** Escapes one ExecStart word for systemd (quotes it; `$` and `%` are systemd's own expansions). */
function systemdWord(w: string): string {
  const esc = w.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /^[A-Za-z0-9_./=:@+,-]+$/.test(w) ? esc : `"${esc}"`;
}

export function renderUnit(s: ServiceSpec, l: SiteLayout): string {
  return [
    '[Unit]',
    `Description=${s.description}`,
    'Wants=network-online.target',
    'After=network-online.target',
    // systemd keeps restarting: a database not there yet (import still running) is retried, not fatal.
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    'Type=simple',
    ...(s.preStart ? [`ExecStartPre=+${s.preStart.map(systemdWord).join(' ')}`] : []),
    `ExecStart=${s.argv.map(systemdWord).join(' ')}`,
    ...Object.entries(s.environment ?? {}).map(([k, v]) => `Environment=${systemdWord(`${k}=${v}`)}`),
    `WorkingDirectory=${l.siteDir}`,
    'Restart=always',
    'RestartSec=2',
    `KillSignal=${s.stopSignal}`,
    'TimeoutStopSec=30',
    'LimitNOFILE=65536',
    'RuntimeDirectory=rushhour',
    'RuntimeDirectoryPreserve=yes',
    'NoNewPrivileges=true',
    'ProtectSystem=strict',
    'ProtectHome=true',
    'PrivateTmp=true',
    ...s.sandbox,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}
