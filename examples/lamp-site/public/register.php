<?php
// Takes a seat: a conditional UPDATE (never more registrations than seats) and the primary key
// (never the same course twice) in one transaction.
declare(strict_types=1);
require __DIR__ . '/../lib/app.php';
start_session();
$me = require_login();
check_csrf();
$course = (int) ($_POST['course_id'] ?? 0);
$pdo = db();
$pdo->beginTransaction();
try {
    $up = $pdo->prepare('UPDATE courses SET taken = taken + 1 WHERE id = ? AND taken < seats');
    $up->execute([$course]);
    if ($up->rowCount() === 0) {
        $pdo->rollBack();
        flash('That course is full.');
    } else {
        $pdo->prepare('INSERT INTO registrations (student_id, course_id) VALUES (?, ?)')->execute([$me['id'], $course]);
        $pdo->commit();
        flash('Registered.');
    }
} catch (PDOException $e) {
    $pdo->rollBack();
    if ($e->getCode() !== '23000') throw $e;
    flash('You are already registered for that course.');
}
header('Location: courses.php');
