import * as fs from 'node:fs';
import * as path from 'node:path';
import { Transform } from 'node:stream';
import { diffStats, OriginOptions, originClient, originTableStats, sshTarget } from '../ssh/origin';
import { progress } from '../util/progress';
import { shq, SshSession } from '../ssh/session';
import { sha256File } from '../util/sha256';
import { resumableGet } from '../ssh/transfer';
import { isSshError, SshError } from '../ssh/errors';
import { DEFAULT_STATE_FILE, StateFile } from '../state/state-file';
import { createPrivateWriteStream } from '../util/private-file';
import { checksumsFileFor, PullRecord, writePullRecord } from './pull-record';

export interface PullDbOptions extends OriginOptions {
  readonly database: string;
  /** @default '.' */
  readonly out?: string;
  /** @default DEFAULT_STATE_FILE */
  readonly stateFile?: string;
  /** Start over instead of resuming an unfinished pull. */
  readonly restart?: boolean;
  readonly log?: (message: string) => void;
}

export { checksumsFileFor };
export type { PullRecord };

/**
 * Dumps the origin's database over SSH with a consistent snapshot, compressed on the origin, into
 * `<out>/<database>.sql.gz`, verified by sha256 on both ends, and records the origin's table checksums.
 *
 * The dump is streamed to us and, through `tee`, into a temp file on the origin: the remote
 * `sha256sum` of that file is the hash of exactly the bytes sent, and if the connection drops the
 * transfer resumes from that file over SFTP instead of dumping again.
 */
