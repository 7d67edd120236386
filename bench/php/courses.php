<?php
// The original study's stack for the same page: PHP (php-fpm behind nginx) listing the courses and
// recording one access row per view, with a plain (non-persistent) PDO connection per request.
$dsn = sprintf('mysql:host=%s;port=%s;dbname=%s;charset=utf8mb4', getenv('DB_HOST'), getenv('DB_PORT'), getenv('DB_NAME'));
try {
    $db = new PDO($dsn, getenv('DB_USER'), getenv('DB_PASSWORD'), [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
    $courses = $db->query('SELECT id, code, title, seats, taken FROM courses ORDER BY code')->fetchAll(PDO::FETCH_ASSOC);
    $db->prepare('INSERT INTO access_log (page) VALUES (?)')->execute(['courses']);
} catch (PDOException $e) {
    http_response_code(503);
    header('Retry-After: 1');
    echo 'database unavailable';
    exit;
}
$h = fn($s) => htmlspecialchars((string)$s, ENT_QUOTES, 'UTF-8');
header('Content-Type: text/html; charset=utf-8');
?><!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Course selection</title></head><body><h1>Course selection</h1>
<p><?= count($courses) ?> courses.</p>
<table><thead><tr><th>Code</th><th>Course</th><th>Taken</th><th>Seats</th></tr></thead><tbody>
<?php foreach ($courses as $c): $free = $c['seats'] - $c['taken']; ?>
<tr><td><?= $h($c['code']) ?></td><td><a href="/courses/<?= (int)$c['id'] ?>"><?= $h($c['title']) ?></a></td><td><?= (int)$c['taken'] ?> / <?= (int)$c['seats'] ?></td><td><?= $free > 0 ? $free . ' free' : 'full' ?></td></tr>
<?php endforeach; ?>
</tbody></table></body></html>
