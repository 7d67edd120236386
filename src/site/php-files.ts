import { SESSIONS_TABLE } from '../../lib/contracts';

/**
 * Files rushhour ships to PHP instances: the health script, the database session handler and the busy
 * page. They are rendered here (not copied from a directory) so that the boot bundle carries them and
 * the sessions table's DDL exists once, for both the handler and the import.
 */

/**
 * Table for shared PHP sessions, created by the import with the master user (the application user has
 * only SELECT/INSERT/UPDATE/DELETE, so the handler cannot create it). Its name is a contract (the export
 * leaves it out), so it lives in lib/contracts.ts.
 */
export { SESSIONS_TABLE };
export const SESSIONS_TABLE_SQL = `CREATE TABLE IF NOT EXISTS ${SESSIONS_TABLE} (
  id VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  data MEDIUMBLOB NOT NULL,
  expires_at INT UNSIGNED NOT NULL,
  KEY ix_${SESSIONS_TABLE}_expires (expires_at)
) ENGINE=InnoDB`;

/**
 * The health script: proves php-fpm runs PHP, touches no database (a stopped or slow database must not
 * take every instance out of the balancer at once; the site's own pages show database trouble).
 */
export function renderHealthScript(): string {
  return `<?php
// rushhour health check: answered by PHP without the database.
header('Content-Type: text/plain');
header('Cache-Control: no-store');
echo "ok php ", PHP_VERSION, "\\n";
`;
}

/** Sessions in MySQL through PDO, registered for every request by auto_prepend_file. */
export function renderSessionHandler(): string {
  return `<?php
// rushhour: PHP sessions shared by every instance through the site's database.
// Registered with auto_prepend_file; connects only when the site calls session_start(): a page that
// starts no session never touches the database (test/site/php-nginx.test.ts checks the statements).
// No locking: two requests of one session at once both read the old data and the last write wins
// (the files handler would serialise them); fine for forms, document it for sites that care.
// What a page costs, measured with bench/site.ts (PHP and MariaDB on 1 core, 2026-12-01): a new connection
// per request and an UPDATE (a commit) of the expiry on every read-only page held the example site's
// course list + registration to 50-130/s, against ~200/s with the files handler in the same run. So:
// - one persistent connection per worker (PDO pings it before reuse and reconnects if it is gone);
// - a page whose session is unchanged writes nothing: the expiry is pushed only when a tenth of its
//   lifetime has passed since the last push (a session may end up to ttl/10, at most 300 s, early);
// - a new visitor whose session stays empty is not stored (an empty session reads the same as a missing
//   one): a balancer's check or a crawler on a page that starts a session costs a SELECT, not a commit;
// - with session.use_strict_mode, PHP asks validateId() and then read(): one SELECT answers both.
// So a page with a session cookie costs one ping and one SELECT by primary key, plus one write when the
// page changed the session. Per request on the shared core that is ~100-130 us of MariaDB CPU more than
// the files handler (bench/site.ts, 2026-12-01: 470-500 against 350-390 us at 600/s, both on the same database).
final class RushhourSessionHandler implements SessionHandlerInterface, SessionUpdateTimestampHandlerInterface
{
    private ?PDO $pdo = null;
    private int $ttl;
    private int $refresh;
    /** @var array<string, int> expires_at of the sessions read by this request */
    private array $expires = [];
    /** @var array<string, string> data found by validateId(), for the read() that follows it */
    private array $found = [];

    public function __construct()
    {
        $this->ttl = max(60, (int) ini_get('session.gc_maxlifetime'));
        $this->refresh = min(300, intdiv($this->ttl, 10));
    }

    private function db(): PDO
    {
        if ($this->pdo === null) {
            $dsn = sprintf('mysql:host=%s;port=%s;dbname=%s;charset=utf8mb4', getenv('DB_HOST'), getenv('DB_PORT') ?: '3306', getenv('DB_NAME'));
            $this->pdo = new PDO($dsn, getenv('DB_USER'), getenv('DB_PASSWORD'), [
                PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
                PDO::ATTR_TIMEOUT => 5,
                PDO::ATTR_PERSISTENT => true,
            ]);
        }
        return $this->pdo;
    }

    private function run(string $sql, array $args): PDOStatement
    {
        $st = $this->db()->prepare($sql);
        $st->execute($args);
        return $st;
    }

    /** The live session's data, remembering its expiry; null when there is none. */
    private function fetch(string $id): ?string
    {
        $st = $this->run('SELECT data, expires_at FROM ${SESSIONS_TABLE} WHERE id = ? AND expires_at > UNIX_TIMESTAMP()', [$id]);
        $row = $st->fetch(PDO::FETCH_NUM);
        if ($row === false) {
            return null;
        }
        $this->expires[$id] = (int) $row[1];
        return (string) $row[0];
    }

    public function open(string $path, string $name): bool { return true; }
    public function close(): bool { return true; }

    public function read(string $id): string|false
    {
        if (array_key_exists($id, $this->found)) {
            $data = $this->found[$id];
            unset($this->found[$id]);
            return $data;
        }
        return $this->fetch($id) ?? '';
    }

    public function write(string $id, string $data): bool
    {
        // Never stored and still empty: nothing to keep (read() answers '' for it either way).
        if ($data === '' && !isset($this->expires[$id])) {
            return true;
        }
        $this->run('INSERT INTO ${SESSIONS_TABLE} (id, data, expires_at) VALUES (?, ?, UNIX_TIMESTAMP() + ?)'
            . ' ON DUPLICATE KEY UPDATE data = VALUES(data), expires_at = VALUES(expires_at)', [$id, $data, $this->ttl]);
        return true;
    }

    public function destroy(string $id): bool
    {
        unset($this->expires[$id], $this->found[$id]);
        $this->run('DELETE FROM ${SESSIONS_TABLE} WHERE id = ?', [$id]);
        return true;
    }

    public function gc(int $max_lifetime): int|false
    {
        return $this->run('DELETE FROM ${SESSIONS_TABLE} WHERE expires_at < UNIX_TIMESTAMP() LIMIT 1000', [])->rowCount();
    }

    public function validateId(string $id): bool
    {
        $data = $this->fetch($id);
        if ($data === null) {
            return false;
        }
        $this->found[$id] = $data;
        return true;
    }

    public function updateTimestamp(string $id, string $data): bool
    {
        // Not stored (see write()) or pushed recently: nothing to write (no commit for a read-only page).
        if (!isset($this->expires[$id]) || $this->expires[$id] - time() > $this->ttl - $this->refresh) {
            return true;
        }
        $this->run('UPDATE ${SESSIONS_TABLE} SET expires_at = UNIX_TIMESTAMP() + ? WHERE id = ?', [$this->ttl, $id]);
        return true;
    }
}
session_set_save_handler(new RushhourSessionHandler(), true);
`;
}

/** The page browsers see beyond capacity: small, no assets, refreshes itself after Retry-After seconds. */
export function renderBusyPage(retryAfterSeconds: number): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="${retryAfterSeconds}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Busy - retrying</title></head>
<body style="font-family:sans-serif;max-width:32em;margin:4em auto">
<h1>Many people are using the site right now</h1>
<p>This page tries again by itself in ${retryAfterSeconds} seconds. Nothing you sent was lost or half done:
the request was not started.</p>
</body></html>
`;
}
