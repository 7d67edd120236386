import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { LocalMariaDb, startMariaDb } from '../../src/local/mariadb';
import { StatementError } from '../../src/sql/importer';
import { splitAll } from '../../src/sql/splitter';
import { buildFixtureSchema, describeDatabase, dumpDatabase, sha256 } from '../sql/fixture';
import { cli, cliTarget, importer, MASTER_PASSWORD } from './support';

/** Issue 16 item 3: no passwords in logs; every failure recorded; the way on after a failure spelled out. */
describe('hostile dumps: what reaches the logs', () => {
  let db: LocalMariaDb;
  let dump: Buffer;
  let expected: Record<string, string[]>;
  let dir: string;
  const run = importer(() => db);
  const progress = (database: string) =>
    db.sql(`SELECT status, IFNULL(error, 'NULL') FROM \`${database}\`.rushhour_import_progress`).trim();

  /** The dump with `sql` before its trailer. */
  const withAtEnd = (sql: Buffer | string) => {
    const at = dump.lastIndexOf('\n-- Dump completed');
    return Buffer.concat([dump.subarray(0, at + 1), Buffer.from(sql), Buffer.from('\n'), dump.subarray(at + 1)]);
  };

  beforeAll(async () => {
    db = await startMariaDb();
    db.createRdsLikeMaster('master', MASTER_PASSWORD);
    buildFixtureSchema(db, 'origin', 100);
    dump = dumpDatabase(db, 'origin');
    expected = describeDatabase(db, 'origin');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-hostile-logs-'));
  });
  afterAll(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await db?.stop();
  });

  test('a failing statement with a secret in it: redacted in the error, the progress table and stderr; offset kept', async () => {
    // The server's own message quotes the statement ("near 'TABEL ... 'hunter2...''"): it is redacted too.
    const data = withAtEnd("CREATE TABEL vault COMMENT 'hunter2-in-ddl';");
    const offset = data.indexOf('CREATE TABEL vault');
    const err = await run('secret_ddl', data).catch((e) => e);
    expect(err).toBeInstanceOf(StatementError);
    expect(err.offset).toBe(offset);
    expect(err.message).toContain(`statement at byte offset ${offset}`);
    expect(err.message).toContain("statement: CREATE TABEL vault COMMENT '…'");
    expect(err.message).toMatch(/ER_PARSE_ERROR \(1064\).*near 'TABEL vault COMMENT '…''/);
    expect(err.message).not.toContain('hunter2');
    expect(progress('secret_ddl')).toMatch(/^failed\t.*ER_PARSE_ERROR/);
    expect(progress('secret_ddl')).not.toContain('hunter2');

    // An account statement the operator allowed, failing at the server: its password stays out of the logs.
    const alter = withAtEnd("ALTER USER 'nobody'@'%' IDENTIFIED BY 'hunter2-in-alter';");
    const logs: string[] = [];
    const err2 = await run('secret_user', alter, { allowStatements: ['account'], logs }).catch((e) => e);
    expect(err2).toBeInstanceOf(StatementError);
    expect(err2.message).toContain("statement: ALTER USER '…'@'…' IDENTIFIED BY '…'");
    expect(err2.message + logs.join('\n') + progress('secret_user')).not.toContain('hunter2');

    const file = path.join(dir, 'secret.sql');
    fs.writeFileSync(file, data);
    const r = cli(['import-dump', '--dump', file, ...cliTarget(db, 'secret_cli')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`statement at byte offset ${offset}`);
    expect(r.stderr + r.stdout).not.toContain('hunter2');
    expect(progress('secret_cli')).not.toContain('hunter2');
  });

  test('a failing statement whose bytes are not UTF-8 still marks the progress row failed, with the error', async () => {
    // The dump said SET NAMES utf8mb4; the server's message quotes the bytes back.
    const data = withAtEnd(
      Buffer.concat([Buffer.from('CREATE TABEL '), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(' (a INT);')]),
    );
    const err = await run('not_utf8', data).catch((e) => e);
    expect(err).toBeInstanceOf(StatementError);
    const [status, error] = progress('not_utf8').split('\t');
    expect(status).toBe('failed');
    expect(error).toMatch(/statement at byte offset \d+ .*ER_PARSE_ERROR/);
  });

  test('after a failure mid-import the message says how to go on: resume with --dump-hash, or start over', async () => {
    const victim = splitAll(dump).find((s) => s.sql.toString().startsWith('CREATE TABLE `students`'))!;
    const broken = Buffer.from(dump);
    broken.write('CREATE TABEL', victim.startOffset, 'latin1');
    const brokenFile = path.join(dir, 'broken.sql.gz');
    const fixedFile = path.join(dir, 'fixed.sql.gz');
    fs.writeFileSync(brokenFile, zlib.gzipSync(broken));
    fs.writeFileSync(fixedFile, zlib.gzipSync(dump));
    const brokenHash = sha256(fs.readFileSync(brokenFile));

    const failed = cli(['import-dump', '--dump', brokenFile, ...cliTarget(db, 'resumed')]);
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain(
      `rushhour resume-import --dump FIXED.sql.gz --database resumed --dump-hash ${brokenHash}`,
    );
    expect(failed.stderr).toMatch(/to start over, drop database "resumed"/);
    // The fixed file has another sha256: a plain import is refused, and the refusal says the same.
    const refused = cli(['import-dump', '--dump', fixedFile, ...cliTarget(db, 'resumed')]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/already holds an import of another dump/);
    expect(refused.stderr).toContain(`--dump-hash ${brokenHash}`);
    // Following the advice works.
    const resumed = cli(['resume-import', '--dump', fixedFile, ...cliTarget(db, 'resumed'), '--dump-hash', brokenHash]);
    expect(resumed.stderr).toMatch(/imported/);
    expect(resumed.status).toBe(0);
    expect(describeDatabase(db, 'resumed')).toEqual(expected);
  });

  test('a truncated .sql.gz is found before anything runs; the complete file (another sha256) then imports', () => {
    const gz = zlib.gzipSync(dump);
    const cut = path.join(dir, 'cut.sql.gz');
    const whole = path.join(dir, 'whole.sql.gz');
    fs.writeFileSync(cut, gz.subarray(0, Math.floor(gz.length * 0.7)));
    fs.writeFileSync(whole, gz);
    const r = cli(['import-dump', '--dump', cut, ...cliTarget(db, 'regz')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /gzip stream ends early .* truncated .*nothing was imported; get a complete copy of the dump and run again/,
    );
    expect(cli(['import-dump', '--dump', whole, ...cliTarget(db, 'regz')]).status).toBe(0);
    expect(describeDatabase(db, 'regz')).toEqual(expected);
  });
});
