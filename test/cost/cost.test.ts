import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseConfig } from '../../lib/config';
import { loadPriceTable } from '../../src/cost/prices';
import { formatQuote, quote, toCents } from '../../src/cost/quote';

const ROOT = path.resolve(__dirname, '..', '..');
const PRICES = path.join(ROOT, 'pricing', 'us-east-1.json');

/** A week: a 2-day pre-warm, a 3-day rush, a 2-day tail; three balancers in two AZs. */
const weekConfig = (extra: Record<string, unknown> = {}) => ({
  region: 'us-east-1',
  siteName: 'quote-test',
  import: { dumpPath: 'dump.sql.gz' },
  network: { maxAzs: 2, natGateways: 0 },
  loadBalancers: { count: 3 },
  autoScaling: { instanceType: 't3.small' },
  database: { instanceClass: 't4g.medium', allocatedStorageGiB: 20, multiAz: false },
  cost: {
    phases: [
      { name: 'prewarm', instancesPerGroup: 2, hoursPerDay: 4, days: 2, kind: 'idle' },
      { name: 'rush', instancesPerGroup: 5, hoursPerDay: 10, days: 3, kind: 'peak' },
      { name: 'tail', instancesPerGroup: 1, hoursPerDay: 24, days: 2, kind: 'idle' },
    ],
    dataTransferOutGiB: 150,
    lcuHoursPerBalancer: 400,
    route53QueriesMillions: 2.5,
    instanceVolumeGiB: 8,
    interfaceEndpoints: 2,
    secrets: 2,
    s3StorageGiB: 3,
  },
  ...extra,
});

test('the committed us-east-1 table reproduces a hand-computed quote to the cent', () => {
  const q = quote(parseConfig(weekConfig(), { checkFiles: false }), loadPriceTable(PRICES));
  // By hand, with the table's prices (deployment: 2 + 3 + 2 = 7 days = 168 h; 730 h per month):
  //   EC2 t3.small prewarm  3 × 2 × 4 × 2  =   48 h × 0.0208   =  0.9984   ->  1.00
  //   EC2 t3.small rush     3 × 5 × 10 × 3 =  450 h × 0.0208   =  9.36     ->  9.36
  //   CPU credits, rush (peak: 50% CPU, the scale-out threshold; t3.small: 2 vCPUs, 20% baseline)
  //                         450 h × 2 × (50 − 20)% = 270 vCPU-h × 0.05 = 13.50 -> 13.50
  //   (prewarm and tail are idle: 5% CPU, below the baseline, no surplus)
  //   EC2 t3.small tail     3 × 1 × 24 × 2 =  144 h × 0.0208   =  2.9952   ->  3.00
  //   EBS gp3   642 h × 8 GiB / 730 = 7.035616 GiB-mo × 0.08   =  0.562849 ->  0.56
  //   RDS db.t4g.medium     168 h × 0.065                      = 10.92     -> 10.92
  //   RDS storage  20 × 168 / 730 = 4.602740 GiB-mo × 0.115    =  0.529315 ->  0.53
  //   ALB          3 × 168 = 504 h × 0.0225                    = 11.34     -> 11.34
  //   LCU          3 × 400 = 1200 LCU-h × 0.008                =  9.60     ->  9.60
  //   Public IPv4  3 × 2 × 168 = 1008 h × 0.005                =  5.04     ->  5.04
  //   IPv4 of the instances (no NAT): 48 + 450 + 144 = 642 h × 0.005 = 3.21 -> 3.21
  //   NAT          0 gateways                                  -> no line
  //   Endpoints    2 × 2 × 168 = 672 h × 0.01                  =  6.72     ->  6.72
  //   Route 53     2.5 M × 0.40                                =  1.00     ->  1.00
  //   Data out     150 GiB × 0.09                              = 13.50     -> 13.50
  //   S3           3 × 168 / 730 = 0.690411 GiB-mo × 0.023     =  0.015879 ->  0.02
  //   Secrets      2 × 168 / 730 = 0.460274 secret-mo × 0.40   =  0.184110 ->  0.18
  //   Total = 1.00 + 9.36 + 13.50 + 3.00 + 0.56 + 10.92 + 0.53 + 11.34 + 9.60 + 5.04 + 3.21 + 6.72 + 1.00
  //           + 13.50 + 0.02 + 0.18 = 89.48
  expect(q.items.map((i) => [i.item, i.amount])).toEqual([
    ['EC2 t3.small, phase prewarm', 1.0],
    ['EC2 t3.small, phase rush', 9.36],
    ['EC2 t3.small CPU credits (unlimited), phase rush', 13.5],
    ['EC2 t3.small, phase tail', 3.0],
    ['EBS gp3 root volumes', 0.56],
    ['RDS MySQL db.t4g.medium (single-AZ)', 10.92],
    ['RDS storage gp2 (single-AZ)', 0.53],
    ['Application Load Balancers', 11.34],
    ['Load balancer capacity units', 9.6],
    ['Public IPv4 addresses (load balancers)', 5.04],
    ['Public IPv4 addresses (web instances)', 3.21],
    ['VPC interface endpoints', 6.72],
    ['Route 53 queries', 1.0],
    ['Data transfer out to the internet', 13.5],
    ['S3 storage (dump, bundle, exports)', 0.02],
    ['Secrets Manager secrets', 0.18],
  ]);
  expect(q.total).toBe(89.48);
  expect(q.deploymentDays).toBe(7);
  expect(q.warnings).toEqual([]);
  expect(formatQuote(q)).toMatch(/TOTAL\s+89\.48\n/);
});

