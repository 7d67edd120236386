/** Jest runs TypeScript through SWC (fast, no type check); `tsc --noEmit` type-checks separately. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.tsx?$': ['@swc/jest'] },
  snapshotSerializers: ['<rootDir>/test/support/asset-hash-serializer.js'],
  // Service-backed tests (MariaDB, sshd, moto) start their own servers; two cores are enough for two workers.
  maxWorkers: 2,
  testTimeout: 120000,
};
