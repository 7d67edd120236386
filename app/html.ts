import { escapeHtml } from '../src/util/html';
import type { Course, CourseDetail } from './db';

function page(title: string, body: string, head = ''): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>${head}
<style>body{font-family:system-ui,sans-serif;max-width:56rem;margin:1rem auto;padding:0 1rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left}.full{color:#a00}.msg{padding:.6rem;background:#eef}</style>
</head><body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
}

export function courseListPage(courses: Course[]): string {
  const rows = courses
    .map((c) => {
      const free = c.seats - c.taken;
      return (
        `<tr><td>${escapeHtml(c.code)}</td><td><a href="/courses/${c.id}">${escapeHtml(c.title)}</a></td><td>${c.taken} / ${c.seats}</td>` +
        `<td${free > 0 ? '' : ' class="full"'}>${free > 0 ? `${free} free` : 'full'}</td></tr>`
      );
    })
    .join('\n');
  return page(
    'Course selection',
    `<p>${courses.length} courses.</p>
<table><thead><tr><th>Code</th><th>Course</th><th>Taken</th><th>Seats</th></tr></thead>
<tbody>
${rows}
</tbody></table>`,
  );
}

/** The logged-in student of a page and the CSRF token its forms carry (app/auth.ts). */
export interface PageSession {
  readonly studentId: number;
  readonly csrfToken: string;
}

export function courseDetailPage(c: CourseDetail, message?: string, session?: PageSession): string {
  const free = c.seats - c.taken;
  const token = session ? `<input type="hidden" name="csrf" value="${escapeHtml(session.csrfToken)}">` : '';
  const forms = session
    ? `<p>Logged in as student ${session.studentId}.</p>
<form method="post" action="/courses/${c.id}/register">${token}<button type="submit">Register</button></form>
<form method="post" action="/courses/${c.id}/drop">${token}<button type="submit">Drop this course</button></form>
<form method="post" action="/logout">${token}<button type="submit">Log out</button></form>`
    : '<p><a href="/login">Log in</a> to register for this course or drop it.</p>';
  return page(
    `${c.code} ${c.title}`,
    `${message ? `<p class="msg">${escapeHtml(message)}</p>` : ''}
<p>${escapeHtml(c.description)}</p>
<p>Teacher: ${escapeHtml(c.teacher)}</p>
<p>Seats: ${c.seats}, taken: ${c.taken}, ${free > 0 ? `${free} free` : '<span class="full">full</span>'}</p>
${forms}
<p><a href="/courses">All courses</a></p>`,
  );
}

/** The login form (no JavaScript): student number and password, posted to /login. */
export function loginPage(message?: string): string {
  return page(
    'Log in',
    `${message ? `<p class="msg">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/login">
<label>Student number (id) <input name="studentId" type="number" min="1" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Log in</button>
</form>
<p><a href="/courses">All courses</a></p>`,
  );
}

export function messagePage(title: string, message: string, backHref = '/courses'): string {
  return page(title, `<p class="msg">${escapeHtml(message)}</p><p><a href="${escapeHtml(backHref)}">Back</a></p>`);
}

/** Shown instead of a 503 error to browsers: it reloads itself after `retryAfterSeconds`. */
export function queuePage(retryAfterSeconds: number, retryUrl: string): string {
  return page(
    'You are in the queue',
    `<p>Many students are choosing courses right now. You are in the queue;
this page retries by itself in ${retryAfterSeconds} second${retryAfterSeconds === 1 ? '' : 's'}. Please do not close it.</p>`,
    `<meta http-equiv="refresh" content="${retryAfterSeconds}; url=${escapeHtml(retryUrl)}">`,
  );
}
