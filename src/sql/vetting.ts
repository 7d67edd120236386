import { z } from 'zod';
import { DumpStatement, multiByteTable } from './splitter';

/**
 * What a dump may not do: it loads into its one database, as a master user that could do much more.
 * Each kind is a small rule over the statement's tokens (comments removed, string literals skipped,
 * executable `/*!NNNNN ... *‍/` comments read as SQL, as the server reads them). An operator can allow
 * a kind by name; everything refused is reported before any statement of the dump runs.
 */
export const REFUSABLE_KINDS = [
  /** CREATE/ALTER/DROP/RENAME USER, CREATE/DROP ROLE, SET PASSWORD, SET DEFAULT ROLE. */
  'account',
  /** GRANT, REVOKE. */
  'privilege',
  /** Any reference to mysql, sys, information_schema or performance_schema. */
  'system-schema',
  /** CREATE/ALTER/DROP DATABASE or USE of another database; `otherdb`.`t` where a table is named. */
  'other-database',
  /** INSTALL/UNINSTALL PLUGIN, SONAME or COMPONENT. */
  'plugin',
  /** SET GLOBAL / SET PERSIST / `@@GLOBAL.x =` (replication bookkeeping like GTID_PURGED is dropped instead). */
  'global-setting',
  /** SHUTDOWN, RESTART, KILL, FLUSH, RESET, BINLOG, CREATE/ALTER/DROP SERVER, ALTER INSTANCE. */
  'server-admin',
  /** LOAD DATA, LOAD XML, SELECT ... INTO OUTFILE/DUMPFILE, LOAD_FILE(): files of the server or the client. */
  'file-access',
  /** PREPARE ... FROM, EXECUTE IMMEDIATE: SQL built at run time escapes every rule here. */
  'dynamic-sql',
] as const;
export type RefusableKind = (typeof REFUSABLE_KINDS)[number];

/** The operator's list of kinds to let through (config `import.allowStatements`, `--allow-statements`). */
export const AllowedKindsSchema = z.array(
  z.enum(REFUSABLE_KINDS, {
    error: (issue) =>
      `unknown statement kind ${JSON.stringify(issue.input)}: allowed kinds are ${REFUSABLE_KINDS.join(', ')}`,
  }),
);

/** One rule's finding on one statement. */
export interface Finding {
  readonly kind: RefusableKind;
  /** What exactly, e.g. "CREATE USER" or "`otherdb`.`t`". */
  readonly what: string;
}

/** A refused (or operator-allowed) statement, for the error and the import log. */
export interface Refusal extends Finding {
  readonly offset: number;
  readonly line: number;
  /** The statement's first characters, string literals redacted. */
  readonly preview: string;
}

const SYSTEM_SCHEMAS = new Set(['mysql', 'sys', 'information_schema', 'performance_schema']);
/** Global variables mysqldump/mariadb-dump write for replication; the rewrites drop them (RDS refuses them). */
const REPLICATION_GLOBALS = new Set(['GTID_PURGED', 'GTID_SLAVE_POS']);
/** Words after which a (possibly qualified) table or routine name follows, possibly as a comma list. */
const TABLE_LIST_WORDS = new Set([
  'FROM',
  'JOIN',
  'STRAIGHT_JOIN',
  'INTO',
  'TABLE',
  'TABLES',
  'REFERENCES',
  'VIEW',
  'PROCEDURE',
  'FUNCTION',
  'TRIGGER',
  'EVENT',
  'TO',
  'UPDATE',
]);
/** Words after which exactly one name follows (REPLACE is also a string function: `REPLACE(a.b, ...)`). */
const SINGLE_NAME_WORDS = new Set(['INSERT', 'REPLACE', 'DELETE', 'TRUNCATE', 'CALL', 'RENAME']);
/** Words that end a table list (what follows are column references like `alias`.`col`). */
const LIST_END_WORDS = new Set([
  'SELECT',
  'ON',
  'USING',
  'WHERE',
  'SET',
  'VALUES',
  'VALUE',
  'GROUP',
  'ORDER',
  'HAVING',
  'LIMIT',
  'WINDOW',
  'UNION',
  'EXCEPT',
  'INTERSECT',
  'FOR',
  'PARTITION',
  'WITH',
  'READ',
  'WRITE',
  'BEGIN',
  'RETURNS',
  'DO',
]);
/** Words after which a new statement starts inside a routine, trigger or event body. */
const BODY_STATEMENT_START = new Set(['BEGIN', 'THEN', 'ELSE', 'DO', 'LOOP', 'REPEAT']);
const SERVER_ADMIN_FIRST_WORDS = new Set(['SHUTDOWN', 'RESTART', 'KILL', 'FLUSH', 'BINLOG', 'CLONE']);
/** RESET of replication state is dropped by the rewrites (mysqldump --master-data); any other RESET is refused. */
const REPLICATION_RESET = new Set(['MASTER', 'SLAVE', 'REPLICA']);

