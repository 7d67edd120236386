import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './ports';
import { requireTool, spawnOwned, stopProcess, waitUntilListening } from './process';

/** moto's server on loopback: S3, SSM and Secrets Manager APIs for tests and the rehearsal, no AWS account needed. */
export interface LocalMoto {
  readonly endpoint: string;
  readonly region: string;
  /** Settings for an AWS SDK v3 client pointed at moto (dummy credentials; moto accepts any). */
  readonly clientConfig: {
    endpoint: string;
    region: string;
    forcePathStyle: true;
    credentials: { accessKeyId: string; secretAccessKey: string };
  };
  stop(): Promise<void>;
}

export async function startMoto(region = 'us-east-1'): Promise<LocalMoto> {
  const bin = requireTool('moto_server', "pip install 'moto[server]'");
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-moto-'));
  const log = fs.openSync(path.join(dir, 'moto.log'), 'a');
  const child = spawnOwned(bin, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', log, log] });
  await waitUntilListening(child, port, `moto_server (log: ${path.join(dir, 'moto.log')})`, 60000);
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    region,
    clientConfig: {
      endpoint,
      region,
      forcePathStyle: true,
      // Not a secret: moto accepts any credentials. Named so nobody mistakes it for a real key.
      credentials: { accessKeyId: 'moto-local', secretAccessKey: 'moto-local' },
    },
    async stop() {
      await stopProcess(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
