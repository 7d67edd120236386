/**
 * bench/transfer: pull-web's download (src/ssh/transfer.ts: SFTP with a window of reads in flight,
 * resumable, sha256-verified) against OpenSSH's own `sftp` client, over the same real sshd behind a
 * relay that adds latency (a WAN link to the origin), in one run. Also the window of 1 (one request
 * per round trip, what ssh2's createReadStream does) to show why the window matters.
 *
 *   npx tsx bench/transfer.ts [--mb 32] [--delay-ms 10]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchArgs, benchNumber } from './args';
import { startSshd } from '../src/local/sshd';
import { SshSession } from '../src/ssh/session';
import { resumableGet } from '../src/ssh/transfer';
import { sha256File } from '../src/util/sha256';

const USAGE = 'usage: npx tsx bench/transfer.ts [--mb 32] [--delay-ms 10]';
const args = benchArgs(USAGE, { mb: { type: 'string' }, 'delay-ms': { type: 'string' } });
const MB = benchNumber(USAGE, '--mb', args.mb, 32);
const DELAY = benchNumber(USAGE, '--delay-ms', args['delay-ms'], 10, true);

/** A TCP relay that delays every chunk by `delayMs` in each direction (order kept). */
async function latencyRelay(target: number, delayMs: number): Promise<{ port: number; close: () => void }> {
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    const delayed = (to: net.Socket) => (d: Buffer) =>
      setTimeout(() => {
        if (!to.destroyed) to.write(d);
      }, delayMs);
    client.on('data', delayed(upstream));
    upstream.on('data', delayed(client));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

(async () => {
  const sshd = await startSshd();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-bench-transfer-'));
  const relay = await latencyRelay(sshd.port, DELAY);
  try {
    const remote = path.join(dir, 'site.tar.gz');
    fs.writeFileSync(remote, randomBytes(MB * 1024 * 1024));
    const sha = await sha256File(remote);
    const knownHosts = path.join(dir, 'known_hosts');
    fs.writeFileSync(
      knownHosts,
      fs.readFileSync(sshd.knownHostsPath, 'utf8').replace(`:${sshd.port}`, `:${relay.port}`),
    );
    const connect = () =>
      SshSession.connect({
        host: '127.0.0.1',
        port: relay.port,
        username: sshd.username,
        identityFile: sshd.privateKeyPath,
        hostKey: { knownHostsFile: knownHosts },
      });
    const timeIt = async (fn: () => Promise<void> | void) => {
      const t0 = process.hrtime.bigint();
      await fn();
      return Number(process.hrtime.bigint() - t0) / 1e9;
    };

    // Async: the relay runs in this process, so a synchronous child would deadlock it.
    const openssh = await timeIt(
      () =>
        new Promise<void>((resolve, reject) => {
          const batch = path.join(dir, 'batch');
          fs.writeFileSync(batch, `get ${remote} ${path.join(dir, 'openssh.bin')}\n`);
          spawn(
            'sftp',
            [
              '-q',
              '-b',
              batch,
              '-i',
              sshd.privateKeyPath,
              '-P',
              String(relay.port),
              '-o',
              `UserKnownHostsFile=${knownHosts}`,
              '-o',
              'StrictHostKeyChecking=yes',
              '-o',
              'BatchMode=yes',
              `${sshd.username}@127.0.0.1`,
            ],
            { stdio: 'ignore' },
          ).on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sftp exited ${code}`))));
        }),
    );
    const ours = await timeIt(async () => {
      await resumableGet({ connect, remotePath: remote, localPath: path.join(dir, 'ours.bin'), expectedSha256: sha });
    });
    const sequential = await timeIt(async () => {
      await resumableGet({
        connect,
        remotePath: remote,
        localPath: path.join(dir, 'seq.bin'),
        expectedSha256: sha,
        window: 1,
      });
    });
    const rate = (s: number) => `${(MB / s).toFixed(1)} MB/s`;
    console.log(`${MB} MB over sshd with ${DELAY} ms added each way:`);
    console.log(`  OpenSSH sftp:                         ${openssh.toFixed(2)} s  ${rate(openssh)}`);
    console.log(`  resumableGet, window 32 (+ sha256):   ${ours.toFixed(2)} s  ${rate(ours)}`);
    console.log(`  resumableGet, window 1 (+ sha256):    ${sequential.toFixed(2)} s  ${rate(sequential)}`);
    console.log(
      `ratio resumableGet/OpenSSH throughput: ${(openssh / ours).toFixed(2)} (window 1: ${(openssh / sequential).toFixed(2)})`,
    );
  } finally {
    relay.close();
    await sshd.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
