import { spawn } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import * as mysql from 'mysql2/promise';

/** One result row: every value as text (the verifier asks only for numbers, hex and canonical text), NULL as null. */
export type Row = (string | null)[];

/**
 * Where the verifier's SQL runs: one session on one server, so a transaction started on it (the
 * consistent snapshot) holds for every later query. Two implementations serve the same core: a mysql2
 * connection (verify-data, tests) and a `mysql` client process kept open over stdin/stdout, locally or
 * on the origin over SSH (sync-back), so the origin's DB login never leaves the origin.
 */
export interface QueryRunner {
  /** Runs one statement that returns rows. */
  query(sql: string): Promise<Row[]>;
  /** Runs statements that return no rows (several, separated by `;`). */
  execute(sql: string): Promise<void>;
  close(): Promise<void>;
  /** For messages: which side this is (e.g. `127.0.0.1:3306`, `origin over SSH`). */
  readonly label: string;
}

export class QueryError extends Error {
  override readonly name = 'QueryError';
  constructor(
    message: string,
    readonly side: string,
    readonly sql: string,
  ) {
    super(message);
  }
}

/** A runner over a mysql2 connection: every value comes back as text (or null), whatever its type. */
export function mysql2Runner(conn: mysql.Connection, label: string): QueryRunner {
  const opts = { rowsAsArray: true, typeCast: (field: { string(): string | null }) => field.string() };
  return {
    label,
    async query(sql) {
      try {
        const [rows] = await conn.query({ sql, ...opts } as mysql.QueryOptions);
        return rows as Row[];
      } catch (err) {
        throw new QueryError(`${label}: ${(err as Error).message}`, label, sql.slice(0, 500));
      }
    },
    async execute(sql) {
      try {
        await conn.query(sql);
      } catch (err) {
        throw new QueryError(`${label}: ${(err as Error).message}`, label, sql.slice(0, 500));
      }
    },
    async close() {
      await conn.end().catch(() => conn.destroy());
    },
  };
}

/** Opens a mysql2 connection for the verifier (utf8mb4, several statements per call) and wraps it. */
export async function connectRunner(target: {
  host: string;
  port: number;
  user: string;
  password: string;
  database?: string;
}): Promise<QueryRunner> {
  const conn = await mysql.createConnection({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    charset: 'UTF8MB4_GENERAL_CI',
    multipleStatements: true,
    connectTimeout: 10000,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  });
  return mysql2Runner(conn, `${target.host}:${target.port}`);
}

/** The standard streams of a running `mysql --batch --skip-column-names --unbuffered` client. */
export interface ClientStreams {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Called once when the client process ends. */
  onExit(listener: (code: number | null) => void): void;
  kill(): void;
}

/** Undoes `mysql --batch` escaping of one field (`\t`, `\n`, `\0`, `\\`); the bare word NULL is SQL NULL. */
export function unescapeBatchField(field: string): string | null {
  if (field === 'NULL') return null;
  if (!field.includes('\\')) return field;
  return field.replace(/\\(.)/g, (_m, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c === '0' ? '\0' : c));
}

/**
 * A runner over a `mysql` client kept running: each call writes its SQL and then a marker SELECT, and
 * reads lines up to the marker. The client stops at the first error (batch mode) and its stderr says
 * why; every pending and later call then fails with that message.
 */
export function clientRunner(streams: ClientStreams, label: string): QueryRunner {
  let buffer = '';
  let stderr = '';
  let ended: Error | undefined;
  let seq = 0;
  const waiting: Array<{ marker: string; lines: string[]; resolve(rows: string[]): void; reject(e: Error): void }> = [];
  streams.stdout.setEncoding('utf8');
  streams.stdout.on('data', (d: string) => {
    buffer += d;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const head = waiting[0];
      if (!head) continue;
      if (line === head.marker) {
        waiting.shift();
        head.resolve(head.lines);
      } else head.lines.push(line);
    }
  });
  streams.stderr.setEncoding('utf8');
  streams.stderr.on('data', (d: string) => {
    stderr = (stderr + d).slice(-8192);
  });
  const fail = (err: Error) => {
    ended ??= err;
    for (const w of waiting.splice(0)) w.reject(ended);
  };
  streams.onExit((code) => {
    // The stderr of a failed statement may arrive after the exit: give it a moment.
    setTimeout(
      () => fail(new QueryError(`${label}: the mysql client ended (exit ${code}): ${stderr.trim()}`, label, '')),
      50,
    );
  });
  streams.stdin.on('error', (err) => fail(new QueryError(`${label}: ${err.message}`, label, '')));
  const send = (sql: string): Promise<string[]> => {
    if (ended) return Promise.reject(ended);
    const marker = `#rushhour-verify-end-${++seq}`;
    return new Promise((resolve, reject) => {
      waiting.push({ marker, lines: [], resolve, reject });
      streams.stdin.write(`${sql.replace(/;\s*$/, '')};\nSELECT '${marker}';\n`);
    });
  };
  return {
    label,
    async query(sql) {
      const lines = await send(sql);
      return lines.map((l) => l.split('\t').map(unescapeBatchField));
    },
    async execute(sql) {
      await send(sql);
    },
    async close() {
      if (!ended) {
        streams.stdin.end();
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            streams.kill();
            resolve();
          }, 5000);
          streams.onExit(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
  };
}

/** The arguments that make a `mysql` client usable by `clientRunner`. */
// --skip-reconnect: a silent reconnect would continue outside the snapshot (and outside a repair's transaction).
export const CLIENT_RUNNER_ARGS = [
  '--skip-reconnect',
  '--batch',
  '--skip-column-names',
  '--unbuffered',
  '--default-character-set=utf8mb4',
];

/** A `mysql`/`mariadb` client started here (tests, and an origin reachable only by socket). */
export function spawnClientRunner(bin: string, args: string[], label: string): QueryRunner {
  const child = spawn(bin, [...args, ...CLIENT_RUNNER_ARGS], { stdio: ['pipe', 'pipe', 'pipe'] });
  let exited: number | null | undefined;
  const listeners: Array<(code: number | null) => void> = [];
  child.on('exit', (code) => {
    exited = code;
    for (const l of listeners.splice(0)) l(code);
  });
  return clientRunner(
    {
      stdin: child.stdin,
      stdout: child.stdout,
      stderr: child.stderr,
      onExit: (l) => (exited !== undefined ? l(exited) : listeners.push(l)),
      kill: () => child.kill('SIGKILL'),
    },
    label,
  );
}
