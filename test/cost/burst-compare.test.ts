import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { burstableSpec } from '../../lib/burstable';
import { parseConfig, RushhourConfigInput } from '../../lib/config';
import { compareQuote, CompareFileError, formatComparison, parseCompareFile } from '../../src/cost/compare';
import { loadPriceTable, PriceTable } from '../../src/cost/prices';
import { lcuReservationHours, quote } from '../../src/cost/quote';
import { lcuHolds } from '../../lib/capacity';

const ROOT = path.resolve(__dirname, '..', '..');
const PRICES = path.join(ROOT, 'pricing', 'us-east-1.json');
const table = (): PriceTable => loadPriceTable(PRICES);

const base = (extra: Partial<RushhourConfigInput> = {}): RushhourConfigInput => ({
  region: 'us-east-1',
  siteName: 'burst-test',
  import: { dumpPath: 'dump.sql.gz' },
  network: { maxAzs: 2, natGateways: 0 },
  loadBalancers: { count: 1 },
  autoScaling: { instanceType: 't3.small' },
  cost: { interfaceEndpoints: 0, secrets: 0, instanceVolumeGiB: 0 },
  ...extra,
});
const cfg = (input: RushhourConfigInput) => parseConfig(input, { checkFiles: false });
const line = (q: ReturnType<typeof quote>, key: string) => q.items.find((i) => i.key === key);