const enum T {
  /** A bare word (keyword or identifier), upper-cased. */
  Word,
  /** A quoted identifier (backticks, or double quotes: ANSI_QUOTES makes them identifiers). */
  Quoted,
  /** A string literal (its content is not kept). */
  Str,
  Num,
  /** `@var` or `@@var` (without what follows a dot). */
  Var,
  Punct,
}

interface Token {
  readonly t: T;
  /** Word: upper case; Quoted: the name as written; Punct: the character; Var: upper case. */
  readonly v: string;
  /** Word: as written (for messages). */
  readonly raw?: string;
}

const isWordByte = (b: number) =>
  (b >= 0x30 && b <= 0x39) ||
  (b >= 0x41 && b <= 0x5a) ||
  (b >= 0x61 && b <= 0x7a) ||
  b === 0x5f ||
  b === 0x24 ||
  b >= 0x80;

/**
 * The closing quote `q` of a string whose first byte is at `start` (or the end of `buf`), found natively (most
 * of an extended INSERT): a quote is escaped when an odd number of backslashes precede it, and '' / "" are a
 * quote inside. Not for multibyte charsets (a trail byte may be a backslash) nor backticks (no escapes).
 */
function closingQuote(buf: Buffer, start: number, q: number): number {
  let i = start;
  for (;;) {
    const j: number = buf.indexOf(q, i);
    if (j < 0) return buf.length;
    let k = j - 1;
    while (k >= start && buf[k] === 0x5c) k--;
    if ((j - 1 - k) % 2 === 1) i = j + 1;
    else if (buf[j + 1] === q) i = j + 2;
    else return j;
  }
}

/**
 * In quiet mode, skips what the tokenizer would not report anyway, without making tokens: whitespace, commas,
 * parentheses, single-quoted strings and integers. Stops at anything else (a word, a `-`, a comment, a
 * number with a fraction or a letter, an unterminated string), which the general loop then lexes as before.
 * The bulk of an extended INSERT's bytes: vetting the 254 MiB bench dump took 370-480 ms of CPU token by token,
 * 220-260 ms so.
 */
function skipQuiet(buf: Buffer, i: number): number {
  const n = buf.length;
  while (i < n) {
    const c = buf[i];
    if (c <= 0x20 || c === 0x2c || c === 0x28 || c === 0x29) i++;
    else if (c === 0x27) {
      const end = closingQuote(buf, i + 1, 0x27);
      if (end >= n) return i;
      i = end + 1;
    } else if (c >= 0x30 && c <= 0x39) {
      let j = i + 1;
      while (j < n && buf[j] >= 0x30 && buf[j] <= 0x39) j++;
      if (j < n && (isWordByte(buf[j]) || buf[j] === 0x2e)) return i;
      i = j;
    } else return i;
  }
  return i;
}

/**
 * Splits a statement into tokens, the way the server's lexer sees them, and calls `onToken` for each.
 * Strings are skipped byte by byte (the bulk of an extended INSERT), so this costs about what the
 * splitter costs. In a multibyte charset (sjis, big5, gbk), a lead byte and its trail are one character.
 */
