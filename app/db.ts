import * as mysql from 'mysql2/promise';
import { GroupBatcher, GroupInserter, ItemFailure, ReadCoalescer } from './coalesce';
import { isTransient } from '../src/sql/transient';
import type { DbConfig } from './config';
import { hashPassword, seedSalt } from './password';
import { seedPassword } from './seed-password';

/** One course as the JSON API returns it. */
export interface Course {
  id: number;
  code: string;
  title: string;
  seats: number;
  taken: number;
}

export interface CourseDetail extends Course {
  description: string;
  teacher: string;
}

export type RegisterResult = 'registered' | 'full' | 'duplicate' | 'no-such-course' | 'no-such-student';
export type DropResult = 'dropped' | 'not-registered';

/** Raised when the database cannot answer in time (down, restarting, pool exhausted): the caller answers 503. */
export class DbUnavailableError extends Error {
  constructor(
    message: string,
    readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'DbUnavailableError';
  }
}

/**
 * Raised when the statement that commits was sent but no answer came in time (a deadline, a lost connection):
 * the change may or may not be stored. Never a 503, which tells the client that nothing happened.
 */
export class OutcomeUnknownError extends Error {
  constructor(
    message: string,
    readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'OutcomeUnknownError';
  }
}

export function isDbUnavailable(err: unknown): boolean {
  if (err instanceof OutcomeUnknownError) return false;
  if (err instanceof DbUnavailableError) return true;
  const e = err as { code?: string; fatal?: boolean; message?: string } | undefined;
  if (!e) return false;
  // Unreachable, restarting, or lost a lock race: "not right now", not "the request is wrong".
  if (isTransient(e)) return true;
  if (e.fatal) return true;
  return /Queue limit reached|Pool is closed|connection is in closed state/i.test(e.message ?? '');
}

export interface PoolOptions {
  /** Connections kept at most. */
  readonly size: number;
  /** Callers allowed to wait for a connection; beyond it the pool fails at once. */
  readonly queueLimit: number;
  /** Connect timeout and per-statement timeout, milliseconds. */
  readonly timeoutMs: number;
}

/**
 * A bounded pool. Connections that die (DB restart, failover) are dropped by mysql2 and new ones are
 * made on demand, so the process recovers without a restart.
 */
export function createPool(db: DbConfig, opts: PoolOptions): mysql.Pool {
  return mysql.createPool({
    host: db.host,
    port: db.port,
    user: db.user,
    password: db.password,
    database: db.database,
    connectionLimit: opts.size,
    maxIdle: opts.size,
    idleTimeout: 60000,
    queueLimit: opts.queueLimit,
    waitForConnections: true,
    connectTimeout: Math.min(opts.timeoutMs, 5000),
    enableKeepAlive: true,
    keepAliveInitialDelay: 10000,
    charset: 'utf8mb4_unicode_ci',
    supportBigNumbers: true,
    dateStrings: true,
    // Lets a registration send BEGIN+UPDATE and INSERT+COMMIT as two round trips. Every statement
    // is a constant with ? placeholders (values escaped by mysql2), so no input can add a statement.
    multipleStatements: true,
  });
}