describe('burst credits', () => {
  test('reproduces the AWS T3 Unlimited example: a t3.nano at 7% for 24 hours spends 57.6 credits beyond its 144', () => {
    // https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/unlimited-mode-examples.html, Example 1 ("Explain credit
    // use with T3 Unlimited"): "A t3.nano instance earns 144 CPU credits over a rolling 24-hour period" (5% baseline,
    // 2 vCPUs); "P3 – For the next 24 hours, CPU utilization is at 7% (above the baseline), which requires a spend
    // of 57.6 credits". One credit is one vCPU-minute, so 57.6 credits are 0.96 vCPU-hours of surplus.
    const spec = burstableSpec('t3.nano')!;
    expect(spec.baselinePercent * spec.vcpus * 60 * 24) /* earned per 24 h, % × vCPU × min */
      .toBe(144 * 100);
    const q = quote(
      cfg(
        base({
          autoScaling: { instanceType: 't3.nano' },
          cost: { phases: [{ name: 'p3', instancesPerGroup: 1, hoursPerDay: 24, days: 1, averageCpuPercent: 7 }] },
        }),
      ),
      table(),
    );
    const credits = line(q, 'ec2-credits:p3')!;
    expect(Number((credits.quantity * 60).toFixed(6))).toBe(57.6); // credits
    // Were they charged (the instance terminated without paying them down): 0.96 × 0.05 USD = 0.048 -> 0.05.
    expect(credits).toMatchObject({ unit: 'vCPU-hour', unitPrice: 0.05, amount: 0.05 });
    expect(credits.detail).toBe('24 instance-hours × 2 vCPUs × (7% CPU − 5% baseline)');
  });

  test("reproduces a published table of T3 costs at full CPU (base + surplus) to the cent, from the table's own prices", () => {
    // https://matthiaskraaz.blogspot.com (2021-08-30, third party): "a maxed out instance costs you (vCPUs −
    // (credits earned per hour / 60)) × 0.05 per hour"; Linux: t3.small base 0.02400, max 0.10400 USD/h;
    // t3.2xlarge base 0.38400, max 0.62400 USD/h. 100 hours at 100% CPU are then 10.40 and 62.40 USD.
    const prices = table();
    prices.ec2.onDemandHourly = { 't3.small': 0.024, 't3.2xlarge': 0.384 };
    for (const [type, max] of [
      ['t3.small', 10.4],
      ['t3.2xlarge', 62.4],
    ] as const) {
      const q = quote(
        cfg(
          base({
            autoScaling: { instanceType: type, maxCapacity: 1 },
            cost: {
              phases: [{ name: 'max', instancesPerGroup: 1, hoursPerDay: 10, days: 10, averageCpuPercent: 100 }],
            },
          }),
        ),
        prices,
      );
      expect(line(q, 'ec2:max')!.amount + line(q, 'ec2-credits:max')!.amount).toBeCloseTo(max, 10);
    }
  });

  test('a peak phase pays surplus credits at the scale-out CPU; an idle one none; t4g at its own rate', () => {
    const phases = [
      { name: 'night', instancesPerGroup: 1, hoursPerDay: 12, days: 5, kind: 'idle' as const },
      { name: 'day', instancesPerGroup: 2, hoursPerDay: 10, days: 5, kind: 'steady' as const },
      { name: 'rush', instancesPerGroup: 6, hoursPerDay: 2, days: 5, kind: 'peak' as const },
    ];
    const q = quote(cfg(base({ loadBalancers: { count: 3 }, cost: { phases } })), table());
    // rush: 3 groups × 6 × 2 h × 5 d = 180 instance-h; peak = scaleOutCpuPercent 50%; t3.small 2 vCPUs, 20% baseline:
    //   180 × 2 × 0.30 = 108 vCPU-h × 0.05 = 5.40. day: 300 instance-h at (20 + 50)/2 = 35%: 300 × 2 × 0.15 = 90
    //   vCPU-h × 0.05 = 4.50. night: 5% < 20%: no line.
    expect(line(q, 'ec2-credits:rush')).toMatchObject({ quantity: 108, amount: 5.4 });
    expect(line(q, 'ec2-credits:day')).toMatchObject({ quantity: 90, amount: 4.5 });
    expect(line(q, 'ec2-credits:night')).toBeUndefined();
    // The surplus is most of the rush's compute: 180 h × 0.0208 = 3.74 for the instances, 5.40 for the burst.
    expect(line(q, 'ec2:rush')!.amount).toBe(3.74);

    const graviton = quote(
      cfg(base({ loadBalancers: { count: 3 }, autoScaling: { instanceType: 't4g.small' }, cost: { phases } })),
      table(),
    );
    expect(line(graviton, 'ec2-credits:rush')).toMatchObject({ quantity: 108, unitPrice: 0.04, amount: 4.32 });
  });

  test('standard mode prices no surplus and warns that the peak is throttled; non-T types have no credits', () => {
    const phases = [{ name: 'rush', instancesPerGroup: 4, hoursPerDay: 3, days: 2, kind: 'peak' as const }];
    const standard = quote(
      cfg(base({ autoScaling: { instanceType: 't3.small', cpuCredits: 'standard' }, cost: { phases } })),
      table(),
    );
    expect(standard.items.filter((i) => i.key.startsWith('ec2-credits'))).toEqual([]);
    expect(standard.warnings).toEqual([
      expect.stringMatching(/phase rush assumes 50% CPU, above the t3.small baseline of 20%: in standard credit mode/),
    ]);
    const compute = quote(cfg(base({ autoScaling: { instanceType: 'c6i.large' }, cost: { phases } })), table());
    expect(compute.items.map((i) => i.key)).not.toContain('ec2-credits:rush');
    expect(compute.warnings).toEqual([]);
  });

  test('a missing surplus rate names the key to add', () => {
    const prices = table();
    prices.ec2.cpuCreditVcpuHourly = {};
    const config = cfg(
      base({ cost: { phases: [{ name: 'r', instancesPerGroup: 1, hoursPerDay: 1, days: 1, kind: 'peak' }] } }),
    );
    expect(() => quote(config, prices)).toThrow('add ec2.cpuCreditVcpuHourly["t3"]');
  });
});

