import { Readable } from 'node:stream';
import { shq, SshSession } from '../ssh/session';
import { ExcludeMatcher, IGNORE_FILE } from './bundle-ignore';
import { BundleEntry, BundleEntryType } from './bundle-rules';
import { BundleRefusedError, vetEntries } from './bundle-vet';

/**
 * pull-web's origin side: list the site directory, apply the excludes there, refuse what must not reach an
 * instance before anything is packed, and pack exactly the kept entries with the directory's contents
 * at the archive root. Needs GNU find and GNU tar on the origin (any Linux web server has both).
 */

const FIND_TYPES: Record<string, BundleEntryType> = {
  f: 'file',
  d: 'dir',
  l: 'symlink',
  b: 'device',
  c: 'device',
  p: 'fifo',
  s: 'socket',
};

/** Parses `find -printf '%y\0%m\0%s\0%l\0%P\0'` (NUL-separated, so any name survives). */
export function parseFindListing(out: string): BundleEntry[] {
  const f = out.split('\0');
  const entries: BundleEntry[] = [];
  for (let i = 0; i + 5 <= f.length; i += 5) {
    const [y, m, s, l, p] = f.slice(i, i + 5);
    entries.push({
      path: p,
      type: FIND_TYPES[y] ?? 'other',
      mode: parseInt(m, 8) & 0o7777,
      size: y === 'f' ? Number(s) : 0,
      ...(y === 'l' ? { linkTarget: l } : {}),
    });
  }
  return entries;
}

export interface SitePlan {
  /** Entries to pack, in `find`'s order (parents first). */
  readonly kept: readonly BundleEntry[];
  readonly excluded: readonly { readonly entry: BundleEntry; readonly by: string }[];
}

/**
 * Lists the site directory on the origin and applies the default excludes, the site's `.rushhourignore`
 * and `excludes`. Throws BundleRefusedError naming every kept entry a rule refuses.
 */
export async function planSitePack(
  s: SshSession,
  siteDir: string,
  excludes: readonly string[],
  log: (m: string) => void,
): Promise<SitePlan> {
  const ignorePath = `${siteDir}/${IGNORE_FILE}`;
  const ignore = await s.run(`if [ -f ${shq(ignorePath)} ]; then cat ${shq(ignorePath)}; fi`, `reading ${ignorePath}`);
  // -H: the site path itself may be a symlink (/var/www/html -> /srv/site); links inside it are listed, not followed.
  const listing = await s.run(
    `find -H ${shq(siteDir)} -mindepth 1 -printf '%y\\0%m\\0%s\\0%l\\0%P\\0'`,
    `listing ${siteDir}`,
  );
  const { kept, excluded } = ExcludeMatcher.forSite(ignore || undefined, excludes).apply(parseFindListing(listing));
  const top = excluded.filter(
    (x) => !excluded.some((y) => y.entry.type === 'dir' && x.entry.path.startsWith(`${y.entry.path}/`)),
  );
  for (const x of top) log(`excluded ${x.entry.path}${x.entry.type === 'dir' ? '/' : ''} (${x.by})`);
  const report = vetEntries(kept);
  if (report.refusals.length)
    throw new BundleRefusedError(
      `${s.target.host}:${siteDir}`,
      report.refusals,
      `Exclude them (--exclude PATTERN or a line in ${siteDir}/${IGNORE_FILE}) or fix them on the origin.`,
    );
  return { kept, excluded };
}

/**
 * Packs the planned entries into `file` on the origin. The names go to tar on stdin, NUL-separated and
 * verbatim (a name starting with `-` stays a name), without recursion, so the archive holds exactly what
 * was vetted; `-C siteDir` puts the directory's contents at the root. Owners are recorded as 0: the
 * origin's users mean nothing on an instance.
 */
export async function packSiteOnOrigin(s: SshSession, siteDir: string, plan: SitePlan, file: string): Promise<void> {
  const names = plan.kept.map((e) => `${e.path}\0`).join('');
  const r = await s.exec(
    `tar -czf ${shq(file)} -C ${shq(siteDir)} --numeric-owner --owner=0 --group=0 --no-recursion --verbatim-files-from --null -T -`,
    { stdin: Readable.from([Buffer.from(names, 'utf8')]) },
  );
  if (r.code !== 0)
    throw new Error(`archiving ${siteDir} failed on the origin (exit ${r.code ?? r.signal}): ${r.stderr.trim()}`);
}