/** Versioned schema. Append new versions; never edit an applied one. */
export const MIGRATIONS: ReadonlyArray<{ version: number; statements: string[] }> = [
  {
    version: 1,
    statements: [
      `CREATE TABLE IF NOT EXISTS courses (
        id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        code VARCHAR(16) NOT NULL,
        title VARCHAR(200) NOT NULL,
        teacher VARCHAR(100) NOT NULL DEFAULT '',
        description TEXT NOT NULL,
        seats INT UNSIGNED NOT NULL,
        taken INT UNSIGNED NOT NULL DEFAULT 0,
        UNIQUE KEY uq_courses_code (code),
        CONSTRAINT ck_courses_taken CHECK (taken <= seats)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS students (
        id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        student_no VARCHAR(16) NOT NULL,
        name VARCHAR(100) NOT NULL,
        UNIQUE KEY uq_students_no (student_no)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      // The primary key is the "never the same course twice" rule.
      `CREATE TABLE IF NOT EXISTS registrations (
        student_id INT UNSIGNED NOT NULL,
        course_id INT UNSIGNED NOT NULL,
        created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        PRIMARY KEY (student_id, course_id),
        KEY ix_registrations_course (course_id),
        CONSTRAINT fk_registrations_student FOREIGN KEY (student_id) REFERENCES students (id),
        CONSTRAINT fk_registrations_course FOREIGN KEY (course_id) REFERENCES courses (id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      // One row per course-list view, as the original study recorded, to count concurrent users.
      `CREATE TABLE IF NOT EXISTS access_log (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        viewed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        page VARCHAR(32) NOT NULL,
        KEY ix_access_log_viewed_at (viewed_at)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    ],
  },
  {
    // Group commit for registrations: one round trip and one COMMIT for every registration that
    // arrived while the previous batch ran. Per item the same rules as the single transaction
    // (conditional UPDATE, primary key, foreign keys); one letter per item comes back in order:
    // R registered, F full, D duplicate, C no such course, S no such student. Any other error rolls
    // the whole batch back and reaches the caller, so no item is half done.
    version: 2,
    statements: [
      'DROP PROCEDURE IF EXISTS rushhour_register_batch',
      `CREATE PROCEDURE rushhour_register_batch(IN items TEXT)
        MODIFIES SQL DATA SQL SECURITY INVOKER
        COMMENT 'rushhour: registers [[studentId, courseId], ...] in one transaction'
      BEGIN
        DECLARE n INT DEFAULT JSON_LENGTH(items);
        DECLARE i INT DEFAULT 0;
        DECLARE student INT UNSIGNED;
        DECLARE course INT UNSIGNED;
        DECLARE failed INT DEFAULT 0;
        DECLARE outcomes VARCHAR(1000) DEFAULT '';
        DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
        IF n IS NULL OR n > 1000 THEN
          SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'rushhour_register_batch: items must be a JSON array of at most 1000 pairs';
        END IF;
        START TRANSACTION;
        WHILE i < n DO
          SET student = JSON_VALUE(items, CONCAT('$[', i, '][0]'));
          SET course = JSON_VALUE(items, CONCAT('$[', i, '][1]'));
          UPDATE courses SET taken = taken + 1 WHERE id = course AND taken < seats;
          IF ROW_COUNT() = 0 THEN
            SET outcomes = CONCAT(outcomes, IF(EXISTS (SELECT 1 FROM courses WHERE id = course), 'F', 'C'));
          ELSE
            BEGIN
              DECLARE CONTINUE HANDLER FOR 1062 SET failed = 1062;
              DECLARE CONTINUE HANDLER FOR 1452 SET failed = 1452;
              SET failed = 0;
              INSERT INTO registrations (student_id, course_id) VALUES (student, course);
            END;
            IF failed = 0 THEN
              SET outcomes = CONCAT(outcomes, 'R');
            ELSE
              UPDATE courses SET taken = taken - 1 WHERE id = course;
              SET outcomes = CONCAT(outcomes, IF(failed = 1062, 'D', 'S'));
            END IF;
          END IF;
          SET i = i + 1;
        END WHILE;
        COMMIT;
        SELECT outcomes;
      END`,
    ],
  },
  {
    // Login (app/auth.ts): a scrypt hash per student in a table of its own (the students queries stay as they
    // are), and the key that signs session cookies. The key row is not made here but by the first app process
    // that starts (INSERT IGNORE of random bytes), so a dump of a freshly seeded database (the example dump)
    // carries no key, and every process and instance sharing the database shares the key.
    version: 3,
    statements: [
      `CREATE TABLE IF NOT EXISTS student_credentials (
        student_id INT UNSIGNED NOT NULL PRIMARY KEY,
        password_hash VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        CONSTRAINT fk_student_credentials_student FOREIGN KEY (student_id) REFERENCES students (id) ON DELETE CASCADE
      ) ENGINE=InnoDB`,
      `CREATE TABLE IF NOT EXISTS rushhour_keys (
        name VARCHAR(32) CHARACTER SET ascii NOT NULL PRIMARY KEY,
        secret VARBINARY(64) NOT NULL,
        created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
      ) ENGINE=InnoDB`,
    ],
  },
];

/** Applies missing migrations; a named lock keeps several processes from migrating at once. */
export async function migrate(pool: mysql.Pool): Promise<number[]> {
  const conn = await pool.getConnection();
  try {
    const [lock] = await conn.query<mysql.RowDataPacket[]>("SELECT GET_LOCK('rushhour_migrate', 60) AS ok");
    if (lock[0]?.ok !== 1)
      throw new Error('could not get the migration lock within 60 s (another process is migrating?)');
    try {
      await conn.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INT UNSIGNED NOT NULL PRIMARY KEY, applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB`);
      const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT version FROM schema_migrations');
      const done = new Set(rows.map((r) => Number(r.version)));
      const applied: number[] = [];
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        for (const s of m.statements) await conn.query(s);
        await conn.query('INSERT INTO schema_migrations (version) VALUES (?)', [m.version]);
        applied.push(m.version);
      }
      return applied;
    } finally {
      await conn.query("SELECT RELEASE_LOCK('rushhour_migrate')");
    }
  } finally {
    conn.release();
  }
}

