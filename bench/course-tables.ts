/** The benches' generated database: roughly a course-selection database, scaled to about `mb` MB. */
export function benchRows(mb: number): { readonly students: number; readonly blobs: number } {
  // Many small rows (~150 bytes, 3/4 of the size) plus some ~3 KB blobs (1/10).
  return { students: Math.round((mb * 1024 * 1024 * 0.75) / 150), blobs: Math.round((mb * 1024 * 1024 * 0.1) / 3000) };
}

/**
 * The tables (and the 43 courses) in the current database; the rows come from each bench's own INSERTs.
 * `courseIndex` adds `KEY (course_id)` to registrations, as the import bench has it (the index to build).
 */
export function benchTables(options: { readonly courseIndex: boolean }): string {
  return `CREATE TABLE courses (id INT PRIMARY KEY, code VARCHAR(16) NOT NULL UNIQUE, title VARCHAR(200) NOT NULL, seats INT NOT NULL, taken INT NOT NULL DEFAULT 0) ENGINE=InnoDB;
    CREATE TABLE students (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(120) NOT NULL, note VARCHAR(255), KEY (email)) ENGINE=InnoDB;
    CREATE TABLE registrations (student_id INT NOT NULL, course_id INT NOT NULL, created_at DATETIME(3) NOT NULL, PRIMARY KEY (student_id, course_id)${options.courseIndex ? ', KEY (course_id)' : ''}) ENGINE=InnoDB;
    CREATE TABLE photos (id INT PRIMARY KEY, student_id INT NOT NULL, data MEDIUMBLOB NOT NULL) ENGINE=InnoDB;
    INSERT INTO courses SELECT seq, CONCAT('C', seq), CONCAT('Course 選課 ', seq, ' 🎓'), 20 + seq % 100, 0 FROM seq_1_to_43;`;
}
