import * as path from 'node:path';
import { ConfigError, importConnections, loadConfig, parseConfig, RushhourConfigInput } from '../../lib/config';
import { EXAMPLE_CONFIG } from './synth-helpers';

const baseDir = path.dirname(EXAMPLE_CONFIG);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const example = (): RushhourConfigInput => JSON.parse(JSON.stringify(require(EXAMPLE_CONFIG)));

/** The error message for the example config after `change`; fails the test if the config is accepted. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- changes write deliberately ill-typed values
function problem(change: (c: any) => void): string {
  const c = example();
  change(c);
  try {
    parseConfig(c, { baseDir, source: 'test.json' });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('config was accepted');
}

test("the example config is valid and gets the seed design's defaults", () => {
  const c = loadConfig(EXAMPLE_CONFIG);
  expect(c.loadBalancers.count).toBe(3);
  expect(c.autoScaling).toMatchObject({
    minCapacity: 1,
    maxCapacity: 6,
    scaleOutCpuPercent: 50,
    scaleOutFastCpuPercent: 70,
    scaleInCpuPercent: 20,
  });
  expect(c.import.dumpPath).toBe(path.join(baseDir, 'course-selection.sql.gz'));
});

test('min > max names both values', () => {
  expect(
    problem((c) => {
      c.autoScaling.minCapacity = 7;
      c.autoScaling.maxCapacity = 6;
    }),
  ).toMatch(/autoScaling\.minCapacity: minCapacity \(7\) must not exceed maxCapacity \(6\)/);
});

test.each([0, 100, 150, -5])('threshold out of range (%p) is refused with the field and value', (v) => {
  expect(
    problem((c) => {
      c.autoScaling.scaleOutFastCpuPercent = v;
    }),
  ).toMatch(new RegExp(`autoScaling\\.scaleOutFastCpuPercent: .*between 1 and 99.*\\(got ${v}\\)`));
});

test('scale-out threshold not above scale-in', () => {
  expect(
    problem((c) => {
      c.autoScaling.scaleOutCpuPercent = 20;
      c.autoScaling.scaleInCpuPercent = 20;
    }),
  ).toMatch(/autoScaling\.scaleOutCpuPercent: scaleOutCpuPercent \(20\) must be above scaleInCpuPercent \(20\)/);
});

test('fast scale-out threshold not above the normal one', () => {
  expect(
    problem((c) => {
      c.autoScaling.scaleOutFastCpuPercent = 50;
    }),
  ).toMatch(/scaleOutFastCpuPercent \(50\) must be above scaleOutCpuPercent \(50\)/);
});

test('missing dump file names the path and how to get one', () => {
  expect(
    problem((c) => {
      c.import.dumpPath = 'nowhere.sql.gz';
    }),
  ).toMatch(/import\.dumpPath: file not found: .*nowhere\.sql\.gz.*pull-db/);
});

test('dump that is not .sql or .sql.gz', () => {
  expect(
    problem((c) => {
      c.import.dumpPath = 'dump.zip';
    }),
  ).toMatch(/import\.dumpPath: must name a \.sql or \.sql\.gz file \(got "dump\.zip"\)/);
});

test('zero load balancers', () => {
  expect(
    problem((c) => {
      c.loadBalancers.count = 0;
    }),
  ).toMatch(/loadBalancers\.count: must be between 1 and 10 load balancers \(got 0\)/);
});

test('malformed hosted zone id', () => {
  expect(
    problem((c) => {
      c.dns.hostedZoneId = 'example.edu';
    }),
  ).toMatch(/dns\.hostedZoneId: must be a Route53 hosted zone id.*\(got "example\.edu"\)/);
});

test('malformed zone name', () => {
  expect(
    problem((c) => {
      c.dns.zoneName = 'Example..edu';
    }),
  ).toMatch(/dns\.zoneName: must be a lower-case DNS name.*\(got "Example\.\.edu"\)/);
});

test('malformed record name', () => {
  expect(
    problem((c) => {
      c.dns.recordName = 'select_me.example.edu';
    }),
  ).toMatch(/dns\.recordName: must be a lower-case DNS name.*\(got "select_me\.example\.edu"\)/);
});

test('record name outside its zone', () => {
  expect(
    problem((c) => {
      c.dns.recordName = 'select.example.com';
    }),
  ).toMatch(/dns\.recordName: recordName "select\.example\.com" must be inside zone "example\.edu"/);
});

test('overlapping schedule windows name both windows', () => {
  expect(
    problem((c) => {
      c.schedule[1].start = '2027-02-01T11:00:00+08:00';
      c.schedule[1].end = '2027-02-01T13:00:00+08:00';
    }),
  ).toMatch(/schedule\.1\.start: window "round-2" overlaps window "round-1"/);
});

test('a window that ends before it starts', () => {
  expect(
    problem((c) => {
      c.schedule[0].end = '2027-02-01T07:00:00+08:00';
    }),
  ).toMatch(/schedule\.0\.end: window "round-1" ends .* before it starts/);
});

test('a window asking for more than the group maximum', () => {
  expect(
    problem((c) => {
      c.schedule[0].minCapacity = 9;
    }),
  ).toMatch(
    /schedule\.0\.minCapacity: window "round-1" minCapacity \(9\) must be between 1 and autoScaling\.maxCapacity \(6\)/,
  );
});

test('a window time without an offset', () => {
  expect(
    problem((c) => {
      c.schedule[0].start = '2027-02-01 07:30';
    }),
  ).toMatch(/schedule\.0\.start: must be an ISO 8601 date-time with offset/);
});

test('weights must match the number of load balancers', () => {
  expect(
    problem((c) => {
      c.loadBalancers.weights = [1, 1];
    }),
  ).toMatch(/loadBalancers\.weights: needs one weight per load balancer \(3\), got 2/);
});

test('an RDS version outside 8.4', () => {
  expect(
    problem((c) => {
      c.database.engineVersion = '8.0.40';
    }),
  ).toMatch(/database\.engineVersion: must be MySQL 8\.4.*\(got "8\.0\.40"\)/);
});

test('availability zones must be in the region', () => {
  expect(
    problem((c) => {
      c.network.availabilityZones = ['ap-east-1a', 'us-east-1b'];
    }),
  ).toMatch(/network\.availabilityZones\.0: availability zone "ap-east-1a" is not in region "us-east-1"/);
});

test('a site bundle needs a start command and must be a .tar.gz', () => {
  expect(
    problem((c) => {
      c.web.bundlePath = 'site.tar.gz';
    }),
  ).toMatch(/web\.startCommand: is required with web\.bundlePath/);
  expect(
    problem((c) => {
      c.web.bundlePath = 'site/';
      c.web.startCommand = 'node server.js';
    }),
  ).toMatch(/web\.bundlePath: must name a \.tar\.gz/);
});

test('unknown fields are refused, so a typo does not silently fall back to a default', () => {
  expect(
    problem((c) => {
      c.autoScaling.maxCapacty = 8;
    }),
  ).toMatch(/autoScaling: .*maxCapacty/);
});

test('every problem is listed at once', () => {
  const msg = problem((c) => {
    c.loadBalancers.count = 0;
    c.autoScaling.instanceWarmupSeconds = -1;
  });
  expect(msg).toMatch(/loadBalancers\.count/);
  expect(msg).toMatch(/autoScaling\.instanceWarmupSeconds/);
});

test('import.connections: 2 per vCPU of the database class, at most 8, unless set; a bad value names the field', () => {
  const withClass = (instanceClass: string, connections?: number) => {
    const c = example();
    c.database = { ...c.database, instanceClass };
    if (connections !== undefined) c.import.connections = connections;
    return importConnections(parseConfig(c, { baseDir, source: 'test.json' }));
  };
  expect(withClass('t4g.medium')).toBe(4);
  expect(withClass('m7g.xlarge')).toBe(8);
  expect(withClass('r6g.4xlarge')).toBe(8);
  expect(withClass('x9.unknown')).toBe(4);
  expect(withClass('t4g.medium', 1)).toBe(1);
  expect(problem((c) => (c.import.connections = 0))).toMatch(/import\.connections: must be between 1 and 16/);
  expect(problem((c) => (c.import.connections = 2.5))).toMatch(/import\.connections: must be a whole number/);
});
