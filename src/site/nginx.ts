import * as path from 'node:path';
import { SiteLayout, sitePaths } from './layout';
import { SiteConfig } from './schema';

/** What the front door needs to know besides the site config and the layout. */
export interface FrontDoorOptions {
  readonly healthCheckPath: string;
  /** Requests passed to the site at once (the php pool size for php). */
  readonly maxInFlight: number;
  /** Tests set 1 or 2 to prove the shared zone; instances use `auto` (one per vCPU). */
  readonly workerProcesses?: number | 'auto';
}

/**
 * Timeouts. Slow headers or bodies are cut after 10 s (the connection closes, nothing reaches the site).
 * keepalive 75 s: longer than the ALB's 60 s idle timeout, so the balancer closes idle connections first
 * and never reuses one nginx just closed (which it would answer with a 502).
 */
export const NGINX_TIMEOUTS = { clientHeader: 10, clientBody: 10, send: 30, keepalive: 75, upstreamRead: 60 } as const;

// The standard FastCGI parameters, inline rather than `include fastcgi_params`, so the file is the same
// on AL2023 and Debian and the test runs exactly this list.
const FASTCGI_PARAMS = [
  'QUERY_STRING $query_string',
  'REQUEST_METHOD $request_method',
  'CONTENT_TYPE $content_type',
  'CONTENT_LENGTH $content_length',
  'SCRIPT_NAME $fastcgi_script_name',
  'REQUEST_URI $request_uri',
  'DOCUMENT_URI $document_uri',
  'DOCUMENT_ROOT $document_root',
  'SERVER_PROTOCOL $server_protocol',
  'REQUEST_SCHEME $rushhour_scheme',
  'HTTPS $rushhour_https if_not_empty',
  'GATEWAY_INTERFACE CGI/1.1',
  'SERVER_SOFTWARE nginx',
  'REMOTE_ADDR $remote_addr',
  'REMOTE_PORT $remote_port',
  'SERVER_ADDR $server_addr',
  'SERVER_PORT $server_port',
  'SERVER_NAME $host',
  'HTTP_PROXY ""',
];