export async function pullDb(o: PullDbOptions): Promise<PullRecord> {
  const log = o.log ?? ((m: string) => console.log(m));
  const target = sshTarget(o);
  const outDir = path.resolve(o.out ?? '.');
  fs.mkdirSync(outDir, { recursive: true });
  const dumpFile = path.join(outDir, `${o.database}.sql.gz`);
  const partFile = `${dumpFile}.part`;
  const state = new StateFile(o.stateFile ?? DEFAULT_STATE_FILE);
  const op = state.operation(`pull-db:${o.origin}/${o.database}`, { fresh: o.restart });
  const connect = () => SshSession.connect(target);

  let session = await connect();
  try {
    const before = await op.step(
      'checksums-before',
      async () => ({ tables: await originTableStats(session, o, o.database) }),
      log,
    );
    if (Object.keys(before.tables).length === 0)
      throw new Error(`database ${o.database} on the origin has no tables (wrong --database or DB login?)`);
    const { remoteDir } = await op.step(
      'remote-temp',
      async () => ({
        remoteDir: (
          await session.run('umask 077 && mktemp -d "${TMPDIR:-/tmp}/rushhour-pull.XXXXXX"', 'mktemp')
        ).trim(),
      }),
      log,
    );
    const remoteDump = `${remoteDir}/dump.sql.gz`;
    const remoteStatus = `${remoteDir}/dump.status`;

    const dumped = await op.step(
      'dump',
      async () => {
        if (fs.existsSync(partFile) && fs.statSync(partFile).size > 0) {
          log(`an earlier dump was interrupted: resuming from ${remoteDump} on the origin`);
        } else {
          fs.rmSync(partFile, { force: true });
          const dump =
            `${originClient(o, 'mysqldump')} --single-transaction --quick --routines --triggers --events --hex-blob ` +
            `--default-character-set=utf8mb4 ${shq(o.database)}`;
          // tee -p keeps writing the origin's copy if our side of the pipe breaks (it ignores SIGPIPE).
          const script = `set -o pipefail; ${dump} | gzip -c | tee -p ${shq(remoteDump)}; echo $? > ${shq(remoteStatus)}`;
          const bar = progress(`pull-db ${o.database}`);
          const local = createPrivateWriteStream(partFile); // the dump holds the site's data
          let bytes = 0;
          const counter = new Transform({
            transform(chunk: Buffer, _e, cb) {
              bytes += chunk.length;
              bar.update(bytes, 0);
              cb(null, chunk);
            },
          });
          counter.pipe(local);
          try {
            const r = await session.exec(`bash -c ${shq(script)}`, { stdout: counter });
            counter.end();
            await new Promise<void>((res) => local.once('close', () => res()));
            if (r.code !== 0) {
              throw new SshError(
                'remote-command',
                `mysqldump failed on the origin (exit ${r.code ?? r.signal}): ${r.stderr.trim() || '(no message)'}`,
                { ...session.where, command: 'mysqldump', exitCode: r.code, signal: r.signal, stderr: r.stderr },
              );
            }
          } catch (err) {
            // The dump goes on on the origin (tee -p): only a lost connection is worth waiting for.
            if (!isSshError(err, 'connection-lost')) throw err;
            counter.end();
            log(`the connection dropped after ${bytes} bytes; the dump continues on the origin`);
          } finally {
            bar.stop();
          }
        }
        // Wait for the origin's dump to finish (it does even when our connection dropped).
        if (session.isClosed) session = await connect();
        for (let i = 0; ; i++) {
          const status = (await session.exec(`cat ${shq(remoteStatus)} 2>/dev/null`)).stdoutText.trim();
          if (status === '0') break;
          if (status)
            throw new Error(
              `mysqldump failed on the origin (status ${status}); see the origin's MySQL error log, then rerun with --restart`,
            );
          if (i > 3600)
            throw new Error(`the dump on the origin did not finish within an hour (${remoteStatus} is still absent)`);
          await new Promise((r) => setTimeout(r, 1000));
        }
        const remoteSha = await session.remoteSha256(remoteDump);
        const localSha = await sha256File(partFile);
        if (localSha !== remoteSha) {
          const bar = progress(`pull-db ${o.database} (resume)`);
          try {
            await resumableGet({
              connect,
              remotePath: remoteDump,
              localPath: partFile,
              expectedSha256: remoteSha,
              onProgress: (d, t) => bar.update(d, t),
              log,
            });
          } finally {
            bar.stop();
          }
        }
        fs.renameSync(partFile, dumpFile);
        return { sha256: remoteSha, bytes: fs.statSync(dumpFile).size };
      },
      log,
    );
    if (session.isClosed) session = await connect();

    const after = await originTableStats(session, o, o.database);
    const changed = diffStats(before.tables, after);
    if (changed.length > 0) {
      state.update(op.key, (s) => {
        delete s.steps['checksums-before'];
        delete s.steps.dump;
        delete s.steps['remote-temp'];
      });
      await session.run(`rm -rf ${shq(remoteDir)}`, "removing the origin's temp dump");
      throw new Error(
        `the origin changed while it was dumped (tables ${changed.join(', ')}): the dump is consistent, but the recorded ` +
          "checksums would not match it. Stop the site's writers (maintenance mode) and rerun pull-db.",
      );
    }
    const record: PullRecord = {
      origin: o.origin,
      database: o.database,
      pulledAt: new Date().toISOString(),
      dumpFile,
      dumpSha256: String(dumped.sha256),
      dumpBytes: Number(dumped.bytes),
      tables: after,
    };
    const checksumsFile = checksumsFileFor(dumpFile);
    writePullRecord(checksumsFile, record);
    await session.run(`rm -rf ${shq(remoteDir)}`, "removing the origin's temp dump");
    op.finish({
      dumpFile,
      checksumsFile,
      sha256: record.dumpSha256,
      bytes: record.dumpBytes,
      tables: Object.keys(after).length,
    });
    log(
      `pulled ${o.database}: ${dumpFile} (${record.dumpBytes} bytes, sha256 ${record.dumpSha256}, verified on both ends); ` +
        `checksums of ${Object.keys(after).length} tables in ${checksumsFile}`,
    );
    return record;
  } finally {
    session.close();
  }
}
