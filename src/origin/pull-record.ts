import { z } from 'zod';
import { TableStat } from '../ssh/origin';
import { readPersistedJson } from '../state/persisted';
import { writePrivateFileSync } from '../util/private-file';

export const TableStatSchema = z.object({ checksum: z.string().nullable(), rows: z.number().int().nonnegative() });

/** What pull-db writes beside the dump (`<db>.checksums.json`) and sync-back reads. */
export const PullRecordSchema = z.object({
  origin: z.string().min(1),
  database: z.string().min(1),
  pulledAt: z.string().min(1),
  dumpFile: z.string().min(1),
  dumpSha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 in hex'),
  dumpBytes: z.number().int().nonnegative(),
  tables: z.record(z.string(), TableStatSchema),
});
export interface PullRecord extends z.infer<typeof PullRecordSchema> {
  readonly tables: Record<string, TableStat>;
}

export const checksumsFileFor = (dumpFile: string) => dumpFile.replace(/\.sql\.gz$/, '') + '.checksums.json';

export function writePullRecord(file: string, record: PullRecord): void {
  // Checksums and row counts of the site's tables: as private as the dump they describe.
  writePrivateFileSync(file, JSON.stringify(record, null, 2) + '\n');
}

export function readPullRecord(file: string): PullRecord {
  return readPersistedJson(file, PullRecordSchema, 'pull record (the <db>.checksums.json pull-db writes)');
}