export interface SeedOptions {
  readonly courses: number;
  readonly students: number;
  /** Seats for every course; by default they vary between 20 and 120 (deterministically). */
  readonly seats?: number;
  /** Replace existing data (registrations included). Without it, seeding a non-empty database is refused. */
  readonly reset?: boolean;
}

const SUBJECTS = [
  'Algorithms',
  'Databases',
  'Operating Systems',
  'Networks',
  'Linear Algebra',
  'Calculus',
  'Statistics',
  'Compilers',
  'Distributed Systems',
  'Economics',
  'Philosophy',
  'Physics',
  'Chemistry',
  'Biology',
  'History',
  'Literature',
  'Law',
  'Psychology',
  'Music',
  'Art History',
  'Japanese',
  'German',
];
const LEVELS = ['Introduction to', 'Advanced'];
const TEACHERS = [
  'Prof. Sato',
  'Prof. Okafor',
  'Dr. Lindqvist',
  'Dr. Moreau',
  'Prof. Alvarez',
  'Dr. Chen',
  'Prof. Novak',
];

/** Deterministic reference data: the same options give the same rows. */
export async function seed(pool: mysql.Pool, opts: SeedOptions): Promise<{ courses: number; students: number }> {
  if (!Number.isInteger(opts.courses) || opts.courses < 1 || opts.courses > 10000)
    throw new Error('courses must be an integer from 1 to 10000');
  if (!Number.isInteger(opts.students) || opts.students < 0 || opts.students > 10_000_000)
    throw new Error('students must be an integer from 0 to 10000000');
  if (opts.seats !== undefined && (!Number.isInteger(opts.seats) || opts.seats < 1))
    throw new Error('seats must be a positive integer');
  await migrate(pool);
  const conn = await pool.getConnection();
  try {
    const [[counts]] = await conn.query<mysql.RowDataPacket[]>(
      'SELECT (SELECT COUNT(*) FROM courses) AS c, (SELECT COUNT(*) FROM students) AS s, (SELECT COUNT(*) FROM registrations) AS r',
    );
    const existing = Number(counts.c) + Number(counts.s) + Number(counts.r);
    if (existing > 0 && !opts.reset) {
      throw new Error(
        `the database already holds ${counts.c} courses, ${counts.s} students and ${counts.r} registrations; ` +
          'pass --reset to replace them (registrations are deleted)',
      );
    }
    await conn.query('START TRANSACTION');
    for (const t of ['registrations', 'access_log', 'student_credentials', 'students', 'courses'])
      await conn.query(`DELETE FROM ${t}`);
    await conn.query('ALTER TABLE courses AUTO_INCREMENT = 1').catch(() => undefined);
    const courseRows: unknown[][] = [];
    for (let i = 0; i < opts.courses; i++) {
      const subject = SUBJECTS[i % SUBJECTS.length];
      const level = LEVELS[Math.floor(i / SUBJECTS.length) % LEVELS.length];
      const round = Math.floor(i / (SUBJECTS.length * LEVELS.length));
      const title = `${level} ${subject}${round ? ` ${round + 1}` : ''}`;
      const code = `${subject
        .replace(/[^A-Za-z]/g, '')
        .slice(0, 3)
        .toUpperCase()}${100 + i}`;
      const seats = opts.seats ?? 20 + ((i * 37) % 101);
      courseRows.push([
        i + 1,
        code,
        title,
        TEACHERS[i % TEACHERS.length],
        `${title}: lectures, exercises and a final exam.`,
        seats,
      ]);
    }
    await conn.query('INSERT INTO courses (id, code, title, teacher, description, seats) VALUES ?', [courseRows]);
    for (let start = 0; start < opts.students; start += 5000) {
      const rows: unknown[][] = [];
      for (let i = start; i < Math.min(opts.students, start + 5000); i++) {
        rows.push([i + 1, `S${String(i + 1).padStart(7, '0')}`, `Student ${i + 1}`]);
      }
      await conn.query('INSERT INTO students (id, student_no, name) VALUES ?', [rows]);
      await conn.query('INSERT INTO student_credentials (student_id, password_hash) VALUES ?', [
        await seedCredentials(start + 1, start + rows.length),
      ]);
    }
    await conn.query('COMMIT');
    return { courses: opts.courses, students: opts.students };
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    conn.release();
  }
}