function tokenize(stmt: DumpStatement, onToken: (tok: Token) => boolean | 'quiet' | void): void {
  const buf = stmt.sql;
  const n = buf.length;
  const mb = multiByteTable(stmt.charset);
  /**
   * Set when the rules say so (after the VALUES of an INSERT): literals, commas and parentheses are no
   * longer reported, only words, quoted names and other punctuation (a subquery still shows).
   */
  let quiet = false;
  const emit = (tok: Token): boolean => {
    const r = onToken(tok);
    if (r === 'quiet') quiet = true;
    return r !== false;
  };
  let i = 0;
  while (i < n) {
    if (quiet && mb === undefined) {
      i = skipQuiet(buf, i);
      if (i >= n) break;
    }
    const b = buf[i];
    if (b <= 0x20) {
      i++;
      continue;
    }
    // Comments. Executable ones (/*! and /*M!) are SQL to the server: only their markers are skipped.
    if (b === 0x2f && buf[i + 1] === 0x2a) {
      if (buf[i + 2] === 0x21 || (buf[i + 2] === 0x4d && buf[i + 3] === 0x21)) {
        i += buf[i + 2] === 0x21 ? 3 : 4;
        while (i < n && buf[i] >= 0x30 && buf[i] <= 0x39) i++;
        continue;
      }
      const end = buf.indexOf('*/', i + 2, 'latin1');
      i = end < 0 ? n : end + 2;
      continue;
    }
    if (b === 0x2a && buf[i + 1] === 0x2f) {
      i += 2; // the end of an executable comment
      continue;
    }
    if (b === 0x23 || (b === 0x2d && buf[i + 1] === 0x2d && (i + 2 >= n || buf[i + 2] <= 0x20))) {
      const end = buf.indexOf(0x0a, i);
      i = end < 0 ? n : end + 1;
      continue;
    }
    if (b === 0x27 || b === 0x22 || b === 0x60) {
      const start = i + 1;
      i++;
      if (mb === undefined && b !== 0x60) i = closingQuote(buf, start, b);
      else
        while (i < n) {
          const c = buf[i];
          if (mb !== undefined && c >= 0x80 && mb[c] & 1 && i + 1 < n && mb[buf[i + 1]] & 2) {
            i += 2;
            continue;
          }
          if (c === 0x5c && b !== 0x60) {
            i += 2;
            continue;
          }
          if (c === b) {
            if (buf[i + 1] === b) {
              i += 2; // doubled quote
              continue;
            }
            break;
          }
          i++;
        }
      const end = Math.min(i, n);
      i++;
      if (quiet && b === 0x27) continue;
      let tok: Token;
      if (b === 0x27) tok = { t: T.Str, v: '' };
      else {
        const raw = end - start <= 64 ? buf.toString('utf8', start, end) : '';
        tok = { t: T.Quoted, v: b === 0x60 ? raw.replace(/``/g, '`') : raw.replace(/""/g, '"') };
      }
      if (!emit(tok)) return;
      continue;
    }
    if (b === 0x40) {
      const start = i;
      i++;
      if (buf[i] === 0x40) i++;
      if (buf[i] === 0x27 || buf[i] === 0x22 || buf[i] === 0x60) {
        if (!emit({ t: T.Var, v: '@' })) return;
        continue; // @'name': the quoted name is lexed next
      }
      while (i < n && isWordByte(buf[i])) i++;
      if (!emit({ t: T.Var, v: buf.toString('latin1', start, Math.min(i, start + 80)).toUpperCase() })) return;
      continue;
    }
    if (isWordByte(b)) {
      const start = i;
      while (i < n && isWordByte(buf[i])) {
        if (mb !== undefined && buf[i] >= 0x80 && mb[buf[i]] & 1 && i + 1 < n && mb[buf[i + 1]] & 2) i += 2;
        else i++;
      }
      // A number: digits, 0x..., 0b..., 1e5; a decimal part (1.5, 1.5e-3) belongs to it.
      if (b >= 0x30 && b <= 0x39) {
        let allDigits = true;
        for (let k = start; k < i && allDigits; k++) allDigits = buf[k] >= 0x30 && buf[k] <= 0x39;
        if (
          allDigits ||
          /^(0x[0-9a-f]*|0b[01]*|\d+e\d*)$/i.test(buf.toString('latin1', start, Math.min(i, start + 80)))
        ) {
          if (allDigits && buf[i] === 0x2e && buf[i + 1] >= 0x30 && buf[i + 1] <= 0x39) {
            i++;
            while (i < n && isWordByte(buf[i])) i++;
            if ((buf[i] === 0x2d || buf[i] === 0x2b) && (buf[i - 1] | 0x20) === 0x65) {
              i++; // 1.5e-3
              while (i < n && buf[i] >= 0x30 && buf[i] <= 0x39) i++;
            }
          }
          if (!quiet && !emit({ t: T.Num, v: '' })) return;
          continue;
        }
      }
      const raw = i - start <= 64 ? buf.toString('utf8', start, i) : '';
      if (!emit({ t: T.Word, v: raw.toUpperCase(), raw })) return;
      continue;
    }
    // (quiet: `.5` is a number too)
    const silent =
      quiet && (b === 0x2c || b === 0x28 || b === 0x29 || (b === 0x2e && buf[i + 1] >= 0x30 && buf[i + 1] <= 0x39));
    if (!silent && !emit({ t: T.Punct, v: String.fromCharCode(b) })) return;
    i++;
  }
}

