/** A snapshot of an import's progress, for logs and progress bars. */
export interface ImportProgress {
  /** Bytes of the dump file read (compressed bytes for a .gz). */
  readonly bytesRead: number;
  /** Size of the dump file, when known. */
  readonly totalBytes?: number;
  /** Offset reached in the uncompressed dump (statements before it are committed). */
  readonly offset: number;
  readonly statements: number;
  /** Statements skipped because an earlier run committed them. */
  readonly resumedFrom: number;
  readonly elapsedMs: number;
  /** File bytes per second in this run (since the resume point). */
  readonly bytesPerSecond: number;
  /** Estimated time left, when the total is known and the rate is measurable. */
  readonly etaMs?: number;
  readonly phase: 'skipping' | 'importing' | 'done';
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${n.toFixed(u ? 1 : 0)} ${units[u]}`;
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** One log line: `import: 41.0% 120.3 MiB / 293.1 MiB, 2301 statements, 12.1 MiB/s, ETA 14s`. */
export function formatProgress(p: ImportProgress): string {
  const pct = p.totalBytes ? `${((100 * p.bytesRead) / p.totalBytes).toFixed(1)}% ` : '';
  const total = p.totalBytes ? ` / ${formatBytes(p.totalBytes)}` : '';
  const eta = p.etaMs !== undefined ? `, ETA ${formatDuration(p.etaMs)}` : '';
  const what = p.phase === 'skipping' ? 'skipping already imported part' : p.phase === 'done' ? 'done' : 'importing';
  return `import (${what}): ${pct}${formatBytes(p.bytesRead)}${total}, ${p.statements} statements, ${formatBytes(p.bytesPerSecond)}/s${eta}`;
}
