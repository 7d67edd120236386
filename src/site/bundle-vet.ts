import * as fs from 'node:fs';
import {
  BundleEntry,
  BundleIndex,
  BundleRule,
  CONTENT_HEAD_BYTES,
  CONTENT_RULES,
  ContentRule,
  ENTRY_RULES,
  Finding,
  normaliseEntryPath,
} from './bundle-rules';
import { rewriteTarGzModes, scanTarGz, scanTarGzSync, TarEntry, TarScanEvents } from './tar-scan';

/** The outcome of vetting one bundle: every finding, and the modes to give the entries to normalise. */
export interface VetReport {
  readonly entries: number;
  readonly refusals: readonly Finding[];
  readonly normalisations: readonly Finding[];
  readonly warnings: readonly Finding[];
  /** Entry name as stored -> the mode it gets once normalised. */
  readonly modes: ReadonlyMap<string, number>;
}

/** A bundle with entries that must not reach an instance. */
export class BundleRefusedError extends Error {
  override readonly name = 'BundleRefusedError';
  constructor(
    /** What was vetted: the origin's directory, a local archive. */
    readonly bundle: string,
    readonly findings: readonly Finding[],
    hint: string,
  ) {
    super(
      `${bundle}: refused, ${findings.length} entr${findings.length === 1 ? 'y' : 'ies'} must not reach an instance:\n${formatFindings(findings)}\n${hint}`,
    );
  }
}

/** One line per entry: `  path: message; message [rule, rule]`. */
export function formatFindings(findings: readonly Finding[]): string {
  const byPath = new Map<string, Finding[]>();
  for (const f of findings) byPath.set(f.path, [...(byPath.get(f.path) ?? []), f]);
  return [...byPath]
    .map(([p, fs_]) => `  ${p}: ${fs_.map((f) => f.message).join('; ')} [${fs_.map((f) => f.rule).join(', ')}]`)
    .join('\n');
}

interface Stored {
  readonly entry: BundleEntry;
  /** The name as stored in the archive (what a mode rewrite keys on). */
  readonly stored: string;
}

function toBundleEntry(e: TarEntry): BundleEntry {
  return {
    path: normaliseEntryPath(e.path),
    type: e.type,
    mode: e.mode,
    size: e.size,
    ...(e.linkTarget !== undefined ? { linkTarget: e.linkTarget } : {}),
  };
}

/**
 * Runs the rules over a whole bundle. Pure: `contentFindings` are those the content rules gave while the
 * data streamed past (see `contentCollector`).
 */
export function vetEntries(
  entries: readonly BundleEntry[],
  options: {
    rules?: readonly BundleRule[];
    contentFindings?: readonly Finding[];
    /** Stored names, parallel to `entries`, when they differ from the normalised ones. */
    storedNames?: readonly string[];
  } = {},
): VetReport {
  const index = new Map<string, BundleEntry>();
  for (const e of entries) index.set(e.path, e);
  const bundle: BundleIndex = { entryAt: (p) => index.get(p) };
  const all: Finding[] = [];
  const modes = new Map<string, number>();
  entries.forEach((e, i) => {
    const found = (options.rules ?? ENTRY_RULES).flatMap((r) => r.check(e, bundle));
    all.push(...found);
    const strip = found.reduce((m, f) => m | (f.action === 'normalise' ? (f.strip ?? 0) : 0), 0);
    if (strip) modes.set(options.storedNames?.[i] ?? e.path, e.mode & ~strip);
  });
  all.push(...(options.contentFindings ?? []));
  return {
    entries: entries.length,
    refusals: all.filter((f) => f.action === 'refuse'),
    normalisations: all.filter((f) => f.action === 'normalise'),
    warnings: all.filter((f) => f.action === 'warn'),
    modes,
  };
}

/** Scan events that collect the entries and run the content rules on each regular file's first bytes. */
function collector(rules: readonly ContentRule[] = CONTENT_RULES): {
  events: TarScanEvents;
  finish(): VetReport;
} {
  const stored: Stored[] = [];
  const contentFindings: Finding[] = [];
  let head: Buffer[] = [];
  let headBytes = 0;
  return {
    events: {
      onEntry(e) {
        stored.push({ entry: toBundleEntry(e), stored: e.path });
        head = [];
        headBytes = 0;
      },
      onData(_e, chunk) {
        if (headBytes >= CONTENT_HEAD_BYTES) return;
        const part = chunk.subarray(0, CONTENT_HEAD_BYTES - headBytes);
        head.push(Buffer.from(part));
        headBytes += part.length;
      },
      onEntryEnd(e) {
        if (e.type === 'file') {
          const entry = stored[stored.length - 1].entry;
          const data = Buffer.concat(head);
          contentFindings.push(...rules.flatMap((r) => r.check(entry, data)));
        }
        head = [];
      },
    },
    finish: () =>
      vetEntries(
        stored.map((s) => s.entry),
        { contentFindings, storedNames: stored.map((s) => s.stored) },
      ),
  };
}

/** Vets a `.tar.gz` (streamed). */
export async function vetTarball(file: string): Promise<VetReport> {
  const c = collector();
  await scanTarGz(file, c.events);
  return c.finish();
}

/** Vets a `.tar.gz` synchronously, for `cdk synth`. */
export function vetTarballSync(file: string): VetReport {
  const c = collector();
  scanTarGzSync(file, c.events);
  return c.finish();
}

/**
 * Accepts a pulled archive: refuses it (deleting nothing, so it can be inspected) when an entry must not
 * reach an instance, writes `dest` with normalised modes when some entry needs it (every other byte
 * kept), or moves it to `dest` as it is. Warnings go to `log`, one per file.
 */
export async function acceptTarball(
  file: string,
  dest: string,
  log: (m: string) => void,
): Promise<VetReport & { readonly repacked: boolean }> {
  const report = await vetTarball(file);
  if (report.refusals.length)
    throw new BundleRefusedError(
      file,
      report.refusals,
      'Exclude them (--exclude or .rushhourignore) or fix them on the origin, then pull again.',
    );
  for (const line of formatFindings(report.normalisations).split('\n').filter(Boolean))
    log(`normalised:${line.slice(1)}`);
  for (const line of formatFindings(report.warnings).split('\n').filter(Boolean))
    log(`warning: may hold credentials, check before it is served:${line.slice(1)}`);
  if (report.modes.size) {
    const tmp = `${dest}.normalising`;
    await rewriteTarGzModes(file, tmp, report.modes);
    fs.renameSync(tmp, dest);
    fs.rmSync(file, { force: true });
  } else fs.renameSync(file, dest);
  return { ...report, repacked: report.modes.size > 0 };
}