const isName = (tok: Token | undefined): tok is Token => tok !== undefined && (tok.t === T.Word || tok.t === T.Quoted);
const isPunct = (tok: Token | undefined, c: string) => tok !== undefined && tok.t === T.Punct && tok.v === c;
const show = (tok: Token) => (tok.t === T.Quoted ? `\`${tok.v}\`` : (tok.raw ?? tok.v));
const DATABASE_VERBS = new Set(['CREATE', 'ALTER', 'DROP']);
/** `ALTER DATABASE x` followed only by charset/collation clauses (what mysqldump writes around routines). */
const CHARSET_CLAUSES = /^(?:(?:DEFAULT )?(?:CHARACTER SET|CHARSET|COLLATE)(?: =)? \S+ ?)+$/;

/**
 * The rules, over one statement. Returns every finding (an empty list: the statement may run).
 * `database` is the import's target database: references to it are fine.
 */
export function vetStatement(stmt: DumpStatement, database: string): Finding[] {
  if (stmt.clientCommand) return [];
  const findings: Finding[] = [];
  const found = (kind: RefusableKind, what: string) => {
    if (!findings.some((f) => f.kind === kind && f.what === what)) findings.push({ kind, what });
  };
  // Bare words were upper-cased by the lexer; quoted names compare exactly (names are case-sensitive on Linux).
  const sameDb = (tok: Token) => (tok.t === T.Quoted ? tok.v === database : tok.v === database.toUpperCase());
  const isSystem = (tok: Token) => SYSTEM_SCHEMAS.has(tok.v.toLowerCase());
  const checkSchema = (schema: Token, what: string, tablePosition: boolean) => {
    if (isSystem(schema)) found('system-schema', what);
    else if (tablePosition && !sameDb(schema)) found('other-database', what);
  };

  const toks: Token[] = []; // the last few tokens
  const prev = (k: number): Token | undefined => toks[toks.length - k];
  const prevWord = (k: number): string | undefined => {
    const t = prev(k);
    return t?.t === T.Word ? t.v : undefined;
  };
  let count = 0; // tokens seen
  let head: string | undefined; // first word of the current (body) statement
  let atStatementStart = true;
  let tableList = false; // inside a list of table names (after FROM, JOIN, ...)
  let tableListJustStarted = false;
  /** After INSERT, CALL, ...: 1 = waiting for the name, 2 = got it, 3 = got "name ." (the next name is qualified). */
  let single = 0;
  let globalNext = false; // SET GLOBAL: the next word is the variable
  let resetNext = false;
  let prepare = 0; // PREPARE name FROM
  let inValues = false; // after the VALUES of an INSERT (the tokenizer is quiet)
  /** CREATE/ALTER/DROP DATABASE: verb, where, name, and the words after the name. */
  let dbStmt: { verb: string; atHead: boolean; name?: Token; rest: string[] } | undefined;

  const finishDatabase = () => {
    const d = dbStmt;
    dbStmt = undefined;
    if (!d?.name) return; // ALTER DATABASE CHARACTER SET ...: the current database, the target
    const what = `${d.verb} DATABASE ${show(d.name)}`;
    if (isSystem(d.name)) return found('system-schema', what);
    if (sameDb(d.name)) {
      // As the statement itself (--add-drop-database) the rewrites drop it; inside a body it would run later.
      if (d.verb === 'DROP' && !d.atHead) found('other-database', `${what} (in a routine body)`);
      return;
    }
    // mysqldump switches the dumped database's charset around routines: the rewrites drop that statement.
    if (d.verb === 'ALTER' && d.atHead && CHARSET_CLAUSES.test(d.rest.join(' '))) return;
    found('other-database', what);
  };

  tokenize(stmt, (tok) => {
    const p1 = prev(1);
    count++;
    // --- qualified names: schema.table (where a table is named), schema.table.column (anywhere)
    if (isPunct(p1, '.') && (isName(tok) || isPunct(tok, '*'))) {
      const q = prev(2);
      const qq = prev(3);
      if (isName(q) && !isPunct(qq, '.') && qq?.t !== T.Var) {
        checkSchema(q, `${show(q)}.${show(tok)}`, tableList || single === 3);
      } else if (isName(q) && isPunct(qq, '.') && isName(prev(4)) && !isPunct(prev(5), '.') && prev(5)?.t !== T.Var) {
        const s = prev(4)!;
        checkSchema(s, `${show(s)}.${show(q)}.${show(tok)}`, true);
      }
    }

    // --- CREATE/ALTER/DROP DATABASE name [charset clauses]
    if (dbStmt) {
      if (isPunct(tok, ';')) finishDatabase();
      else if (!dbStmt.name) {
        if (!(tok.t === T.Word && (tok.v === 'IF' || tok.v === 'NOT' || tok.v === 'EXISTS'))) {
          if (isName(tok) && !(tok.t === T.Word && ['CHARACTER', 'CHARSET', 'COLLATE', 'DEFAULT'].includes(tok.v)))
            dbStmt.name = tok;
          else finishDatabase();
        }
      } else if (dbStmt.rest.length < 24) dbStmt.rest.push(tok.t === T.Punct ? tok.v : tok.v || '?');
    }

    if (tok.t === T.Word) {
      const w = tok.v;
      const w1 = prevWord(1);
      const w2 = prevWord(2);
      if (atStatementStart) head = w;
      if (w === 'GRANT' || w === 'REVOKE') found('privilege', w);
      if (
        (w === 'USER' || w === 'ROLE') &&
        w1 !== undefined &&
        (['CREATE', 'ALTER', 'DROP', 'RENAME'].includes(w1) || (w1 === 'REPLACE' && w2 === 'OR'))
      )
        found('account', `${w1 === 'REPLACE' ? 'CREATE OR REPLACE' : w1} ${w}`);
      if (w === 'ROLE' && w1 === 'DEFAULT' && w2 === 'SET') found('account', 'SET DEFAULT ROLE');
      if (w === 'PASSWORD' && w1 === 'SET') found('account', 'SET PASSWORD');
      if ((w === 'PLUGIN' || w === 'SONAME' || w === 'COMPONENT') && (w1 === 'INSTALL' || w1 === 'UNINSTALL'))
        found('plugin', `${w1} ${w}`);
      if (w === 'SERVER' && w1 !== undefined && DATABASE_VERBS.has(w1)) found('server-admin', `${w1} SERVER`);
      if (w === 'INSTANCE' && w1 === 'ALTER') found('server-admin', 'ALTER INSTANCE');
      if (atStatementStart && SERVER_ADMIN_FIRST_WORDS.has(w)) found('server-admin', w);
      if (resetNext && !REPLICATION_RESET.has(w)) found('server-admin', `RESET ${w}`);
      resetNext = atStatementStart && w === 'RESET';
      if ((w === 'DATA' || w === 'XML') && w1 === 'LOAD') found('file-access', `LOAD ${w}`);
      if ((w === 'OUTFILE' || w === 'DUMPFILE') && w1 === 'INTO') found('file-access', `INTO ${w}`);
      if (w === 'LOAD_FILE') found('file-access', 'LOAD_FILE()');
      if (w === 'IMMEDIATE' && w1 === 'EXECUTE') found('dynamic-sql', 'EXECUTE IMMEDIATE');
      if (globalNext && !REPLICATION_GLOBALS.has(w)) found('global-setting', `SET GLOBAL ${tok.raw ?? w}`);
      globalNext =
        head === 'SET' &&
        (w === 'GLOBAL' || w === 'PERSIST' || w === 'PERSIST_ONLY') &&
        (w1 === 'SET' || isPunct(p1, ','));
      if ((w === 'DATABASE' || w === 'SCHEMA') && w1 !== undefined) {
        const verb = w1 === 'REPLACE' && w2 === 'OR' ? 'CREATE' : w1;
        if (DATABASE_VERBS.has(verb)) {
          finishDatabase();
          dbStmt = { verb, atHead: count === (w1 === 'REPLACE' ? 4 : 2), rest: [] };
        }
      }
    } else if (tok.t === T.Var) {
      // SET @@GLOBAL.x = ...: the name after the dot decides
      globalNext =
        head === 'SET' &&
        /^@@(GLOBAL|PERSIST|PERSIST_ONLY)$/.test(tok.v) &&
        (prevWord(1) === 'SET' || isPunct(p1, ','));
    } else if (!isPunct(tok, '.')) globalNext = false;
    // PREPARE name FROM
    if (prepare === 2 && tok.t === T.Word && tok.v === 'FROM') found('dynamic-sql', 'PREPARE ... FROM');
    prepare = atStatementStart && tok.t === T.Word && tok.v === 'PREPARE' ? 1 : prepare === 1 && isName(tok) ? 2 : 0;

    // --- where table names stand
    if (tok.t === T.Word && TABLE_LIST_WORDS.has(tok.v)) {
      const w1 = prevWord(1);
      // ON DUPLICATE KEY UPDATE, SELECT ... FOR UPDATE, ON UPDATE CASCADE / CURRENT_TIMESTAMP: no table follows
      tableList = !(tok.v === 'UPDATE' && (w1 === 'KEY' || w1 === 'FOR' || w1 === 'ON'));
      tableListJustStarted = tableList;
      single = 0;
    } else if (
      tok.t === T.Word &&
      // in the rows of an INSERT, REPLACE( is the string function: no table name follows
      ((SINGLE_NAME_WORDS.has(tok.v) && !inValues) ||
        // CREATE INDEX i ON t (...), and a trigger's AFTER INSERT ON t
        (tok.v === 'ON' &&
          ((isName(p1) && prevWord(2) === 'INDEX') ||
            (['INSERT', 'UPDATE', 'DELETE'].includes(prevWord(1) ?? '') &&
              ['BEFORE', 'AFTER'].includes(prevWord(2) ?? '')))))
    ) {
      tableList = false;
      single = 1;
    } else {
      if (tableList) {
        const keeps =
          (tok.t === T.Word && !LIST_END_WORDS.has(tok.v)) ||
          tok.t === T.Quoted ||
          isPunct(tok, '.') ||
          isPunct(tok, ',') ||
          (isPunct(tok, '(') && tableListJustStarted);
        if (!keeps) tableList = false;
      }
      tableListJustStarted = false;
      if (single === 1) {
        if (
          tok.t === T.Word &&
          ['INTO', 'IGNORE', 'LOW_PRIORITY', 'DELAYED', 'HIGH_PRIORITY', 'QUICK'].includes(tok.v)
        ) {
          // modifiers before the name
        } else single = isName(tok) ? 2 : 0;
      } else if (single === 2) single = isPunct(tok, '.') ? 3 : 0;
      else if (single === 3) single = 0;
    }

    if (count === 2 && head === 'USE' && isName(tok)) {
      if (isSystem(tok)) found('system-schema', `USE ${show(tok)}`);
      else if (!sameDb(tok)) found('other-database', `USE ${show(tok)}`);
    }
    atStatementStart = isPunct(tok, ';') || isPunct(tok, ':') || (tok.t === T.Word && BODY_STATEMENT_START.has(tok.v));
    toks.push(tok);
    if (toks.length > 8) toks.shift();
    // The rows of an extended INSERT: only words can matter there (a subquery), literals need no look.
    if (tok.t === T.Word && (tok.v === 'VALUES' || tok.v === 'VALUE') && (head === 'INSERT' || head === 'REPLACE')) {
      inValues = true;
      return 'quiet';
    }
    return undefined;
  });
  finishDatabase();
  return findings;
}

