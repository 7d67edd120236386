import * as mysql from 'mysql2/promise';
import { DbUnavailableError, isDbUnavailable } from '../../app/db';
import { ConfigError, parseConfig } from '../../lib/config';
import { freePort } from '../../src/local/ports';
import { connectWithRetry } from '../../src/sql/connect';
import { DumpReadError, ImportBusyError, ReimportRefusedError, StatementError } from '../../src/sql/importer';
import { DumpRewriteError } from '../../src/sql/rewrites';
import { DumpSyntaxError } from '../../src/sql/splitter';
import { isTransient, mysqlErrorCode } from '../../src/sql/transient';

test('every error class sets its name (logs and JSON answers show it), and stays an Error', () => {
  const errors: [Error, string][] = [
    [new DumpRewriteError('m', 1), 'DumpRewriteError'],
    [new DumpSyntaxError('m', 1), 'DumpSyntaxError'],
    [new StatementError('m', 1, 'ER_PARSE_ERROR', 1064), 'StatementError'],
    [new ReimportRefusedError('m'), 'ReimportRefusedError'],
    [new ImportBusyError('m'), 'ImportBusyError'],
    [new DumpReadError('m'), 'DumpReadError'],
    [new DbUnavailableError('m'), 'DbUnavailableError'],
    [new ConfigError('m'), 'ConfigError'],
  ];
  for (const [err, name] of errors) {
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe(name);
    expect(String(err)).toBe(`${name}: m`);
  }
});

test('an invalid config throws a ConfigError named so', () => {
  let caught: unknown;
  try {
    parseConfig({}, { baseDir: '/', source: 'test.json' });
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  expect((caught as Error).name).toBe('ConfigError');
});

test('isTransient: connection failures always, lock races unless the caller only reconnects', () => {
  for (const code of ['ECONNREFUSED', 'PROTOCOL_CONNECTION_LOST', 'ER_CON_COUNT_ERROR', 'ER_SERVER_SHUTDOWN']) {
    expect(isTransient({ code })).toBe(true);
    expect(isTransient({ code }, { contention: false })).toBe(true);
  }
  for (const code of ['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']) {
    expect(isTransient({ code })).toBe(true);
    expect(isTransient({ code }, { contention: false })).toBe(false);
  }
  for (const err of [{ code: 'ER_PARSE_ERROR' }, { code: 'ER_DUP_ENTRY' }, new Error('x'), undefined, null, 'str']) {
    expect(isTransient(err)).toBe(false);
  }
  expect(mysqlErrorCode({ code: 42 })).toBeUndefined();
});

test('a real refused connection from mysql2 is transient; the app maps it and a deadlock to "unavailable"', async () => {
  const port = await freePort();
  const err = await mysql.createConnection({ host: '127.0.0.1', port, user: 'x', connectTimeout: 2000 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(mysqlErrorCode(err)).toBe('ECONNREFUSED');
  expect(isTransient(err, { contention: false })).toBe(true);
  expect(isDbUnavailable(err)).toBe(true);
  expect(isDbUnavailable({ code: 'ER_LOCK_DEADLOCK' })).toBe(true);
  expect(isDbUnavailable({ code: 'ER_DUP_ENTRY' })).toBe(false);
});

test('connectWithRetry retries a refused connection until its deadline, then names the attempts', async () => {
  const port = await freePort();
  const lines: string[] = [];
  await expect(
    connectWithRetry(
      { host: '127.0.0.1', port, user: 'x', password: 'p' },
      { retryForMs: 1000, log: (m) => lines.push(m) },
    ),
  ).rejects.toThrow(new RegExp(`cannot connect to MySQL at 127.0.0.1:${port} as x \\(attempt 2\\): ECONNREFUSED`));
  expect(lines).toEqual([`database at 127.0.0.1:${port} not reachable yet (ECONNREFUSED); retrying`]);
});
