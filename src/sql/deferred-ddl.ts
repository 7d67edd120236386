/**
 * Splits a dump's `CREATE TABLE` into the table with its primary key only and the secondary indexes and
 * foreign keys to add after the data (myloader's `--innodb-optimize-keys`): InnoDB builds an index from
 * sorted rows far faster than it maintains it row by row, and all of a table's indexes go in one
 * `ALTER TABLE` (one pass over the rows).
 *
 * Conservative by design: whatever this cannot prove safe to defer stays in the CREATE as it is.
 */

/** An index or foreign key taken out of a CREATE TABLE, to add afterwards. */
export interface DeferredDefinition {
  /** The index or constraint name, unquoted (looked up in information_schema before adding: a resume adds it once). */
  readonly name: string;
  /** The index or constraint name, unquoted (looked up in information_schema first: a resume adds it once). */
  readonly sql: string;
  readonly unique: boolean;
}

export interface SplitCreateTable {
  readonly table: string;
  /** The CREATE TABLE without the deferred definitions (latin1 string of the dump's bytes). */
  readonly create: string;
  readonly indexes: readonly DeferredDefinition[];
  readonly foreignKeys: readonly DeferredDefinition[];
}

/** Whether `head` (the statement's leading keywords) is a plain CREATE TABLE, and of which table. */
const CREATE_TABLE = /^\s*CREATE\s+TABLE\s+(`(?:[^`]|``)+`|[A-Za-z0-9_$]+)\s*\(/i;

/**
 * The table a statement creates and what of it can be deferred; undefined when the statement is not a
 * plain `CREATE TABLE name (...)` (LIKE, SELECT, IF NOT EXISTS, temporary, ...). `indexes` and `foreignKeys`
 * are empty when nothing may be deferred.
 */
export function splitCreateTable(sql: string): SplitCreateTable | undefined {
  const m = CREATE_TABLE.exec(sql);
  if (!m) return undefined;
  const table = unquote(m[1]);
  const open = m.index + m[0].length - 1;
  const close = matchingParen(sql, open);
  if (close < 0) return undefined;
  // CREATE TABLE ... SELECT reads another table: not a statement on this table alone.
  if (/\bSELECT\b/i.test(sql.slice(close))) return undefined;
  const parts = splitTopLevel(sql.slice(open + 1, close));
  if (!parts) return undefined;
  const whole: SplitCreateTable = { table, create: sql, indexes: [], foreignKeys: [] };
  const hasPrimary = parts.some((p) => /^PRIMARY\s+KEY\b/i.test(p.trim()));
  // Without a primary key InnoDB clusters on the first UNIQUE NOT NULL index: deferring it would change the table.
  if (!hasPrimary) return whole;
  // Identifiers or comments outside ASCII: the ALTER would have to run under the CREATE's character_set_client.
  if (/[^\t\n\r\x20-\x7e]/.test(parts.filter((p) => isKey(p) || isForeignKey(p)).join(''))) return whole;
  const autoColumns = parts
    .filter((p) => /^\s*`/.test(p) && /\bAUTO_INCREMENT\b/i.test(p))
    .map((p) => unquote(/^\s*(`(?:[^`]|``)+`)/.exec(p)![1]));
  const kept: string[] = [];
  const indexes: DeferredDefinition[] = [];
  const foreignKeys: DeferredDefinition[] = [];
  for (const part of parts) {
    const def = part.trim();
    if (isForeignKey(def)) {
      const name = /^CONSTRAINT\s+(`(?:[^`]|``)+`)/i.exec(def);
      // An unnamed one could not be found again on resume; and its implicit index would clash with the deferred ones.
      if (!name) return whole;
      foreignKeys.push({ name: unquote(name[1]), sql: def, unique: false });
      continue;
    }
    if (isKey(def)) {
      const km = /^(UNIQUE\s+)?(?:KEY|INDEX)\s+(`(?:[^`]|``)+`)\s*\(\s*(`(?:[^`]|``)+`)?/i.exec(def);
      // Unnamed, FULLTEXT/SPATIAL (InnoDB adds those one per ALTER), or the index an AUTO_INCREMENT column needs.
      if (!km || (km[3] && autoColumns.includes(unquote(km[3])))) {
        kept.push(part);
        continue;
      }
      indexes.push({ name: unquote(km[2]), sql: def, unique: Boolean(km[1]) });
      continue;
    }
    kept.push(part);
  }
  if (!indexes.length && !foreignKeys.length) return whole;
  // Keep the dump's layout: definitions one per line, the last without a comma.
  const body = kept.map((p) => p.replace(/\s+$/, '')).join(',');
  return { table, create: sql.slice(0, open + 1) + body + '\n' + sql.slice(close), indexes, foreignKeys };
}

/** `ALTER TABLE t ADD ..., ADD ...` for the definitions (one statement: one rebuild). */
export function alterAdding(table: string, defs: readonly DeferredDefinition[]): string {
  return `ALTER TABLE ${quote(table)} ${defs.map((d) => `ADD ${d.sql}`).join(', ')}`;
}

function isKey(def: string): boolean {
  return /^\s*(UNIQUE\s+)?(KEY|INDEX|FULLTEXT|SPATIAL)\b/i.test(def);
}

function isForeignKey(def: string): boolean {
  return /^\s*(CONSTRAINT\s+(`(?:[^`]|``)+`|\w+)\s+)?FOREIGN\s+KEY\b/i.test(def);
}

export function quote(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

export function unquote(id: string): string {
  return id.startsWith('`') ? id.slice(1, -1).replace(/``/g, '`') : id;
}

/** Index of the `)` matching the `(` at `open`, skipping quotes and backticks; -1 if none. */
function matchingParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === "'" || c === '"' || c === '`') {
      i = skipQuoted(s, i);
      if (i < 0) return -1;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

/** The index of the closing quote of the quoted run starting at `i` (backslash escapes in strings). */
function skipQuoted(s: string, i: number): number {
  const q = s[i];
  for (let j = i + 1; j < s.length; j++) {
    if (q !== '`' && s[j] === '\\') j++;
    else if (s[j] === q) {
      if (s[j + 1] === q) j++;
      else return j;
    }
  }
  return -1;
}

/** The body's definitions split at top-level commas (each with its leading newline/indent); undefined if unbalanced. */
function splitTopLevel(body: string): string[] | undefined {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === "'" || c === '"' || c === '`') {
      i = skipQuoted(body, i);
      if (i < 0) return undefined;
    } else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(body.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) return undefined;
  parts.push(body.slice(start));
  return parts;
}
