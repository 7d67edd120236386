import * as fs from 'node:fs';
import * as path from 'node:path';
import { packSiteOnOrigin, planSitePack } from '../site/bundle-origin';
import { acceptTarball } from '../site/bundle-vet';
import { OriginOptions, sshTarget } from '../ssh/origin';
import { sha256File } from '../util/sha256';
import { progress } from '../util/progress';
import { shq, SshSession } from '../ssh/session';
import { resumableGet } from '../ssh/transfer';
import { DEFAULT_STATE_FILE, StateFile } from '../state/state-file';

export interface PullWebOptions extends OriginOptions {
  /** The site's directory on the origin. */
  readonly path: string;
  /** Exclude patterns (gitignore-like, see docs/site.md), after the site's `.rushhourignore`. @default [] */
  readonly exclude?: readonly string[];
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
  /** Entries whose mode was normalised (setuid/setgid/sticky, o+w stripped), and files that may hold credentials. */
  readonly normalised: readonly string[];
  readonly warnings: readonly string[];
}

/**
 * Archives the origin's web directory into a temp file there (tar + gzip; its contents at the root, excludes
 * applied, refused entries stopped before packing), hashes it there, downloads it over SFTP with resume and
 * retry, verified against that hash, and vets the archive itself (src/site/bundle-vet.ts) before accepting it.
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
        // Excludes applied and refused entries stopped before anything is written on the origin.
        const plan = await planSitePack(s, remoteSite, o.exclude ?? [], log);
        const dir = (await s.run('umask 077 && mktemp -d "${TMPDIR:-/tmp}/rushhour-web.XXXXXX"', 'mktemp')).trim();
        const file = `${dir}/site.tar.gz`;
        await packSiteOnOrigin(s, remoteSite, plan, file); // the site's contents at the archive root
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
  // The archive as tar will see it on an instance: refused, normalised (repacked) or accepted.
  // The archive may hold the site's credentials (wp-config.php, .env): its .part and the repacked copy are 0600.
  const vetted = await acceptTarball(partFile, archive, log);
  if (vetted.repacked) got = { ...got, sha256: await sha256File(archive), bytes: fs.statSync(archive).size };
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
  return {
    archive,
    sha256: got.sha256,
    bytes: got.bytes,
    attempts: got.attempts,
    resumedBytes: got.resumedBytes,
    normalised: [...new Set(vetted.normalisations.map((f) => f.path))],
    warnings: [...new Set(vetted.warnings.map((f) => f.path))],
  };
}
