import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readPullRecord } from '../../src/origin/pull-record';
import { PersistedJsonError } from '../../src/state/persisted';
import { StateFile } from '../../src/state/state-file';

/** Persisted JSON is parsed by schema: a damaged file fails with a typed error naming the wrong fields. */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-persisted-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function thrown(fn: () => unknown): PersistedJsonError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PersistedJsonError);
    return err as PersistedJsonError;
  }
  throw new Error('expected a PersistedJsonError');
}

test('a state file of another version or shape is refused with the fields that are wrong', () => {
  const file = path.join(dir, 'state.json');
  fs.writeFileSync(file, JSON.stringify({ version: 2, operations: { a: { key: 'a', steps: {} } } }));
  const err = thrown(() => new StateFile(file).list());
  expect(err.name).toBe('PersistedJsonError');
  expect(err.source).toBe(file);
  expect(err.issues.join('\n')).toMatch(/^version: unknown format/m);
  expect(err.issues.join('\n')).toMatch(/^operations\.a\.startedAt: /m);
  expect(err.message).toMatch(/the state file .* is unreadable \(.*\); move it aside to start over/);
});

test('a state file that is not JSON names the parse error', () => {
  const file = path.join(dir, 'broken.json');
  fs.writeFileSync(file, '{"version": 1, "operations": {');
  const err = thrown(() => new StateFile(file).operation('pull-db:x'));
  expect(err.issues).toEqual([]);
  expect(err.message).toMatch(/unreadable \(.*JSON.*\); move it aside/);
});

test('a pull record with a bad checksum table or hash is refused', () => {
  const file = path.join(dir, 'courses.checksums.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      origin: 'ops@origin:22',
      database: 'courses',
      pulledAt: '2026-12-01T00:00:00Z',
      dumpFile: '/data/courses.sql.gz',
      dumpSha256: 'not-a-hash',
      dumpBytes: 10,
      tables: { courses: { checksum: 123, rows: 4 } },
    }),
  );
  const err = thrown(() => readPullRecord(file));
  expect(err.what).toMatch(/^pull record/);
  expect(err.issues).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^dumpSha256: /),
      expect.stringMatching(/^tables\.courses\.checksum: /),
    ]),
  );
  expect(() => readPullRecord(path.join(dir, 'absent.json'))).toThrow(/cannot read the pull record/);
});
