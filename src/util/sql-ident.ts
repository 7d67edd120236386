/** Quotes an identifier (database, table, column, user) for MySQL/MariaDB: backticks, inner backticks doubled. */
export function quoteIdent(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}