test('any price table and schedule: an "old invoice" table, Multi-AZ and an explicit deployment length', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-cost-'));
  const table = JSON.parse(fs.readFileSync(PRICES, 'utf8'));
  Object.assign(table, { region: 'ap-east-1', pricesAsOf: '2023-03-01', hoursPerMonth: 720, publicIpv4Hourly: 0 });
  table.ec2.onDemandHourly = { 'c5.large': 0.111 };
  table.ec2.ebsGp3GiBMonth = 0.0968;
  table.rds.mysqlSingleAzHourly = { 'm5.large': 0.247 };
  table.rds.storageGp2GiBMonth = 0.138;
  Object.assign(table.alb, { hourly: 0.0252, lcuHourly: 0.0088 });
  const file = path.join(dir, 'old.json');
  fs.writeFileSync(file, JSON.stringify(table));
  const config = parseConfig(
    {
      ...weekConfig(),
      region: 'ap-east-1',
      autoScaling: { instanceType: 'c5.large' },
      database: { instanceClass: 'm5.large', allocatedStorageGiB: 100, maxAllocatedStorageGiB: 100, multiAz: true },
      cost: {
        phases: [{ name: 'rush', instancesPerGroup: 4, hoursPerDay: 12.5, days: 3 }],
        deploymentDays: 10,
        secrets: 0,
        interfaceEndpoints: 0,
        instanceVolumeGiB: 0,
      },
    },
    { checkFiles: false },
  );
  const q = quote(config, loadPriceTable(file));
  // By hand (10 days = 240 h; 720 h per month; Multi-AZ doubles RDS instance and storage):
  //   EC2 c5.large     3 × 4 × 12.5 × 3 = 450 h × 0.111         = 49.95      -> 49.95
  //   RDS db.m5.large  240 h × (0.247 × 2 = 0.494)              = 118.56     -> 118.56
  //   RDS storage      100 × 240 / 720 = 33.3333 GiB-mo × 0.276 =   9.20     ->   9.20
  //   ALB              3 × 240 = 720 h × 0.0252                 =  18.144    ->  18.14
  //   (no LCU, IPv4 at 0 is a 0.00 line, no endpoints, no DNS, no data, no S3, no secrets)
  //   IPv4             1440 h × 0                               =   0.00
  //   IPv4 instances   450 h × 0                                =   0.00
  //   Total = 49.95 + 118.56 + 9.20 + 18.14 + 0.00 = 195.85
  expect(q.items.map((i) => [i.item, i.amount])).toEqual([
    ['EC2 c5.large, phase rush', 49.95],
    ['RDS MySQL db.m5.large (Multi-AZ)', 118.56],
    ['RDS storage gp2 (Multi-AZ)', 9.2],
    ['Application Load Balancers', 18.14],
    ['Public IPv4 addresses (load balancers)', 0],
    ['Public IPv4 addresses (web instances)', 0],
  ]);
  expect(q.total).toBe(195.85);
  expect(q.pricesAsOf).toBe('2023-03-01');
});

test('rounding is half-up to the cent and immune to binary noise', () => {
  expect(toCents(1, 0.005)).toBe(1); // 0.5 cent -> 1 cent
  expect(toCents(3, 0.0015)).toBe(0); // 0.45 cent -> 0
  expect(toCents(0.1 + 0.2, 10)).toBe(300); // 0.30000000000000004 × 10
  expect(toCents(1.005, 1)).toBe(101); // 1.005 is 1.00499999… in binary; a quote says 1.01
});

test('a missing price names the key to add; a region mismatch is a warning', () => {
  const config = parseConfig({ ...weekConfig(), autoScaling: { instanceType: 'x9.huge' } }, { checkFiles: false });
  expect(() => quote(config, loadPriceTable(PRICES))).toThrow('add ec2.onDemandHourly["x9.huge"]');
  const elsewhere = parseConfig({ ...weekConfig(), region: 'ap-east-1' }, { checkFiles: false });
  expect(quote(elsewhere, loadPriceTable(PRICES)).warnings[0]).toMatch(
    /price table is for us-east-1 but the config deploys to ap-east-1/,
  );
});

test('the CLI prints the same quote as JSON with --json', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-cost-cli-'));
  const configFile = path.join(dir, 'rushhour.config.json');
  fs.writeFileSync(configFile, JSON.stringify(weekConfig()));
  const out = execFileSync(
    process.execPath,
    [path.join(ROOT, 'bin', 'rushhour.js'), 'cost', '--config', configFile, '--json'],
    { encoding: 'utf8' },
  );
  const q = JSON.parse(out);
  expect(q.total).toBe(89.48);
  expect(q.items).toHaveLength(16);
  const text = execFileSync(
    process.execPath,
    [path.join(ROOT, 'bin', 'rushhour.js'), 'cost', '--config', configFile, '--prices', PRICES],
    { encoding: 'utf8' },
  );
  expect(text).toMatch(/prices for us-east-1 as of 2025-01-15/);
  expect(text).toMatch(/TOTAL\s+89\.48/);
});
