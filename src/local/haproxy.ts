import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { freePort } from './ports';
import { requireTool, spawnOwned, stopProcess, waitUntilListening } from './process';

/** One HAProxy process serving N loopback "load balancers", each spreading over its own app backends. */
export interface LocalBalancers {
  /** Base URL of each balancer, in order. */
  readonly urls: string[];
  readonly statsUrl: string;
  readonly configPath: string;
  stop(): Promise<void>;
}

export interface BalancerSpec {
  /** Backend ports behind this balancer (the "instances" of its Auto Scaling group). */
  readonly backendPorts: number[];
}

export interface StartBalancersOptions {
  /** The health check path, as the ALB target group uses it. @default '/healthz' */
  readonly healthCheckPath?: string;
  /**
   * Max connections per backend before HAProxy queues: the ALB has no such limit, so default to generous. @default 200
   */
  readonly maxConnPerBackend?: number;
}

/** Renders the HAProxy config: one frontend+backend pair per balancer, health-checked like an ALB target group. */
export function renderHaproxyConfig(
  balancers: Array<BalancerSpec & { port: number }>,
  statsPort: number,
  options: StartBalancersOptions = {},
): string {
  const health = options.healthCheckPath ?? '/healthz';
  const maxconn = options.maxConnPerBackend ?? 200;
  const lines = [
    'global',
    '  maxconn 4000',
    '',
    'defaults',
    '  mode http',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout queue 10s',
    '  option http-keep-alive',
    '  retries 2',
    '  option redispatch',
    '',
    `frontend stats`,
    `  bind 127.0.0.1:${statsPort}`,
    '  stats enable',
    '  stats uri /stats',
    '',
  ];
  balancers.forEach((b, i) => {
    lines.push(`frontend lb${i + 1}`, `  bind 127.0.0.1:${b.port}`, `  default_backend group${i + 1}`, '');
    lines.push(
      `backend group${i + 1}`,
      '  balance leastconn',
      `  option httpchk GET ${health}`,
      '  http-check expect status 200',
      ...b.backendPorts.map(
        (p, j) => `  server i${j + 1} 127.0.0.1:${p} check inter 2s fall 2 rise 2 maxconn ${maxconn}`,
      ),
      '',
    );
  });
  return lines.join('\n');
}

export async function startBalancers(
  specs: BalancerSpec[],
  options: StartBalancersOptions = {},
): Promise<LocalBalancers> {
  const haproxy = requireTool('haproxy', 'apt-get install -y --no-install-recommends haproxy');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-haproxy-'));
  const withPorts: Array<BalancerSpec & { port: number }> = [];
  for (const s of specs) withPorts.push({ ...s, port: await freePort() });
  const statsPort = await freePort();
  const configPath = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(configPath, renderHaproxyConfig(withPorts, statsPort, options));
  execFileSync(haproxy, ['-c', '-q', '-f', configPath]);
  const child = spawnOwned(haproxy, ['-db', '-f', configPath]);
  for (const b of withPorts) await waitUntilListening(child, b.port, 'haproxy');
  return {
    urls: withPorts.map((b) => `http://127.0.0.1:${b.port}`),
    statsUrl: `http://127.0.0.1:${statsPort}/stats`,
    configPath,
    async stop() {
      await stopProcess(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