/** The whole nginx.conf for one instance (nginx runs with `-c` on it; no distribution config is read). */
export function renderNginxConf(site: SiteConfig, l: SiteLayout, o: FrontDoorOptions): string {
  const p = sitePaths(l);
  const isPhp = site.runtime === 'php';
  const nginxDirect = isPhp && site.webServer === 'nginx';
  const docroot = isPhp ? path.join(l.siteDir, site.documentRoot) : staticRoot(site, l);
  const retry = site.retryAfterSeconds;
  const fcgi = (script: string) => [
    ...FASTCGI_PARAMS.map((x) => `    fastcgi_param ${x};`),
    `    fastcgi_param SCRIPT_FILENAME ${script};`,
  ];
  const upstreams: string[] = [];
  const locations: string[] = [];
  // One zone shared by all workers: max_conns counts the instance's requests, not one worker's.
  const siteServer = nginxDirect ? `unix:${p.siteSocket}` : `127.0.0.1:${l.upstreamPort}`;
  upstreams.push(
    'upstream rushhour_site {',
    '  zone rushhour_site 64k;',
    `  server ${siteServer} max_conns=${o.maxInFlight};`,
    ...(nginxDirect ? [] : ['  keepalive 16;']),
    '}',
  );
  if (nginxDirect) {
    // Health checks go to their own one-worker pool: a full site pool does not fail them, a dead php-fpm does.
    upstreams.push('upstream rushhour_health {', `  server unix:${p.healthSocket};`, '}');
    locations.push(
      `  location = ${o.healthCheckPath} {`,
      '    access_log off;',
      '    fastcgi_pass rushhour_health;',
      ...fcgi(p.healthScript),
      '  }',
    );
  } else {
    // Apache, node, command, reference: the health path goes through the upstream's own answer (a dead
    // process fails it) but not through max_conns, so a busy site is not taken out of the balancer.
    upstreams.push('upstream rushhour_health {', `  server 127.0.0.1:${l.upstreamPort};`, '}');
    const target = isPhp ? '/.rushhour/health' : o.healthCheckPath;
    locations.push(
      `  location = ${o.healthCheckPath} {`,
      '    access_log off;',
      `    proxy_pass http://rushhour_health${target};`,
      '    proxy_connect_timeout 2s;',
      '    proxy_read_timeout 5s;',
      '  }',
    );
  }
  locations.push(
    // Dotfiles (.git, .htaccess, .env) are never served, whatever the bundle holds.
    '  location ~ /\\. {',
    '    return 404;',
    '  }',
    // The busy page: error_page turns "no free upstream slot" (502) into 503 + Retry-After.
    '  location = /.rushhour-busy.html {',
    '    internal;',
    `    root ${path.dirname(p.busyPage)};`,
    `    try_files /${path.basename(p.busyPage)} =503;`,
    `    add_header Retry-After ${retry} always;`,
    "    add_header Cache-Control 'no-store' always;",
    '  }',
  );
  if (nginxDirect) {
    locations.push(
      '  location ~ \\.php$ {',
      // Only scripts that exist run (no cgi.fix_pathinfo tricks with /upload.jpg/x.php).
      '    try_files $fastcgi_script_name =404;',
      '    fastcgi_pass rushhour_site;',
      `    fastcgi_read_timeout ${NGINX_TIMEOUTS.upstreamRead}s;`,
      // On by default; said here because the shedding depends on it: the body is read before a slot is taken.
      '    fastcgi_request_buffering on;',
      ...fcgi('$document_root$fastcgi_script_name'),
      '  }',
      '  location / {',
      `    try_files $uri $uri/ ${site.frontController ? `/${site.frontController}$is_args$args` : '=404'};`,
      '  }',
    );
  } else {
    const proxy = [
      '    proxy_pass http://rushhour_site;',
      '    proxy_http_version 1.1;',
      '    proxy_set_header Connection "";',
      '    proxy_set_header Host $host;',
      '    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
      '    proxy_set_header X-Forwarded-Proto $rushhour_scheme;',
      '    proxy_request_buffering on;',
      `    proxy_read_timeout ${NGINX_TIMEOUTS.upstreamRead}s;`,
    ];
    if (docroot) {
      // Existing non-PHP files come straight from disk; everything else goes to the upstream.
      if (isPhp) locations.push('  location ~ \\.php$ {', ...proxy, '  }');
      locations.push('  location / {', '    try_files $uri @site;', '  }', '  location @site {', ...proxy, '  }');
    } else {
      locations.push('  location / {', ...proxy, '  }');
    }
  }
  return [
    `user ${l.nginxUser};`,
    `worker_processes ${o.workerProcesses ?? 'auto'};`,
    // Ahead of the site's processes for the CPU: when PHP saturates the cores, a shed (503) and a health check
    // must still take milliseconds. bench/site.ts without it: sheds at 2x capacity took p95 450-790 ms.
    'worker_priority -5;',
    `pid ${path.join(l.runDir, 'nginx.pid')};`,
    `error_log ${path.join(l.logDir, 'nginx-error.log')} warn;`,
    // No worker_rlimit_nofile: the unit's LimitNOFILE=65536 gives it (and setrlimit fails in containers).
    'events {',
    '  worker_connections 4096;',
    '}',
    'http {',
    `  include ${l.mimeTypes};`,
    '  default_type application/octet-stream;',
    '  server_tokens off;',
    '  sendfile on;',
    '  tcp_nopush on;',
    `  client_body_temp_path ${p.nginxTemp}/body;`,
    `  proxy_temp_path ${p.nginxTemp}/proxy;`,
    `  fastcgi_temp_path ${p.nginxTemp}/fastcgi;`,
    `  uwsgi_temp_path ${p.nginxTemp}/uwsgi;`,
    `  scgi_temp_path ${p.nginxTemp}/scgi;`,
    // $request_time: seconds from the first byte read to the last byte sent; $upstream_response_time: the site's part.
    '  log_format rushhour \'$remote_addr [$time_iso8601] "$request" $status $body_bytes_sent \'',
    '                      \'rt=$request_time ut=$upstream_response_time ua="$http_user_agent" xff="$http_x_forwarded_for"\';',
    `  access_log ${path.join(l.logDir, 'nginx-access.log')} rushhour;`,
    `  client_header_timeout ${NGINX_TIMEOUTS.clientHeader}s;`,
    `  client_body_timeout ${NGINX_TIMEOUTS.clientBody}s;`,
    `  send_timeout ${NGINX_TIMEOUTS.send}s;`,
    `  keepalive_timeout ${NGINX_TIMEOUTS.keepalive}s;`,
    `  client_max_body_size ${site.maxBodyMiB}m;`,
    // The balancer terminates TLS and says so in X-Forwarded-Proto; PHP sees HTTPS=on through this.
    '  map $http_x_forwarded_proto $rushhour_scheme {',
    '    https https;',
    '    default $scheme;',
    '  }',
    '  map $rushhour_scheme $rushhour_https {',
    '    https on;',
    "    default '';",
    '  }',
    ...upstreams.map((x) => `  ${x}`),
    '  server {',
    `    listen ${l.port} default_server;`,
    '    server_name _;',
    ...(docroot ? [`    root ${docroot};`] : []),
    `    index ${nginxDirect ? 'index.php ' : ''}index.html;`,
    '    error_page 502 =503 /.rushhour-busy.html;',
    ...locations.map((x) => `  ${x}`),
    '  }',
    '}',
    '',
  ].join('\n');
}

function staticRoot(site: SiteConfig, l: SiteLayout): string | undefined {
  if (site.runtime === 'php') return path.join(l.siteDir, site.documentRoot);
  return 'staticDir' in site && site.staticDir ? path.join(l.siteDir, site.staticDir) : undefined;
}
