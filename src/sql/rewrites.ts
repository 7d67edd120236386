import { PROGRESS_TABLE, UNITS_TABLE } from '../../lib/contracts';
import { DumpStatement } from './splitter';

/** How the importer runs a statement: session settings are replayed on resume, data goes in transactions. */
export type StatementKind = 'session' | 'data' | 'other';

/** The table where the importer records its progress; statements of a dump that touch it are dropped. */
export { PROGRESS_TABLE, UNITS_TABLE };

export interface PreparedStatement extends DumpStatement {
  readonly kind: StatementKind;
}

/** Thrown for a dump the importer must not run as is (e.g. one that switches to another database). */
export class DumpRewriteError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'DumpRewriteError';
  }
}

const HEAD_BYTES = 2048;
const QUOTED = "`(?:[^`]|``)*`|'(?:[^'\\\\]|\\\\.|'')*'";
const USER_PART = `(?:${QUOTED}|[\\w.$%-]+)`;
const DEFINER_VALUE = `(?:CURRENT_USER(?:\\s*\\(\\s*\\))?|${USER_PART}(?:\\s*@\\s*${USER_PART})?)`;
/** `/*!50017 DEFINER=`u`@`h`*‍/` : a version comment that holds only the DEFINER clause. */
const DEFINER_ONLY_COMMENT = new RegExp(`/\\*!\\d*\\s*DEFINER\\s*=\\s*${DEFINER_VALUE}\\s*\\*/\\s?`, 'gi');
const DEFINER_CLAUSE = new RegExp(`DEFINER\\s*=\\s*${DEFINER_VALUE}\\s?`, 'gi');
const SQL_LOG_BIN_ASSIGNMENT = /(^|[\s,])(@@(SESSION\.)?|SESSION\s+|LOCAL\s+)?SQL_LOG_BIN\s*[:]?=/i;
const GLOBAL_ASSIGNMENT = /(^|[\s,])(@@GLOBAL\.|GLOBAL\s+)\w+\s*[:]?=/i;
const REPLICATION =
  /^(CHANGE (MASTER|REPLICATION SOURCE) TO|START (SLAVE|REPLICA)|STOP (SLAVE|REPLICA)|RESET (MASTER|SLAVE|REPLICA)|PURGE (BINARY|MASTER) LOGS)\b/;

/**
 * Rewrites what RDS (a master user without SUPER) refuses from an on-premises dump, and counts what it
 * changed so the import can log it:
 * - `DEFINER=...` on views, triggers, routines and events (the importing user becomes the definer);
 * - `SET @@SESSION.SQL_LOG_BIN`, `SET @@GLOBAL.GTID_PURGED` and other global settings (need SUPER);
 * - replication statements from `--master-data` (`CHANGE MASTER TO`, ...);
 * - MariaDB's `/*M!999999\- enable the sandbox mode *‍/` first line (a client command MySQL rejects);
 * - `NO_AUTO_CREATE_USER` in `sql_mode` (MariaDB and MySQL 5.7 write it, MySQL 8 rejects it);
 * - `LOCK TABLES`/`UNLOCK TABLES` (would block the progress table; InnoDB gains nothing from them);
 * - `CREATE DATABASE` and `USE` of the target database (the importer already connects to it), `DROP DATABASE`
 *   of it (`--add-drop-database`), and `ALTER DATABASE <dumped db> CHARACTER SET ...` around routines.
 */
export class DumpRewriter {
  private readonly counts = new Map<string, number>();

  /** @param database the database the dump is imported into: a `USE` of another one is refused. */
  constructor(private readonly database: string) {}

