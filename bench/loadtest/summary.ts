/**
 * Benchmark: how fast the runner turns k6's raw JSON output into its summary, against the plain baseline of
 * JSON.parse on every line (what any reader of `--out json` has to beat), in the same run.
 * The input is real k6 output (test/loadtest/fixtures, a rush run against the app) repeated with shifted times
 * until it holds REQUESTS requests, written gzip-compressed as k6 writes `--out json=FILE.gz`.
 * Run: npx tsx bench/loadtest/summary.ts [REQUESTS]   (default 200000; a 10-minute rush at 4,000/s is 2.4 million)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as zlib from 'node:zlib';
import { analyzeK6Output } from '../../loadtest/lib/summary';

const FIXTURE = path.join(__dirname, '..', '..', 'test', 'loadtest', 'fixtures', 'rush-k6-points.json.gz');

function makeInput(requests: number, file: string): number {
  const lines = zlib.gunzipSync(fs.readFileSync(FIXTURE)).toString('utf8').split('\n').filter(Boolean);
  const points = lines.filter((l) => l.startsWith('{"metric"'));
  const perCopy = points.filter(
    (l) => l.startsWith('{"metric":"http_req_duration"') && l.includes('"scenario"') && !l.includes('"group":"::'),
  ).length;
  const copies = Math.ceil(requests / perCopy);
  const out = zlib.createGzip({ level: 1 });
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  let written = 0;
  for (let c = 0; c < copies; c++) {
    const shiftMs = c * 10000;
    const text =
      points
        .map((l) =>
          l.replace(/"time":"([^"]+)"/, (_, t: string) => {
            const ms = Date.parse(t.replace(/(\.\d{3})\d+/, '$1')) + shiftMs;
            return `"time":"${new Date(ms).toISOString()}"`;
          }),
        )
        .join('\n') + '\n';
    out.write(text);
    written += points.length;
  }
  out.end();
  return new Promise<number>((resolve) =>
    out.on('end', () => {
      fs.writeFileSync(file, Buffer.concat(chunks));
      resolve(written);
    }),
  ) as unknown as number;
}

async function baseline(file: string): Promise<number> {
  const lines = readline.createInterface({
    input: fs.createReadStream(file).pipe(zlib.createGunzip()),
    crlfDelay: Infinity,
  });
  let n = 0;
  for await (const line of lines) if (line && JSON.parse(line).type === 'Point') n += 1;
  return n;
}

async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T; heapMb: number }> {
  global.gc?.();
  const start = process.hrtime.bigint();
  const value = await fn();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { ms, value, heapMb: process.memoryUsage().heapUsed / 2 ** 20 };
}

async function main(): Promise<void> {
  const requests = Number(process.argv[2] ?? 200000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-bench-k6-'));
  const file = path.join(dir, 'points.json.gz');
  try {
    const lines = await makeInput(requests, file);
    console.log(
      `input: ${lines.toLocaleString()} k6 points, ${(fs.statSync(file).size / 2 ** 20).toFixed(1)} MiB gzip`,
    );
    const base = await time(() => baseline(file));
    const ours = await time(() => analyzeK6Output(file, { p95ThresholdMs: 20 }));
    console.log(
      `baseline (JSON.parse every line): ${base.ms.toFixed(0)} ms, ${(base.value / (base.ms / 1000)).toFixed(0)} points/s`,
    );
    console.log(
      `analyzeK6Output (full summary):   ${ours.ms.toFixed(0)} ms for ${ours.value.requests.toLocaleString()} requests, ` +
        `${(ours.value.requests / (ours.ms / 1000)).toFixed(0)} requests/s, heap ${ours.heapMb.toFixed(0)} MiB`,
    );
    console.log(`ratio: ${(base.ms / ours.ms).toFixed(2)}x the baseline's speed (higher is better)`);
  } finally {
    if (!process.env.KEEP) fs.rmSync(dir, { recursive: true, force: true });
    else console.log(file);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
