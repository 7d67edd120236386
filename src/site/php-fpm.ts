import * as path from 'node:path';
import { DB_ENV_NAMES } from './env-file';
import { SiteLayout, sitePaths } from './layout';
import { PhpSite } from './schema';
import { phpPoolSize } from './sizing';

/** The pool size this site gets on this machine (the rule in ./sizing, or web.site.phpWorkers). */
export function phpWorkers(site: PhpSite, l: SiteLayout): number {
  return phpPoolSize({ vcpus: l.vcpus, memoryMiB: l.memoryMiB, apache: site.webServer === 'apache' }, site.phpWorkers);
}

/**
 * php-fpm.conf with two pools: `site` (the operator's code, `pm = static` so every worker exists before
 * the rush instead of being forked during it) and `health` (one worker for the health script, so a full
 * site pool does not fail health checks while a dead php-fpm does).
 */
export function renderPhpFpmConf(site: PhpSite, l: SiteLayout): string {
  const p = sitePaths(l);
  const workers = phpWorkers(site, l);
  const listenOwner = site.webServer === 'apache' ? l.apacheUser : l.nginxUser;
  const ini: Record<string, string> = {
    // Errors go to the log, never to the visitor's page.
    display_errors: 'Off',
    log_errors: 'On',
    expose_php: 'Off',
    ...site.ini,
  };
  const admin: Record<string, string> = {};
  if (site.sessions === 'database') {
    // Not session.save_handler=user: PHP 8 refuses that from ini ("cannot be set by ini_set()", every
    // worker dies at its first request, measured on 8.2); session_set_save_handler() in the file sets it.
    admin['auto_prepend_file'] = p.sessionHandler;
  } else {
    admin['session.save_handler'] = 'files';
    admin['session.save_path'] = p.sessionFilesDir;
  }
  const pool = (name: string, socket: string, env: readonly string[], lines: string[]) => [
    `[${name}]`,
    `user = ${l.siteUser}`,
    `group = ${l.siteGroup}`,
    `listen = ${socket}`,
    `listen.owner = ${listenOwner}`,
    `listen.group = ${l.siteGroup}`,
    'listen.mode = 0660',
    // The front door passes up to workers x (1 + PHP_QUEUE_PER_WORKER) requests (./render): the ones beyond
    // the pool wait here, in the socket's backlog, for the next free worker.
    'listen.backlog = 511',
    `chdir = ${l.siteDir}`,
    // clear_env stays on: workers see only what is listed here, and the DB settings from the env file.
    'clear_env = yes',
    ...env.map((n) => `env[${n}] = $${n}`),
    'catch_workers_output = yes',
    'decorate_workers_output = no',
    ...lines,
    '',
  ];
  return [
    '[global]',
    `pid = ${path.join(l.runDir, 'php-fpm.pid')}`,
    `error_log = ${path.join(l.logDir, 'php-fpm.log')}`,
    'daemonize = no',
    // A worker crash loop (e.g. a bad extension) restarts the master instead of spinning.
    'emergency_restart_threshold = 10',
    'emergency_restart_interval = 1m',
    'process_control_timeout = 20s',
    '',
    ...pool('site', p.siteSocket, DB_ENV_NAMES, [
      'pm = static',
      `pm.max_children = ${workers}`,
      // Recycles workers now and then, so a slow leak in the site's code never grows for the whole week.
      'pm.max_requests = 2000',
      // A request stuck longer than the front door waits is killed rather than holding a worker.
      'request_terminate_timeout = 65s',
      `slowlog = ${path.join(l.logDir, 'php-slow.log')}`,
      'request_slowlog_timeout = 5s',
      ...Object.entries(ini).map(([k, v]) => `php_value[${k}] = ${v}`),
      ...Object.entries(admin).map(([k, v]) => `php_admin_value[${k}] = ${v}`),
    ]),
    // The health pool gets no database settings: it must not (and cannot) depend on the database.
    ...pool(
      'health',
      p.healthSocket,
      [],
      [
        'pm = static',
        'pm.max_children = 1',
        // Ahead of the site's workers for the CPU: a saturated pool must not time out the balancer's checks.
        'process.priority = -5',
        'php_admin_value[display_errors] = Off',
        'request_terminate_timeout = 5s',
      ],
    ),
  ].join('\n');
}
