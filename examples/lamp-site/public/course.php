<?php
// One course; reached as /course/<id> through the .htaccess rewrite, or course.php?id=<id>.
declare(strict_types=1);
require __DIR__ . '/../lib/app.php';
$st = db()->prepare('SELECT code, title, teacher, description, seats, taken FROM courses WHERE id = ?');
$st->execute([(int) ($_GET['id'] ?? 0)]);
$c = $st->fetch();
if (!$c) {
    http_response_code(404);
    page('No such course', '<p><a href="/courses.php">All courses</a></p>');
    exit;
}
page($c['code'] . ' ' . $c['title'], '<p>' . h($c['description']) . '</p><p>Teacher: ' . h($c['teacher'])
    . '</p><p>Seats left: ' . ((int) $c['seats'] - (int) $c['taken']) . ' of ' . h($c['seats']) . '</p>');
