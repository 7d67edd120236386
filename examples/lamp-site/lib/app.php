<?php
// Shared code of the example course-selection site: configuration, PDO, session, HTML helpers.
declare(strict_types=1);

function config(): array
{
    static $config = null;
    if ($config === null) {
        $file = __DIR__ . '/../config.php';
        if (!is_readable($file)) {
            http_response_code(500);
            exit("config.php is missing: render it from deploy/config.php.tmpl\n");
        }
        $config = require $file;
    }
    return $config;
}

function db(): PDO
{
    static $pdo = null;
    if ($pdo === null) {
        $c = config();
        $dsn = "mysql:host={$c['db_host']};port={$c['db_port']};dbname={$c['db_name']};charset=utf8mb4";
        $pdo = new PDO($dsn, $c['db_user'], $c['db_password'], [
            PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
            PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
            PDO::ATTR_TIMEOUT => 5,
        ]);
    }
    return $pdo;
}

function start_session(): void
{
    session_name('coursesel');
    session_start(['cookie_httponly' => true, 'cookie_samesite' => 'Lax']);
    if (empty($_SESSION['csrf'])) {
        $_SESSION['csrf'] = bin2hex(random_bytes(16));
    }
}

function current_student(): ?array
{
    if (empty($_SESSION['student_id'])) {
        return null;
    }
    $st = db()->prepare('SELECT id, student_no, name FROM students WHERE id = ?');
    $st->execute([$_SESSION['student_id']]);
    return $st->fetch() ?: null;
}

function require_login(): array
{
    $s = current_student();
    if ($s === null) {
        header('Location: index.php');
        exit;
    }
    return $s;
}

function check_csrf(): void
{
    if ($_SERVER['REQUEST_METHOD'] !== 'POST' || !hash_equals($_SESSION['csrf'] ?? '', (string) ($_POST['csrf'] ?? ''))) {
        http_response_code(400);
        exit("bad request\n");
    }
}

function h(string|int|null $s): string
{
    return htmlspecialchars((string) $s, ENT_QUOTES, 'UTF-8');
}

function page(string $title, string $body): void
{
    header('Content-Type: text/html; charset=utf-8');
    echo "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" . h($title) . "</title>"
        . "<link rel=\"stylesheet\" href=\"/style.css\"></head><body><h1>" . h($title) . "</h1>\n" . $body . "\n</body></html>\n";
}

function flash(?string $message = null): string
{
    if ($message !== null) {
        $_SESSION['flash'] = $message;
        return '';
    }
    $m = $_SESSION['flash'] ?? '';
    unset($_SESSION['flash']);
    return $m === '' ? '' : '<p class="flash">' . h($m) . '</p>';
}
