<?php
// Gives a seat back.
declare(strict_types=1);
require __DIR__ . '/../lib/app.php';
start_session();
$me = require_login();
check_csrf();
$course = (int) ($_POST['course_id'] ?? 0);
$pdo = db();
$pdo->beginTransaction();
$del = $pdo->prepare('DELETE FROM registrations WHERE student_id = ? AND course_id = ?');
$del->execute([$me['id'], $course]);
if ($del->rowCount() > 0) {
    $pdo->prepare('UPDATE courses SET taken = taken - 1 WHERE id = ?')->execute([$course]);
}
$pdo->commit();
flash($del->rowCount() > 0 ? 'Dropped.' : 'You were not registered for that course.');
header('Location: courses.php');