describe('hours per phase, processed GB, line items', () => {
  test('an estimate made under other assumptions: DB 15 h a day on 5 days, balancers per GB, a lump sum', () => {
    const q = quote(
      cfg(
        base({
          loadBalancers: { count: 3 },
          cost: {
            deploymentDays: 5,
            phases: [
              { name: 'office hours', instancesPerGroup: 2, hoursPerDay: 15, days: 5, kind: 'idle' },
              {
                name: 'night',
                instancesPerGroup: 0,
                hoursPerDay: 9,
                days: 5,
                databaseHoursPerDay: 0,
                loadBalancerHoursPerDay: 0,
              },
            ],
            loadBalancerProcessedGB: 500,
            lineItems: [{ name: 'Other services (lump sum)', quantity: 1, unit: 'lump sum', unitPrice: 25 }],
          },
        }),
      ),
      table(),
    );
    // DB: 15 h × 5 d + 0 h × 5 d + 0 h outside = 75 h × 0.065 = 4.875 -> 4.88 (storage stays the whole 120 h).
    expect(line(q, 'rds:instance')).toMatchObject({ quantity: 75, amount: 4.88 });
    expect(line(q, 'rds:instance')!.detail).toBe(
      '15 h × 5 d (office hours) + 0 h × 5 d (night) + 0 h outside the phases',
    );
    // ALB: 3 × 75 h × 0.0225 = 5.0625 -> 5.06; their IPv4: 3 × 2 AZs × 75 h × 0.005 = 2.25.
    expect(line(q, 'alb:hours')).toMatchObject({ quantity: 225, amount: 5.06 });
    expect(line(q, 'ipv4:alb')).toMatchObject({ quantity: 450, amount: 2.25 });
    // 500 GB at 1 GB per LCU-hour × 0.008 = 4.00.
    expect(line(q, 'alb:processed')).toMatchObject({ quantity: 500, unit: 'LCU-hour', amount: 4 });
    expect(line(q, 'item:Other services (lump sum)')).toMatchObject({ unit: 'lump sum', amount: 25 });
    expect(q.warnings).toEqual([]);
  });

  test('per-phase hours default to the whole deployment, and a phase cannot give a resource more hours than it has', () => {
    const q = quote(
      cfg(
        base({ cost: { deploymentDays: 2, phases: [{ name: 'a', instancesPerGroup: 1, hoursPerDay: 8, days: 2 }] } }),
      ),
      table(),
    );
    expect(line(q, 'rds:instance')).toMatchObject({ quantity: 48, detail: '2 days × 24 h' });
    expect(() =>
      cfg(
        base({
          cost: { phases: [{ name: 'a', instancesPerGroup: 1, hoursPerDay: 8, days: 2, databaseHoursPerDay: 15 }] },
        }),
      ),
    ).toThrow("cost.phases.0.databaseHoursPerDay: must be at most the phase's hoursPerDay (8)");
  });

  test('config errors name the field: unknown kind, misspelt line item field, duplicate names, credits on c6i', () => {
    const phase = { name: 'a', instancesPerGroup: 1, hoursPerDay: 1, days: 1 };
    expect(() => cfg(base({ cost: { phases: [{ ...phase, kind: 'rush' as never }] } }))).toThrow(
      'cost.phases.0.kind: must be one of idle, steady, peak (got "rush")',
    );
    expect(() =>
      cfg(base({ cost: { lineItems: [{ name: 'x', quantity: 1, unit: 'u', unitprice: 2 } as never] } })),
    ).toThrow(/cost\.lineItems\.0(\.unitPrice|: Unrecognized key: "unitprice")/);
    expect(() => cfg(base({ cost: { phases: [phase, phase] } }))).toThrow(
      'cost.phases.1.name: "a" is already the name of cost.phases[0]: names must be unique',
    );
    expect(() => cfg(base({ autoScaling: { instanceType: 'c6i.large', cpuCredits: 'unlimited' } }))).toThrow(
      'autoScaling.cpuCredits: is only for burstable (T-class) instance types; c6i.large has no CPU credits',
    );
  });
});

