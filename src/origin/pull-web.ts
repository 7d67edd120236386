import * as fs from 'node:fs';
import * as path from 'node:path';
import { OriginOptions, sshTarget } from '../ssh/origin';
import { progress } from '../util/progress';
import { shq, SshSession } from '../ssh/session';
import { resumableGet } from '../ssh/transfer';
import { DEFAULT_STATE_FILE, StateFile } from '../state/state-file';

export interface PullWebOptions extends OriginOptions {
  /** The site's directory on the origin. */
  readonly path: string;
  /** @default '.' */
  readonly out?: string;
  /** @default DEFAULT_STATE_FILE */
  readonly stateFile?: string;
  readonly restart?: boolean;
  /** @default 5 */
  readonly retries?: number;
  /** @default 1000 */
  readonly retryDelayMs?: number;
  readonly log?: (message: string) => void;
}

export interface PullWebResult {
  readonly archive: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly attempts: number;
  readonly resumedBytes: number;
}

/**
 * Archives the origin's web directory into a temp file there (tar + gzip), hashes it there, and
 * downloads it over SFTP with resume and retry, verified against that hash.
 */
export async function pullWeb(o: PullWebOptions): Promise<PullWebResult> {
  const log = o.log ?? ((m: string) => console.log(m));
  const target = sshTarget(o);
  const remoteSite = o.path.replace(/\/+$/, '');
  if (!remoteSite.startsWith('/'))
    throw new Error(`--path must be an absolute directory on the origin (got "${o.path}")`);
  const outDir = path.resolve(o.out ?? '.');
  fs.mkdirSync(outDir, { recursive: true });
  const archive = path.join(outDir, `${path.posix.basename(remoteSite) || 'site'}.tar.gz`);
  const partFile = `${archive}.part`;
  const op = new StateFile(o.stateFile ?? DEFAULT_STATE_FILE).operation(`pull-web:${o.origin}${remoteSite}`, {
    fresh: o.restart,
  });
  if (o.restart) fs.rmSync(partFile, { force: true });
  const connect = () => SshSession.connect(target);

  const packed = await op.step(
    'archive',
    async () => {
      const s = await connect();
      try {
        const dir = (await s.run('umask 077 && mktemp -d "${TMPDIR:-/tmp}/rushhour-web.XXXXXX"', 'mktemp')).trim();
        const file = `${dir}/site.tar.gz`;
        await s.run(
          `tar -czf ${shq(file)} -C ${shq(path.posix.dirname(remoteSite))} ${shq(path.posix.basename(remoteSite))}`,
          `archiving ${remoteSite}`,
        );
        return {
          remoteDir: dir,
          remoteFile: file,
          sha256: await s.remoteSha256(file),
          bytes: await s.remoteSize(file),
        };
      } finally {
        s.close();
      }
    },
    log,
  );

  const bar = progress(`pull-web ${remoteSite}`);
  let got;
  try {
    got = await resumableGet({
      connect,
      remotePath: String(packed.remoteFile),
      localPath: partFile,
      expectedSha256: String(packed.sha256),
      retries: o.retries,
      retryDelayMs: o.retryDelayMs,
      onProgress: (d, t) => bar.update(d, t),
      log,
    });
  } finally {
    bar.stop();
  }
  fs.renameSync(partFile, archive);
  op.record('download', { archive, sha256: got.sha256, bytes: got.bytes });
  const s = await connect();
  try {
    await s.run(`rm -rf ${shq(String(packed.remoteDir))}`, "removing the origin's temp archive");
  } finally {
    s.close();
  }
  op.finish({ archive, sha256: got.sha256, bytes: got.bytes });
  log(
    `pulled ${remoteSite}: ${archive} (${got.bytes} bytes, sha256 ${got.sha256}, verified on both ends; ${got.attempts} attempt(s))`,
  );
  return { archive, sha256: got.sha256, bytes: got.bytes, attempts: got.attempts, resumedBytes: got.resumedBytes };
}
