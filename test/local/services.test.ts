import { execFileSync } from 'node:child_process';
import { startMariaDb } from '../../src/local/mariadb';
import { startMoto } from '../../src/local/moto';
import { startSshd } from '../../src/local/sshd';

describe('local services used by tests and the rehearsal', () => {
  test('MariaDB starts on a private port and runs SQL', async () => {
    const db = await startMariaDb();
    try {
      expect(db.sql('SELECT 6*7').trim()).toBe('42');
      db.createUser('app', 'pw-not-secret');
      const out = execFileSync(
        'mariadb',
        [
          '--no-defaults',
          '-h127.0.0.1',
          `-P${db.port}`,
          '-uapp',
          '--batch',
          '--skip-column-names',
          '-e',
          'SELECT CURRENT_USER()',
        ],
        {
          encoding: 'utf8',
          env: { ...process.env, MYSQL_PWD: 'pw-not-secret' },
        },
      );
      expect(out.trim()).toBe('app@127.0.0.1');
    } finally {
      await db.stop();
    }
  });

  test('sshd accepts the client key and is pinned in known_hosts', async () => {
    const sshd = await startSshd();
    try {
      const out = execFileSync(
        'ssh',
        [
          '-i',
          sshd.privateKeyPath,
          '-p',
          String(sshd.port),
          '-o',
          `UserKnownHostsFile=${sshd.knownHostsPath}`,
          '-o',
          'StrictHostKeyChecking=yes',
          '-o',
          'BatchMode=yes',
          `${sshd.username}@127.0.0.1`,
          'echo hello',
        ],
        { encoding: 'utf8' },
      );
      expect(out.trim()).toBe('hello');
      expect(sshd.hostKeyFingerprint).toMatch(/^SHA256:/);
    } finally {
      await sshd.stop();
    }
  });

  test('moto serves S3 on loopback', async () => {
    const moto = await startMoto();
    try {
      const res = await fetch(`${moto.endpoint}/`);
      expect(res.status).toBe(200);
    } finally {
      await moto.stop();
    }
  });
});

describe('local load balancers (HAProxy)', () => {
  test('each balancer spreads over its own backends and skips a backend whose health check fails', async () => {
    const http = await import('node:http');
    const { startBalancers } = await import('../../src/local/haproxy');
    const { freePort } = await import('../../src/local/ports');
    const servers: import('node:http').Server[] = [];
    const ports: number[] = [];
    for (const name of ['a1', 'a2', 'b1']) {
      const port = await freePort();
      const healthy = name !== 'a2';
      const s = http.createServer((req, res) => {
        if (req.url === '/healthz') {
          res.writeHead(healthy ? 200 : 500);
          res.end();
          return;
        }
        res.end(name);
      });
      await new Promise<void>((r) => s.listen(port, '127.0.0.1', () => r()));
      servers.push(s);
      ports.push(port);
    }
    const lbs = await startBalancers([{ backendPorts: [ports[0], ports[1]] }, { backendPorts: [ports[2]] }]);
    try {
      await new Promise((r) => setTimeout(r, 4500)); // two failed checks at 2 s mark a2 down
      const seenA = new Set<string>();
      for (let i = 0; i < 10; i++) seenA.add(await (await fetch(lbs.urls[0] + '/x')).text());
      expect([...seenA]).toEqual(['a1']);
      expect(await (await fetch(lbs.urls[1] + '/x')).text()).toBe('b1');
      // The rehearsal reads per-process request counts from HAProxy's own stats CSV.
      const { requestsPerServer } = await import('../../src/rehearsal/runbook');
      const perServer = requestsPerServer(await (await fetch(`${lbs.statsUrl};csv`)).text());
      expect(perServer).toEqual([
        { balancer: 1, process: 1, requests: 10 },
        { balancer: 1, process: 2, requests: 0 },
        { balancer: 2, process: 1, requests: 1 },
      ]);
    } finally {
      await lbs.stop();
      servers.forEach((s) => s.close());
    }
  });
});
