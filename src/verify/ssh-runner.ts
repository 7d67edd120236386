import { OriginOptions, originClient } from '../ssh/origin';
import { SshSession } from '../ssh/session';
import { clientRunner, CLIENT_RUNNER_ARGS, QueryRunner } from './runner';

/**
 * The verifier's SQL on the origin: the origin's own `mysql` client, kept running over one SSH exec
 * channel (one session, so one snapshot), logged in with the origin's option file; no DB credential
 * and no port forward leave the origin. Only chunk sums, keys and row hashes come back.
 */
export function sshClientRunner(session: SshSession, o: OriginOptions): Promise<QueryRunner> {
  const command = [originClient(o, 'mysql'), ...CLIENT_RUNNER_ARGS].join(' ');
  return new Promise((resolve, reject) => {
    session.client.exec(command, (err, channel) => {
      if (err) return reject(new Error(`cannot start mysql on the origin: ${err.message}`));
      let exited: number | null | undefined;
      const listeners: Array<(code: number | null) => void> = [];
      const exit = (code: number | null) => {
        if (exited !== undefined) return;
        exited = code;
        for (const l of listeners.splice(0)) l(code);
      };
      channel.on('exit', (code: number | null) => exit(code));
      channel.on('close', () => exit(exited ?? null));
      resolve(
        clientRunner(
          {
            stdin: channel,
            stdout: channel,
            stderr: channel.stderr,
            onExit: (l) => (exited !== undefined ? l(exited) : listeners.push(l)),
            kill: () => channel.close(),
          },
          'origin (mysql over SSH)',
        ),
      );
    });
  });
}