/**
 * [id, scrypt hash of seedPassword(id)] for the students first..last. Eight hashes at a time: scrypt runs on libuv's
 * thread pool (4 threads), so the seed uses every core without queueing thousands of 4 MiB jobs at once.
 */
async function seedCredentials(first: number, last: number): Promise<Array<[number, string]>> {
  const rows: Array<[number, string]> = [];
  let next = first;
  const worker = async () => {
    for (let id = next++; id <= last; id = next++)
      rows.push([id, await hashPassword(seedPassword(id), undefined, seedSalt(id))]);
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return rows.sort((a, b) => a[0] - b[0]);
}

type Row = mysql.RowDataPacket;
type CoreConnection = Parameters<Parameters<mysql.Pool['pool']['getConnection']>[0]>[1];

/** The statements the app runs. Kept in one place so the benchmark drives exactly these directly. */
export const SQL = {
  listCourses: 'SELECT id, code, title, seats, taken FROM courses ORDER BY code',
  recordView: 'INSERT INTO access_log (page) VALUES (?)',
  courseDetail: 'SELECT id, code, title, seats, taken, teacher, description FROM courses WHERE id = ?',
  beginTakeSeat: 'START TRANSACTION; UPDATE courses SET taken = taken + 1 WHERE id = ? AND taken < seats',
  insertRegistrationCommit: 'INSERT INTO registrations (student_id, course_id) VALUES (?, ?); COMMIT',
  deleteRegistration: 'DELETE FROM registrations WHERE student_id = ? AND course_id = ?',
  freeSeat: 'UPDATE courses SET taken = taken - 1 WHERE id = ? AND taken > 0',
  courseExists: 'SELECT 1 FROM courses WHERE id = ?',
  registerBatch: 'CALL rushhour_register_batch(?)',
} as const;

const BATCH_OUTCOMES: Record<string, RegisterResult> = {
  R: 'registered',
  F: 'full',
  D: 'duplicate',
  C: 'no-such-course',
  S: 'no-such-student',
};

/** The driver's error code, also through the DbUnavailableError that wraps it. */
function errorCode(err: unknown): string | undefined {
  const e = err as { code?: string; cause?: { code?: string } } | undefined;
  return e?.code ?? e?.cause?.code;
}

/**
 * The server answered the statement with an error: it ran and failed, so a transaction it was to commit did
 * not commit (the batch routine's handler rolls back). A timeout or a lost connection is not an answer.
 */
function serverRefused(err: unknown): boolean {
  const e = (err instanceof DbUnavailableError ? err.cause : err) as
    { sqlState?: unknown; fatal?: boolean } | undefined;
  return typeof e?.sqlState === 'string' && !e.fatal;
}

/**
 * One registration on its way to the database. `mayBeStored` is set just before a statement that commits it is
 * sent, and cleared when the server refused that statement; `abandoned` is set when the caller stopped waiting
 * (and was told it is not registered, unless `mayBeStored`), after which nothing may send it.
 */
interface Ticket {
  readonly studentId: number;
  readonly courseId: number;
  mayBeStored: boolean;
  abandoned: boolean;
}

const ticket = (studentId: number, courseId: number): Ticket => ({
  studentId,
  courseId,
  mayBeStored: false,
  abandoned: false,
});

function outcomeUnknown(cause: unknown): OutcomeUnknownError {
  return new OutcomeUnknownError(
    `the database did not confirm the commit in time (${(cause as Error)?.message ?? cause}): it may or may not be stored`,
    cause,
  );
}

/** The database has no batch routine (a schema before migration 2) or the user may not run it. */
function isMissingRoutine(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ER_SP_DOES_NOT_EXIST' || code === 'ER_PROCACCESS_DENIED_ERROR';
}

/** Data access with a deadline on every call, so a hung database turns into 503s instead of piling up. */
export class CourseStore {
  private readonly sharedList: ReadCoalescer<Course[]>;
  private readonly views: GroupInserter<string>;
  private readonly registrations: GroupBatcher<Ticket, RegisterResult>;
  /** Cleared when the database has no batch routine; registrations then run one transaction each. */
  private batchRegistration: boolean;
  /** Group-commit counters (on /healthz): their ratio is the average batch size. */
  readonly batches = { calls: 0, registrations: 0 };

  /**
   * @param coalesce share course-list reads among concurrent views, group the access rows into
   *   multi-row INSERTs and group-commit registrations (see ./coalesce). Off, every view runs its own
   *   SELECT and INSERT and every registration its own transaction.
   */
  constructor(
    readonly pool: mysql.Pool,
    private readonly timeoutMs: number,
    private readonly coalesce = true,
  ) {
    this.sharedList = new ReadCoalescer(() => this.listCourses());
    this.views = new GroupInserter(async (pages) => {
      await this.q(`INSERT INTO access_log (page) VALUES ${pages.map(() => '(?)').join(', ')}`, pages, 'query');
    });
    this.registrations = new GroupBatcher((items) => this.registerBatch(items), 500);
    this.batchRegistration = coalesce;
  }

  /** How registrations reach the database now (shown on /healthz). */
  get registrationMode(): 'batched' | 'per-request' {
    return this.batchRegistration ? 'batched' : 'per-request';
  }

  /**
   * The course list, and one access row for this view (both at once, on two connections).
   * The response waits for its own access row, so a view is counted before it is answered.
   */
  async listCoursesAndRecordView(page = 'courses'): Promise<Course[]> {
    if (!this.coalesce) {
      const [courses] = await Promise.all([this.listCourses(), this.q(SQL.recordView, [page])]);
      return courses;
    }
    const [courses] = await Promise.all([this.sharedList.get(), withDeadline(this.views.add(page), this.timeoutMs)]);
    return courses;
  }

  /** The course list, read together with concurrent callers when coalescing is on (never older than the call). */
  listCoursesShared(): Promise<Course[]> {
    return this.coalesce ? this.sharedList.get() : this.listCourses();
  }

  async listCourses(): Promise<Course[]> {
    const rows = await this.q<Row[]>(SQL.listCourses, []);
    return rows.map(toCourse);
  }

  async course(id: number): Promise<CourseDetail | undefined> {
    const rows = await this.q<Row[]>(SQL.courseDetail, [id]);
    if (!rows.length) return undefined;
    return { ...toCourse(rows[0]), teacher: rows[0].teacher, description: rows[0].description };
  }

  async ping(): Promise<void> {
    await this.q('SELECT 1', []);
  }

  /**
   * Registers a student for a course: group-committed with the registrations that arrive meanwhile
   * (one round trip for the batch), or one transaction of its own when batching is off or the
   * database lacks the batch routine. The answer comes after the COMMIT either way.
   */
  async register(studentId: number, courseId: number): Promise<RegisterResult> {
    if (this.batchRegistration) {
      const t = ticket(studentId, courseId);
      try {
        return await withDeadline(this.registrations.add(t), this.timeoutMs);
      } catch (err) {
        if (!isMissingRoutine(err)) {
          t.abandoned = true; // a batch that has not sent it yet leaves it out
          if (t.mayBeStored && !(err instanceof OutcomeUnknownError)) throw outcomeUnknown(err);
          throw err;
        }
        this.batchRegistration = false; // nothing of the batch ran: fall back for this and later calls
      }
    }
    return this.registerOne(studentId, courseId);
  }

  /**
   * One batch in one CALL, of the items whose callers still wait. Items are sorted by course then student so
   * that concurrent batches (other processes, other instances) take the course row locks in the same order and
   * do not deadlock; a deadlock that still happens rolls the batch back and it is retried once. When the server
   * refuses the batch for a value it cannot store, the items run one transaction each, so that only the bad
   * item fails. When the CALL was sent and no answer came (timeout, lost connection), every item in it is
   * "outcome unknown": the routine may have committed.
   */
  private async registerBatch(tickets: Ticket[]): Promise<Array<RegisterResult | ItemFailure>> {
    const gone = new ItemFailure(new DbUnavailableError('the caller stopped waiting before the batch was sent'));
    let conn: CoreConnection | undefined = await this.coreConnection();
    try {
      for (let attempt = 1; ; attempt++) {
        const live = tickets.filter((t) => !t.abandoned);
        if (!live.length) return tickets.map(() => gone);
        live.sort((a, b) => a.courseId - b.courseId || a.studentId - b.studentId);
        const payload = JSON.stringify(live.map((t) => [t.studentId, t.courseId]));
        for (const t of live) t.mayBeStored = true;
        let letters: string;
        try {
          const result = await this.coreQuery<Row[][]>(conn, SQL.registerBatch, [payload]);
          letters = String(result[0]?.[0]?.outcomes ?? '');
        } catch (err) {
          if (!serverRefused(err)) {
            conn.destroy(); // a statement may still be running on it
            conn = undefined;
            throw outcomeUnknown(err);
          }
          for (const t of live) t.mayBeStored = false; // the routine's handler rolled the whole batch back
          if (errorCode(err) === 'ER_LOCK_DEADLOCK' && attempt < 2) continue;
          if (live.length === 1 || isMissingRoutine(err) || isDbUnavailable(err)) throw wrap(err);
          conn.release();
          conn = undefined;
          return await this.registerEach(tickets);
        }
        this.batches.calls++;
        this.batches.registrations += live.length;
        if (letters.length !== live.length)
          throw new Error(`rushhour_register_batch answered ${letters.length} outcomes for ${live.length} items`);
        const outcomes = new Map(live.map((t, k) => [t, BATCH_OUTCOMES[letters[k]]]));
        return tickets.map((t) => outcomes.get(t) ?? gone);
      }
    } finally {
      conn?.release();
    }
  }

  /** The fallback for a refused batch: one transaction per item, four at a time, each with its own outcome. */
  private async registerEach(tickets: Ticket[]): Promise<Array<RegisterResult | ItemFailure>> {
    const outcomes: Array<RegisterResult | ItemFailure> = new Array(tickets.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < tickets.length; i = next++) {
        const t = tickets[i];
        outcomes[i] = await this.registerOne(t.studentId, t.courseId, t).catch((err) => new ItemFailure(err));
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, tickets.length) }, worker));
    return outcomes;
  }

  /** A connection of the callback pool within the deadline; one that arrives late goes straight back. */
  private coreConnection(): Promise<CoreConnection> {
    let late = false;
    const pending = new Promise<CoreConnection>((resolve, reject) =>
      this.pool.pool.getConnection((err, conn) => {
        if (err) return reject(wrap(err));
        if (late) return conn.release();
        resolve(conn);
      }),
    );
    return withDeadline(pending, this.timeoutMs).catch((err) => {
      late = true;
      throw err;
    });
  }

  /** A query on a callback-pool connection, with the per-statement timeout and the deadline. */
  private coreQuery<T>(conn: CoreConnection, sql: string, params: unknown[]): Promise<T> {
    const run = new Promise<T>((resolve, reject) =>
      conn.query({ sql, timeout: this.timeoutMs }, params, (err, rows) => (err ? reject(err) : resolve(rows as T))),
    );
    return withDeadline(run, this.timeoutMs);
  }

  /**
   * Takes a seat and records the registration in one transaction. The conditional UPDATE holds the
   * course row lock until COMMIT, so seats never oversell; the primary key refuses a second
   * registration of the same student, and the ROLLBACK gives the seat back. A full course costs one
   * UPDATE and a ROLLBACK, no more.
   */
  async registerOne(
    studentId: number,
    courseId: number,
    t: Ticket = ticket(studentId, courseId),
  ): Promise<RegisterResult> {
    // Two round trips on the success path: BEGIN+UPDATE, then INSERT+COMMIT. When the INSERT fails
    // the server skips the COMMIT, and the ROLLBACK below gives the seat back.
    return this.tx(async (conn) => {
      const [begin] = await conn.query<mysql.ResultSetHeader[]>({ sql: SQL.beginTakeSeat, timeout: this.timeoutMs }, [
        courseId,
      ]);
      if (begin[1].affectedRows === 0) {
        await conn.query('ROLLBACK');
        const [exists] = await conn.execute<Row[]>({ sql: SQL.courseExists, timeout: this.timeoutMs }, [courseId]);
        return exists.length ? 'full' : 'no-such-course';
      }
      if (t.abandoned) throw new DbUnavailableError('the caller stopped waiting before the registration was sent');
      t.mayBeStored = true;
      try {
        await conn.query({ sql: SQL.insertRegistrationCommit, timeout: this.timeoutMs }, [studentId, courseId]);
      } catch (err) {
        if (!serverRefused(err)) throw outcomeUnknown(err);
        t.mayBeStored = false; // the INSERT failed, so the server skipped the COMMIT
        const code = (err as { code?: string }).code;
        if (code === 'ER_DUP_ENTRY') {
          await conn.query('ROLLBACK');
          return 'duplicate';
        }
        if (code === 'ER_NO_REFERENCED_ROW_2' || code === 'ER_NO_REFERENCED_ROW') {
          await conn.query('ROLLBACK');
          return 'no-such-student';
        }
        throw err;
      }
      return 'registered';
    }, false);
  }

  async drop(studentId: number, courseId: number): Promise<DropResult> {
    return this.tx(async (conn) => {
      const [del] = await conn.execute<mysql.ResultSetHeader>(
        { sql: SQL.deleteRegistration, timeout: this.timeoutMs },
        [studentId, courseId],
      );
      if (del.affectedRows === 0) {
        await conn.query('ROLLBACK');
        return 'not-registered';
      }
      await conn.execute({ sql: SQL.freeSeat, timeout: this.timeoutMs }, [courseId]);
      try {
        await conn.query({ sql: 'COMMIT', timeout: this.timeoutMs });
      } catch (err) {
        if (!serverRefused(err)) throw outcomeUnknown(err);
        throw err;
      }
      return 'dropped';
    });
  }

  private async q<T>(sql: string, params: unknown[], protocol: 'execute' | 'query' = 'execute'): Promise<T> {
    try {
      // Prepared statements for the fixed statements; the text protocol for variable-length batches
      // (a prepared statement per batch size would fill the server's statement cache).
      // The callback pool under mysql2's promise wrapper: the wrapper captures a stack trace per
      // call, about 4% of the app's CPU per request in a profile under bench/app.ts's load.
      const core = this.pool.pool;
      const run = new Promise<T>((resolve, reject) => {
        const done = (err: unknown, rows: unknown) => (err ? reject(err) : resolve(rows as T));
        if (protocol === 'execute') core.execute({ sql, timeout: this.timeoutMs }, params as never[], done);
        else core.query({ sql, timeout: this.timeoutMs }, params, done);
      });
      return await withDeadline(run, this.timeoutMs);
    } catch (err) {
      throw wrap(err);
    }
  }

  /** A connection within the deadline; one that arrives late goes straight back to the pool. */
  private async acquire(): Promise<mysql.PoolConnection> {
    const pending = this.pool.getConnection();
    try {
      return await withDeadline(pending, this.timeoutMs);
    } catch (err) {
      pending.then(
        (c) => c.release(),
        () => undefined,
      );
      throw err;
    }
  }

  /** Runs `work` in a transaction; retries once on deadlock; a broken connection is destroyed, not returned. */
  private async tx<T>(work: (conn: mysql.PoolConnection) => Promise<T>, begin = true): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let conn: mysql.PoolConnection | undefined;
      try {
        conn = await this.acquire();
        if (begin) await conn.query('START TRANSACTION');
        const result = await work(conn);
        conn.release();
        return result;
      } catch (err) {
        if (conn) {
          const c = conn;
          // After a timeout or a lost connection the session state is unknown: do not reuse it.
          if (isDbUnavailable(err) || err instanceof OutcomeUnknownError) c.destroy();
          else
            await c.query('ROLLBACK').then(
              () => c.release(),
              () => c.destroy(),
            );
        }
        if ((err as { code?: string }).code === 'ER_LOCK_DEADLOCK' && attempt < 2) continue;
        throw wrap(err);
      }
    }
  }
}

function toCourse(r: Row): Course {
  return { id: Number(r.id), code: r.code, title: r.title, seats: Number(r.seats), taken: Number(r.taken) };
}

function wrap(err: unknown): unknown {
  if (isDbUnavailable(err) && !(err instanceof DbUnavailableError)) {
    return new DbUnavailableError(`database unavailable: ${(err as Error).message}`, err);
  }
  return err;
}

export function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DbUnavailableError(`database did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}
