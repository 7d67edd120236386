/**
 * Excludes for a site bundle: `--exclude` patterns and a `.rushhourignore` at the site's root, in a
 * documented subset of gitignore's syntax (docs/site.md, "What goes into the bundle"). A small matcher of
 * our own: the npm `ignore` package is only a development dependency of ESLint here, not something the
 * CLI may rely on.
 *
 * - one pattern per line; blank lines and lines starting with `#` are skipped; `\#` and `\!` escape;
 * - `!pattern` re-includes what an earlier pattern excluded (the last matching pattern wins), but not
 *   inside an excluded directory: an excluded directory is never looked into;
 * - a trailing `/` matches directories only;
 * - a pattern with a `/` at the start or in the middle is anchored at the site root; otherwise it matches
 *   a name at any depth;
 * - `*` matches anything but `/`, `?` one character but `/`, `[...]` a class (`[!...]` negated);
 *   `**` matches across directories (`**\/x`, `a/**`, `a/**\/b`).
 */

/** Excluded unless a pattern re-includes them (`!.git`). */
export const DEFAULT_EXCLUDES: readonly string[] = ['.git/', '.rushhourignore'];

export const IGNORE_FILE = '.rushhourignore';

interface Pattern {
  readonly source: string;
  readonly negate: boolean;
  readonly dirOnly: boolean;
  readonly re: RegExp;
}

function globToRegExp(glob: string): string {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const atStart = i === 0 || glob[i - 1] === '/';
        const atEnd = i + 2 === glob.length || glob[i + 2] === '/';
        if (atStart && atEnd) {
          if (i + 2 === glob.length) re += '.*';
          else {
            re += '(?:.*/)?';
            i++; // the '/' after '**' is part of the optional group
          }
          i++;
          continue;
        }
      }
      re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close === -1) re += '\\[';
      else {
        let body = glob.slice(i + 1, close);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else if (c === '\\' && i + 1 < glob.length) {
      re += glob[++i].replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return re;
}

/** Parses patterns (lines of a `.rushhourignore`, or `--exclude` values). Invalid lines are refused by name. */
export function parsePatterns(lines: readonly string[], source: string): Pattern[] {
  const out: Pattern[] = [];
  lines.forEach((raw, i) => {
    let line = raw.replace(/\r$/, '').replace(/(?<!\\)\s+$/, '');
    if (!line || line.startsWith('#')) return;
    let negate = false;
    if (line.startsWith('!')) {
      negate = true;
      line = line.slice(1);
    } else if (line.startsWith('\\!') || line.startsWith('\\#')) line = line.slice(1);
    const dirOnly = line.endsWith('/');
    if (dirOnly) line = line.replace(/\/+$/, '');
    const anchored = line.includes('/');
    line = line.replace(/^\/+/, '');
    if (!line) return;
    try {
      out.push({
        source: `${source}:${i + 1}: ${raw.trim()}`,
        negate,
        dirOnly,
        re: new RegExp(`^${anchored ? '' : '(?:.*/)?'}${globToRegExp(line)}$`),
      });
    } catch (err) {
      throw new ExcludePatternError(`${source}:${i + 1}`, raw, (err as Error).message);
    }
  });
  return out;
}

export class ExcludePatternError extends Error {
  override readonly name = 'ExcludePatternError';
  constructor(
    readonly where: string,
    readonly pattern: string,
    reason: string,
  ) {
    super(`${where}: invalid exclude pattern ${JSON.stringify(pattern)}: ${reason}`);
  }
}

export class ExcludeMatcher {
  private readonly patterns: Pattern[];

  constructor(sources: { readonly lines: readonly string[]; readonly source: string }[]) {
    this.patterns = sources.flatMap((s) => parsePatterns(s.lines, s.source));
  }

  /** The defaults, then the site's `.rushhourignore`, then `--exclude` (later ones win). */
  static forSite(ignoreFile: string | undefined, excludes: readonly string[]): ExcludeMatcher {
    return new ExcludeMatcher([
      { lines: DEFAULT_EXCLUDES, source: 'default' },
      { lines: ignoreFile?.split('\n') ?? [], source: IGNORE_FILE },
      { lines: excludes, source: '--exclude' },
    ]);
  }

  /** The pattern that decides `p` (relative, `/`-separated), when the last match excludes it. */
  excludedBy(p: string, isDir: boolean): string | undefined {
    let by: Pattern | undefined;
    for (const pat of this.patterns) {
      if (pat.dirOnly && !isDir) continue;
      if (pat.re.test(p)) by = pat;
    }
    return by && !by.negate ? by.source : undefined;
  }

  /**
   * Splits entries (parents listed before children, as `find` does) into kept and excluded. Anything
   * under an excluded directory is excluded with it.
   */
  apply<E extends { readonly path: string; readonly type: string }>(
    entries: readonly E[],
  ): { kept: E[]; excluded: { entry: E; by: string }[] } {
    const kept: E[] = [];
    const excluded: { entry: E; by: string }[] = [];
    const excludedDirs = new Map<string, string>();
    for (const entry of entries) {
      const parts = entry.path.split('/');
      let by: string | undefined;
      for (let i = 1; i < parts.length && !by; i++) by = excludedDirs.get(parts.slice(0, i).join('/'));
      by ??= this.excludedBy(entry.path, entry.type === 'dir');
      if (by) {
        excluded.push({ entry, by });
        if (entry.type === 'dir') excludedDirs.set(entry.path, by);
      } else kept.push(entry);
    }
    return { kept, excluded };
  }
}
