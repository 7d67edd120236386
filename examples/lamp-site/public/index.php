<?php
// Log in with student number and password.
declare(strict_types=1);
require __DIR__ . '/../lib/app.php';
start_session();

$error = '';
if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    check_csrf();
    $st = db()->prepare('SELECT s.id, p.password_hash FROM students s JOIN student_passwords p ON p.student_id = s.id WHERE s.student_no = ?');
    $st->execute([(string) ($_POST['student_no'] ?? '')]);
    $row = $st->fetch();
    if ($row && password_verify((string) ($_POST['password'] ?? ''), $row['password_hash'])) {
        session_regenerate_id(true);
        $_SESSION['student_id'] = (int) $row['id'];
        header('Location: courses.php');
        exit;
    }
    $error = '<p class="error">Wrong student number or password.</p>';
}
if (current_student() !== null) {
    header('Location: courses.php');
    exit;
}
page('Course selection: log in', $error . '<form method="post" action="index.php">'
    . '<input type="hidden" name="csrf" value="' . h($_SESSION['csrf']) . '">'
    . '<label>Student number <input name="student_no" required></label> '
    . '<label>Password <input name="password" type="password" required></label> '
    . '<button>Log in</button></form>');
