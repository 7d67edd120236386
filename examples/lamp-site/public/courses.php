<?php
// The course list with seats left, and the student's own registrations.
declare(strict_types=1);
require __DIR__ . '/../lib/app.php';
start_session();
$me = require_login();

$mine = db()->prepare('SELECT course_id FROM registrations WHERE student_id = ?');
$mine->execute([$me['id']]);
$registered = array_flip($mine->fetchAll(PDO::FETCH_COLUMN));
$rows = '';
foreach (db()->query('SELECT id, code, title, teacher, seats, taken FROM courses ORDER BY code') as $c) {
    $left = (int) $c['seats'] - (int) $c['taken'];
    $action = isset($registered[$c['id']]) ? 'drop' : 'register';
    $button = ($action === 'register' && $left <= 0) ? 'full' : '<form method="post" action="' . $action . '.php">'
        . '<input type="hidden" name="csrf" value="' . h($_SESSION['csrf']) . '">'
        . '<input type="hidden" name="course_id" value="' . h($c['id']) . '"><button>' . ucfirst($action) . '</button></form>';
    $rows .= '<tr><td><a href="course.php?id=' . h($c['id']) . '">' . h($c['code']) . '</a></td><td>' . h($c['title']) . '</td><td>'
        . h($c['teacher']) . '</td><td class="left">' . $left . '</td><td>' . $button . '</td></tr>';
}
page('Courses for ' . $me['name'], flash() . '<p>Logged in as ' . h($me['student_no']) . ' ('
    . count($registered) . ' registered) <a href="logout.php">log out</a></p>'
    . '<table><tr><th>Code</th><th>Title</th><th>Teacher</th><th>Seats left</th><th></th></tr>' . $rows . '</table>');
