import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExportStore } from '../sql/export';

/** An ExportStore in a local directory (tests, bench): the interface the Lambda's S3 edge implements. */
export function dirStore(dir: string): ExportStore {
  return {
    async put(key, body) {
      fs.mkdirSync(path.dirname(path.join(dir, key)), { recursive: true });
      fs.writeFileSync(path.join(dir, key), body);
    },
    async get(key) {
      const f = path.join(dir, key);
      return fs.existsSync(f) ? fs.readFileSync(f) : undefined;
    },
  };
}