  /** The statement as it should run (`undefined`: dropped), with its kind. */
  prepare(stmt: DumpStatement): PreparedStatement | undefined {
    if (stmt.clientCommand) return this.drop('client command (MariaDB sandbox-mode line)');
    const headRaw = stmt.sql.subarray(0, HEAD_BYTES).toString('latin1');
    const words = keywords(headRaw);
    const first = words.split(' ', 1)[0];

    if (first === 'SET') {
      if (/\bGTID_PURGED\b/i.test(headRaw)) return this.drop('SET @@GLOBAL.GTID_PURGED');
      if (SQL_LOG_BIN_ASSIGNMENT.test(stripComments(headRaw))) return this.drop('SET @@SESSION.SQL_LOG_BIN');
      if (GLOBAL_ASSIGNMENT.test(stripComments(headRaw))) return this.drop('SET GLOBAL ...');
      if (/NO_AUTO_CREATE_USER/i.test(headRaw) && /SQL_MODE/i.test(headRaw)) {
        const fixed = headRaw.replace(/,NO_AUTO_CREATE_USER\b|NO_AUTO_CREATE_USER,?/gi, '');
        return this.rewritten(
          'NO_AUTO_CREATE_USER removed from sql_mode',
          stmt,
          Buffer.concat([Buffer.from(fixed, 'latin1'), stmt.sql.subarray(HEAD_BYTES)]),
          'session',
        );
      }
      return { ...stmt, kind: 'session' };
    }
    if (first === 'USE') {
      const target = unquoteIdentifier(keywordsKeepCase(headRaw).slice(4).trim());
      if (target !== this.database) {
        throw new DumpRewriteError(
          `the dump switches to database "${target}" at offset ${stmt.startOffset} (made with --databases or --all-databases?), but the import targets "${this.database}": dump a single database without --databases, or import into "${target}"`,
          stmt.startOffset,
        );
      }
      return this.drop('USE of the target database');
    }
    if (/^CREATE (DATABASE|SCHEMA)\b/.test(words)) return this.drop('CREATE DATABASE');
    // The vetting (./vetting.ts) lets these through only for the target, or as mysqldump's charset switch
    // around routines.
    if (/^DROP (DATABASE|SCHEMA)\b/.test(words) && databaseNamed(headRaw) === this.database)
      return this.drop('DROP DATABASE of the target database (--add-drop-database; the importer creates it)');
    if (
      /^ALTER (DATABASE|SCHEMA) (?!CHARACTER|CHARSET|COLLATE|DEFAULT)/.test(words) &&
      databaseNamed(headRaw) !== this.database
    )
      return this.drop('ALTER DATABASE of the dumped database (charset around routines)');
    if (/^(LOCK|UNLOCK) TABLES?\b/.test(words)) return this.drop('LOCK/UNLOCK TABLES');
    if (REPLICATION.test(words)) return this.drop('replication statement (CHANGE MASTER TO, ...)');
    if (
      /^(DROP|CREATE|ALTER|INSERT|REPLACE|TRUNCATE)\b/.test(words) &&
      new RegExp(`\\b(${PROGRESS_TABLE}|${UNITS_TABLE})\\b`, 'i').test(headRaw)
    ) {
      return this.drop(`statement on ${PROGRESS_TABLE} (the importer's own table)`);
    }
    const kind: StatementKind = /^(INSERT|REPLACE|UPDATE|DELETE)\b/.test(first) ? 'data' : 'other';
    if ((first === 'CREATE' || first === 'ALTER') && /DEFINER/i.test(headRaw)) {
      const fixed = headRaw.replace(DEFINER_ONLY_COMMENT, '').replace(DEFINER_CLAUSE, '');
      if (fixed !== headRaw) {
        return this.rewritten(
          'DEFINER clause removed',
          stmt,
          Buffer.concat([Buffer.from(fixed, 'latin1'), stmt.sql.subarray(HEAD_BYTES)]),
          kind,
        );
      }
    }
    return { ...stmt, kind };
  }

  /** What was rewritten or dropped, with counts. */
  summary(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  private count(what: string) {
    this.counts.set(what, (this.counts.get(what) ?? 0) + 1);
  }

  private drop(what: string): undefined {
    this.count(`dropped: ${what}`);
    return undefined;
  }

  private rewritten(what: string, stmt: DumpStatement, sql: Buffer, kind: StatementKind): PreparedStatement {
    this.count(`rewritten: ${what}`);
    return { ...stmt, sql, kind };
  }
}

/** The statement's leading words, upper case, with comments and version-comment markers removed. */
export function keywords(head: string): string {
  return stripComments(head)
    .replace(/\/\*M?!\d*|\*\//g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200)
    .toUpperCase();
}

/** The statement's leading words as written (comments and version-comment markers removed). */
export function keywordsKeepCase(head: string): string {
  return stripComments(head)
    .replace(/\/\*M?!\d*|\*\//g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Removes plain comments (not executable `/*!` ones) from the start of a statement's text. */
function stripComments(s: string): string {
  return s.replace(/\/\*(?!M?!)[\s\S]*?\*\//g, ' ');
}

/** The database named by `CREATE|ALTER|DROP DATABASE [IF [NOT] EXISTS] name`. */
function databaseNamed(head: string): string {
  const rest = keywordsKeepCase(head).replace(/^\w+\s+(DATABASE|SCHEMA)\s+(IF\s+(NOT\s+)?EXISTS\s+)?/i, '');
  return unquoteIdentifier(rest);
}

function unquoteIdentifier(s: string): string {
  const t = s.replace(/;$/, '').trim();
  if (t.startsWith('`')) return t.slice(1, t.lastIndexOf('`')).replace(/``/g, '`');
  return t.split(/\s/)[0];
}
