import { formatReport, rehearsalFailures, RehearsalReport } from '../../src/rehearsal/runbook';

/** A report as the rehearsal writes it when everything held; each test breaks one fact. */
function report(
  overrides: Partial<{
    load: Partial<RehearsalReport['load']>;
    registrations: Partial<RehearsalReport['registrations']>;
    syncBack: Partial<RehearsalReport['syncBack']>;
  }> = {},
): RehearsalReport {
  return {
    startedAt: '2027-02-01T00:00:00.000Z',
    finishedAt: '2027-02-01T00:05:00.000Z',
    steps: [{ name: '1. origin', seconds: 1.5 }],
    pulled: { dumpBytes: 6000, dumpSha256: 'a'.repeat(64), webSha256: 'b'.repeat(64), webBytes: 700000 },
    imported: {
      statements: 67,
      slices: 1,
      ssmParameters: ['/p/host', '/p/name', '/p/password-secret-arn', '/p/port', '/p/user'],
    },
    load: {
      passed: true,
      failures: [],
      requests: 500,
      requestsPerSecond: 25,
      peakRequestsPerSecond: 60,
      latencyMs: { p50: 4, p95: 12, p99: 30 },
      errorsByStatus: {},
      overloaded: 0,
      perProcess: [{ balancer: 1, process: 1, requests: 500, requestsPerSecond: 25 }],
      ...overrides.load,
    },
    registrations: {
      cloud: 200,
      origin: 200,
      oversoldAtOrigin: 0,
      missingAtOrigin: 0,
      path: { processes: 6, batchedProcesses: 6, batchedRegistrations: 230, batches: 180 },
      ...overrides.registrations,
    },
    syncBack: { identical: true, tables: 5, ...overrides.syncBack },
    cost: {
      currency: 'USD',
      region: 'us-east-1',
      pricesAsOf: '2025-01-15',
      deploymentDays: 7,
      items: [],
      total: 0,
      warnings: [],
    },
    files: { report: 'r.txt', json: 'r.json', chart: 'c.html', loadSummary: 's.json' },
  };
}

describe('rehearsal verdict', () => {
  test('a week that held passes and says so', () => {
    expect(rehearsalFailures(report())).toEqual([]);
    expect(formatReport(report())).toContain('VERDICT: the week holds');
  });

  test.each([
    [
      'a lost registration',
      { registrations: { origin: 199, missingAtOrigin: 1 } },
      /registrations: 200 in the cloud, 199 at the origin/,
    ],
    ['an oversold course', { registrations: { oversoldAtOrigin: 1 } }, /1 course\(s\) oversold/],
    ['a rush that failed its thresholds', { load: { passed: false, failures: ['p95 612 ms > 500 ms'] } }, /p95 612 ms/],
    ['a sync-back that differs', { syncBack: { identical: false } }, /origin differs/],
    ['a rush with no registration', { registrations: { cloud: 0, origin: 0 } }, /no registration/],
    [
      'an app process without the group-commit routine',
      { registrations: { path: { processes: 6, batchedProcesses: 5, batchedRegistrations: 200, batches: 150 } } },
      /1 app process\(es\) registered one transaction at a time/,
    ],
  ])('fails on %s', (_what, overrides, message) => {
    const failures = rehearsalFailures(report(overrides));
    expect(failures.join('\n')).toMatch(message);
    expect(formatReport(report(overrides))).toContain('VERDICT: FAILED');
  });
});