/** The first characters of a statement for a message: whitespace folded, string literals redacted. */
export function statementPreview(sql: Buffer, max = 200): string {
  const text = redactLiterals(sql.subarray(0, Math.max(max * 2, 400)).toString('utf8')).replace(/\s+/g, ' ');
  return text.length > max ? text.slice(0, max) + ' ...' : text;
}

/**
 * Replaces the content of every '...' and "..." literal with `…` (quotes kept, so the shape stays
 * readable): a statement such as `CREATE USER ... IDENTIFIED BY 'secret'` must not reach a log. An
 * unterminated literal (a preview cut inside it) is redacted to the end.
 */
export function redactLiterals(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '`') {
      const end = text.indexOf('`', i + 1);
      const stop = end < 0 ? text.length : end + 1;
      out += text.slice(i, stop);
      i = stop;
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < text.length) {
        if (text[j] === '\\') j += 2;
        else if (text[j] === c && text[j + 1] === c) j += 2;
        else if (text[j] === c) break;
        else j++;
      }
      out += j >= text.length ? `${c}…` : `${c}…${c}`;
      i = j + 1;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

/**
 * A server error message made safe for logs: the SQL it quotes (`near '...' at line N`) and the values
 * it names (`Duplicate entry '...'`) have their literals redacted.
 */
export function redactServerMessage(message: string): string {
  return message
    .replace(
      /(near ')([\s\S]*)(' at line \d+)/,
      (_m, a: string, frag: string, b: string) => a + redactLiterals(frag) + b,
    )
    .replace(/(Duplicate entry ')([\s\S]*?)(' for key)/, '$1…$3');
}
