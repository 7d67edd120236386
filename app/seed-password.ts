/**
 * The password `rushhour seed` gives a student, and that the load tests log in with. Demo data: the pattern is
 * public (docs/app.md), like the rest of the reference data; a real deployment imports its own students with
 * their own hashes. No imports on purpose: k6 loads this file as it is (loadtest/scenarios pass it in).
 */
export function seedPassword(studentId: number): string {
  return `pw-${studentId}`;
}