describe('LCU reservation', () => {
  const w = (name: string, start: string, end: string) => ({ name, start, end, minCapacity: 1 });

  test("priced for the hours the template's scheduled actions hold it: from the lead before each window to its end", () => {
    const windows = [
      w('a', '2027-02-01T08:00:00Z', '2027-02-01T12:00:00Z'),
      w('b', '2027-02-02T08:00:00Z', '2027-02-02T10:00:00Z'),
    ];
    expect(lcuReservationHours(windows)).toBe(4.5 + 2.5);
  });

  test("a window starting within the lead of the previous one's end shares its hold: no reset in between", () => {
    const windows = [
      w('first', '2027-02-01T08:00:00Z', '2027-02-01T10:00:00Z'),
      w('second', '2027-02-01T10:15:00Z', '2027-02-01T12:00:00Z'),
    ];
    const holds = lcuHolds(windows.map((x) => ({ name: x.name, start: new Date(x.start), end: new Date(x.end) })));
    // One span 07:30-12:00: a reset at 10:00 would have dropped the reservation raised at 09:45 for "second".
    expect(holds).toEqual([
      { from: new Date('2027-02-01T07:30:00Z'), to: new Date('2027-02-01T12:00:00Z'), windows: ['first', 'second'] },
    ]);
    const q = quote(
      cfg(
        base({
          loadBalancers: { count: 2, capacityReservationLcu: 100 },
          schedule: windows,
          autoScaling: { instanceType: 't3.small', maxCapacity: 6 },
        }),
      ),
      table(),
    );
    // 2 balancers × 100 LCU × 4.5 h × 0.008 = 7.20.
    expect(line(q, 'alb:reservation')).toMatchObject({ quantity: 900, amount: 7.2 });
  });
});

describe('cost --compare', () => {
  const week = () =>
    quote(
      cfg(
        base({
          loadBalancers: { count: 3 },
          cost: {
            phases: [
              { name: 'prewarm', instancesPerGroup: 2, hoursPerDay: 4, days: 2, kind: 'idle' },
              { name: 'rush', instancesPerGroup: 5, hoursPerDay: 10, days: 3, kind: 'peak' },
              { name: 'tail', instancesPerGroup: 1, hoursPerDay: 24, days: 2, kind: 'idle' },
            ],
            dataTransferOutGiB: 150,
            lcuHoursPerBalancer: 400,
            route53QueriesMillions: 2.5,
            secrets: 2,
            lineItems: [{ name: 'Support plan', quantity: 0.25, unit: 'month', unitPrice: 29 }],
          },
        }),
      ),
      table(),
    );
  /** Last year's invoice, as the finance office typed it: its own names, one line by key, one line we lack. */
  const invoice = {
    title: 'invoice 2026-02',
    currency: 'USD',
    items: [
      { item: 'EC2 t3.small, phase rush', amount: 11.02 },
      { item: 'ec2 T3.SMALL,  phase prewarm', amount: 0.83 },
      { item: 'Amazon RDS (renamed)', key: 'rds:instance', amount: 10.92 },
      { item: 'Application Load Balancers', amount: 16.33 },
      { item: 'Data transfer out to the internet', amount: 9.87 },
      { item: 'Amazon CloudWatch', amount: 3.1 },
      { item: 'Tax', amount: 0 },
    ],
    total: 52.07,
  };

  test('lines side by side, matched by key or name, unmatched on both sides; the differences add up to the total', () => {
    const q = week();
    const c = compareQuote(q, parseCompareFile(invoice));
    const byItem = Object.fromEntries(c.rows.map((r) => [r.item, r]));
    expect(byItem['EC2 t3.small, phase rush']).toMatchObject({ earlier: 11.02, quote: 9.36, difference: -1.66 });
    expect(byItem['EC2 t3.small, phase prewarm']).toMatchObject({ earlier: 0.83, quote: 1, difference: 0.17 });
    expect(byItem['RDS MySQL db.t4g.medium (single-AZ)']).toMatchObject({ earlier: 10.92, quote: 10.92 });
    expect(byItem['EC2 t3.small CPU credits (unlimited), phase rush']).toMatchObject({ earlier: null, quote: 13.5 });
    expect(byItem['Amazon CloudWatch']).toMatchObject({ earlier: 3.1, quote: null, difference: -3.1 });
    expect(byItem['Tax']).toMatchObject({ earlier: 0, quote: null, difference: 0 });
    // Every quote line and every invoice line appears exactly once.
    expect(c.rows.filter((r) => r.quote !== null)).toHaveLength(q.items.length);
    expect(c.rows.filter((r) => r.earlier !== null)).toHaveLength(invoice.items.length);
    // The sum of the per-line differences is the total difference, to the cent.
    const sumCents = c.rows.reduce((s, r) => s + Math.round(r.difference * 100), 0);
    expect(sumCents).toBe(Math.round(c.difference * 100));
    expect(c.earlierTotal).toBe(52.07);
    expect(c.quoteTotal).toBe(q.total);
    expect(Math.round((c.quoteTotal - c.earlierTotal) * 100)).toBe(Math.round(c.difference * 100));
    const text = formatComparison(c, 'USD');
    expect(text).toMatch(/^compared with invoice 2026-02: 5 lines matched, \d+ only in this quote, 2 only in/);
    expect(text).toMatch(/Amazon CloudWatch\s+3\.10\s+-\s+-3\.10/);
    expect(text).toMatch(new RegExp(`TOTAL\\s+52\\.07\\s+${q.total.toFixed(2).replace('.', '\\.')}\\s+\\+`));
  });

  test("last year's --json output compares with itself as no difference at all", () => {
    const q = week();
    const c = compareQuote(q, parseCompareFile(JSON.parse(JSON.stringify(q))));
    expect(c.rows.every((r) => r.difference === 0 && r.earlier === r.quote)).toBe(true);
    expect(c.difference).toBe(0);
  });

  test('a bad compare file is an error naming the field', () => {
    const bad = (raw: unknown) => {
      try {
        parseCompareFile(raw, 'old.json');
      } catch (err) {
        expect(err).toBeInstanceOf(CompareFileError);
        expect((err as Error).name).toBe('CompareFileError');
        return (err as CompareFileError).issues;
      }
      throw new Error('accepted');
    };
    expect(
      bad({
        items: [
          { item: 'a', amount: 1 },
          { item: 'b', amount: '2.00' },
        ],
      }),
    ).toEqual(['items.1.amount: must be the line amount, a number (e.g. 12.34)']);
    expect(bad({ items: [{ item: 'a', ammount: 1 }] })).toEqual([
      'items.0.amount: must be the line amount, a number (e.g. 12.34)',
      'items.0: Unrecognized key: "ammount"',
    ]);
    expect(bad({ lines: [] })).toEqual([expect.stringMatching(/^items: /)]);
    expect(
      bad({
        items: [
          { item: 'X', amount: 1 },
          { item: ' x ', amount: 2 },
        ],
      }),
    ).toEqual(['items.1.item: "x" matches the same line as items.0 (names and keys must be unique)']);
    expect(bad({ items: [{ item: 'a', amount: 1.1 }], total: 1.2 })).toEqual([
      'total: 1.2 is not the sum of the items (1.10)',
    ]);
  });

  test('the CLI: --compare side by side, --json carries the comparison, a bad file exits 1 naming the field', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-compare-'));
    const configFile = path.join(dir, 'c.json');
    fs.writeFileSync(
      configFile,
      JSON.stringify(
        base({ cost: { phases: [{ name: 'rush', instancesPerGroup: 2, hoursPerDay: 5, days: 2, kind: 'peak' }] } }),
      ),
    );
    const earlier = path.join(dir, 'invoice.json');
    fs.writeFileSync(earlier, JSON.stringify([{ item: 'EC2 t3.small, phase rush', amount: 0.5 }]));
    const cli = (...args: string[]) =>
      execFileSync(process.execPath, [path.join(ROOT, 'bin', 'rushhour.js'), 'cost', '--config', configFile, ...args], {
        encoding: 'utf8',
      });
    const json = JSON.parse(cli('--compare', earlier, '--json'));
    expect(json.compare.title).toBe('invoice.json');
    expect(json.compare.rows[0]).toMatchObject({ item: 'EC2 t3.small, phase rush', earlier: 0.5, quote: 0.42 });
    expect(json.compare.difference).toBe(Number((json.total - 0.5).toFixed(2)));
    expect(json.items.length).toBeGreaterThan(3);
    expect(cli('--compare', earlier)).toMatch(/compared with invoice\.json: 1 lines matched/);
    const badFile = path.join(dir, 'bad.json');
    fs.writeFileSync(badFile, JSON.stringify({ items: [{ item: 'x', amount: 'twelve' }] }));
    const r = spawnSync(
      process.execPath,
      [path.join(ROOT, 'bin', 'rushhour.js'), 'cost', '--config', configFile, '--compare', badFile],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`invalid compare file ${badFile}:\n  items.0.amount: must be the line amount`);
  });
});
