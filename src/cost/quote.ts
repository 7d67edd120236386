import { burstableSpec, cpuCreditMode } from '../../lib/burstable';
import type { RushhourConfig } from '../../lib/config';
import { LCU_LEAD_MINUTES, lcuHolds } from '../../lib/capacity';
import { phaseAverageCpu, surplusVcpuHours } from './burst';
import type { PriceTable } from './prices';

/** One line of a quote: quantity × unit price, rounded to the cent. */
export interface LineItem {
  /** Stable across instance types and prices (e.g. "ec2:rush", "rds:instance"): what `cost --compare` matches first. */
  readonly key: string;
  readonly item: string;
  /** How the quantity was obtained, e.g. "3 groups × 4 instances × 10 h/day × 2 days". */
  readonly detail: string;
  readonly quantity: number;
  readonly unit: string;
  readonly unitPrice: number;
  /** quantity × unitPrice rounded half-up to the cent. */
  readonly amount: number;
}

export interface Quote {
  readonly currency: string;
  readonly region: string;
  readonly pricesAsOf: string;
  readonly deploymentDays: number;
  readonly items: LineItem[];
  /** The sum of the rounded line amounts (what an invoice shows). */
  readonly total: number;
  readonly warnings: string[];
  /** Where the price table's rates come from (its `sources`), for the reader to check. */
  readonly sources?: { readonly rate: string; readonly url: string; readonly asOf: string; readonly note?: string }[];
}

export type CostInputs = Pick<
  RushhourConfig,
  'region' | 'cost' | 'loadBalancers' | 'network' | 'autoScaling' | 'database'
> &
  Partial<Pick<RushhourConfig, 'schedule'>>;

/** quantity × price in cents, rounded half-up; toFixed first so binary noise (4.99499999…) cannot flip a cent. */
export function toCents(quantity: number, unitPrice: number): number {
  return Math.round(Number((quantity * unitPrice * 100).toFixed(6)));
}

const num = (n: number) => String(Number(n.toFixed(4)));

type Window = NonNullable<RushhourConfig['schedule']>[number];

/** Hours the LCU reservation is held: the spans web-tier.ts schedules (lcuHolds), summed. */
export function lcuReservationHours(windows: readonly Window[]): number {
  const holds = lcuHolds(windows.map((w) => ({ name: w.name, start: new Date(w.start), end: new Date(w.end) })));
  return holds.reduce((h, s) => h + (s.to.getTime() - s.from.getTime()) / 3600_000, 0);
}

/** Builds the quote for a deployment's schedule from a price table. */
export function quote(config: CostInputs, prices: PriceTable): Quote {
  const c = config.cost;
  const warnings: string[] = [];
  if (prices.region !== config.region) {
    warnings.push(
      `the price table is for ${prices.region} but the config deploys to ${config.region}: prices differ by region (pass --prices with that region's table)`,
    );
  }
  const items: LineItem[] = [];
  const add = (key: string, item: string, detail: string, quantity: number, unit: string, unitPrice: number) => {
    if (quantity > 0)
      items.push({ key, item, detail, quantity, unit, unitPrice, amount: toCents(quantity, unitPrice) / 100 });
  };
  const groups = config.loadBalancers.count;
  const azs = config.network.maxAzs;
  const hpm = prices.hoursPerMonth;
  const deploymentDays = c.deploymentDays ?? c.phases.reduce((s, p) => s + p.days, 0);
  const hours = deploymentDays * 24;
  if (c.phases.length === 0)
    warnings.push(
      'cost.phases is empty: no EC2 instance-hours are counted (add phases: instancesPerGroup, hoursPerDay, days)',
    );

  const type = config.autoScaling.instanceType;
  const ec2Price = prices.ec2.onDemandHourly[type];
  if (ec2Price === undefined)
    throw new Error(`the price table has no EC2 price for ${type}: add ec2.onDemandHourly["${type}"] (USD per hour)`);
  // The same mode web-stack.ts writes into the launch template.
  const credits = cpuCreditMode(type, config.autoScaling.cpuCredits);
  const spec = burstableSpec(type);
  if (credits && !spec)
    warnings.push(
      `no baseline known for ${type}: its CPU credits are not priced (lib/burstable.ts lists T2/T3/T3a/T4g)`,
    );
  let instanceHours = 0;
  for (const p of c.phases) {
    const q = groups * p.instancesPerGroup * p.hoursPerDay * p.days;
    instanceHours += q;
    add(
      `ec2:${p.name}`,
      `EC2 ${type}, phase ${p.name}`,
      `${groups} groups × ${num(p.instancesPerGroup)} instances × ${num(p.hoursPerDay)} h/day × ${num(p.days)} days`,
      q,
      'instance-hour',
      ec2Price,
    );
    if (!credits || !spec) continue;
    const cpu = phaseAverageCpu(p, config.autoScaling);
    const surplus = surplusVcpuHours(q, cpu, spec);
    if (surplus <= 0 || q === 0) continue;
    if (credits === 'standard') {
      warnings.push(
        `phase ${p.name} assumes ${num(cpu)}% CPU, above the ${type} baseline of ${spec.baselinePercent}%: in standard credit mode the instances are throttled to the baseline once their credits are spent (autoScaling.cpuCredits "unlimited" bills the surplus instead)`,
      );
      continue;
    }
    const rate = prices.ec2.cpuCreditVcpuHourly[spec.family];
    if (rate === undefined)
      throw new Error(
        `the price table has no surplus CPU credit rate for ${spec.family}: add ec2.cpuCreditVcpuHourly["${spec.family}"] (USD per vCPU-hour)`,
      );
    add(
      `ec2-credits:${p.name}`,
      `EC2 ${type} CPU credits (unlimited), phase ${p.name}`,
      `${num(q)} instance-hours × ${spec.vcpus} vCPUs × (${num(cpu)}% CPU − ${spec.baselinePercent}% baseline)`,
      surplus,
      'vCPU-hour',
      rate,
    );
  }
  add(
    'ebs',
    'EBS gp3 root volumes',
    `${num(instanceHours)} instance-hours × ${num(c.instanceVolumeGiB)} GiB / ${hpm} h`,
    (instanceHours * c.instanceVolumeGiB) / hpm,
    'GiB-month',
    prices.ec2.ebsGp3GiBMonth,
  );

  const cls = config.database.instanceClass;
  const rdsPrice = prices.rds.mysqlSingleAzHourly[cls];
  if (rdsPrice === undefined)
    throw new Error(
      `the price table has no RDS for MySQL price for db.${cls}: add rds.mysqlSingleAzHourly["${cls}"] (USD per hour, single-AZ)`,
    );
  // Per-phase hours of a resource: each phase's own (default: all of its hours), plus the hours no phase covers.
  const sliceHours = c.phases.reduce((h, p) => h + p.hoursPerDay * p.days, 0);
  const outside = Math.max(0, hours - sliceHours);
  const resourceHours = (field: 'databaseHoursPerDay' | 'loadBalancerHoursPerDay') => {
    if (c.phases.every((p) => p[field] === undefined)) return { hours, detail: `${num(deploymentDays)} days × 24 h` };
    if (sliceHours > hours)
      warnings.push(
        `cost.phases cover ${num(sliceHours)} h but the deployment has ${num(hours)} h: per-phase ${field} assumes the phases are disjoint slices of the deployment`,
      );
    const parts = c.phases.map((p) => `${num(p[field] ?? p.hoursPerDay)} h × ${num(p.days)} d (${p.name})`);
    return {
      hours: c.phases.reduce((h, p) => h + (p[field] ?? p.hoursPerDay) * p.days, 0) + outside,
      detail: `${parts.join(' + ')} + ${num(outside)} h outside the phases`,
    };
  };
  const factor = config.database.multiAz ? prices.rds.multiAzFactor : 1;
  const az = config.database.multiAz ? 'Multi-AZ' : 'single-AZ';
  const db = resourceHours('databaseHoursPerDay');
  add('rds:instance', `RDS MySQL db.${cls} (${az})`, db.detail, db.hours, 'instance-hour', rdsPrice * factor);
  // Storage is billed while the instance is stopped too: the whole deployment.
  add(
    'rds:storage',
    `RDS storage gp2 (${az})`,
    `${config.database.allocatedStorageGiB} GiB × ${num(hours)} h / ${hpm} h`,
    (config.database.allocatedStorageGiB * hours) / hpm,
    'GiB-month',
    prices.rds.storageGp2GiBMonth * factor,
  );

  const lb = resourceHours('loadBalancerHoursPerDay');
  add(
    'alb:hours',
    'Application Load Balancers',
    `${groups} balancers × (${lb.detail})`,
    groups * lb.hours,
    'ALB-hour',
    prices.alb.hourly,
  );
  add(
    'alb:lcu',
    'Load balancer capacity units',
    `${groups} balancers × ${num(c.lcuHoursPerBalancer)} LCU-hours`,
    groups * c.lcuHoursPerBalancer,
    'LCU-hour',
    prices.alb.lcuHourly,
  );
  // An LCU is the largest of four dimensions per hour; for a page-serving site behind keep-alive connections the
  // processed bytes usually lead, 1 LCU-hour per processed GB for instance targets (the price table's
  // alb.processedGBPerLcuHour). Where connections or rules lead, this is a lower bound: give lcuHoursPerBalancer.
  const gbPerLcu = prices.alb.processedGBPerLcuHour;
  add(
    'alb:processed',
    'Load balancer capacity units (processed bytes)',
    `${num(c.loadBalancerProcessedGB)} GB processed / ${num(gbPerLcu)} GB per LCU-hour`,
    c.loadBalancerProcessedGB / gbPerLcu,
    'LCU-hour',
    prices.alb.lcuHourly,
  );
  if (c.lcuHoursPerBalancer > 0 && c.loadBalancerProcessedGB > 0)
    warnings.push(
      'cost.lcuHoursPerBalancer and cost.loadBalancerProcessedGB are both set and both priced: LCU-hours from a bill already include the processed bytes (give one)',
    );
  // Priced for the hours the template holds it (the same spans web-tier.ts schedules). Usage up
  // to the reserved level is covered by it: lcuHoursPerBalancer is what goes beyond it or falls outside it.
  const lcu = config.loadBalancers.capacityReservationLcu;
  if (lcu !== undefined) {
    const windows = config.schedule ?? [];
    const hours = lcuReservationHours(windows);
    if (windows.length === 0)
      warnings.push('loadBalancers.capacityReservationLcu is set but the schedule has no window: nothing is reserved');
    add(
      'alb:reservation',
      'Load balancer capacity reservation',
      `${groups} balancers × ${lcu} LCU × ${num(hours)} h (${windows.length} windows, from ${LCU_LEAD_MINUTES} min before each start to its end, overlaps merged)`,
      groups * lcu * hours,
      'reserved LCU-hour',
      prices.alb.reservedLcuHourly ?? prices.alb.lcuHourly,
    );
  }
  add(
    'ipv4:alb',
    'Public IPv4 addresses (load balancers)',
    `${groups} balancers × ${azs} AZs × (${lb.detail})`,
    groups * azs * lb.hours,
    'address-hour',
    prices.publicIpv4Hourly,
  );
  // Without NAT the web instances sit in public subnets, each with a public IPv4 address (see docs/cdk.md).
  if (config.network.natGateways === 0) {
    add(
      'ipv4:instances',
      'Public IPv4 addresses (web instances)',
      `${num(instanceHours)} instance-hours`,
      instanceHours,
      'address-hour',
      prices.publicIpv4Hourly,
    );
  }
  add(
    'nat',
    'NAT gateways',
    `${config.network.natGateways} × ${num(hours)} h`,
    config.network.natGateways * hours,
    'gateway-hour',
    prices.vpc.natGatewayHourly,
  );
  add(
    'endpoints',
    'VPC interface endpoints',
    `${c.interfaceEndpoints} endpoints × ${azs} AZs × ${num(hours)} h`,
    c.interfaceEndpoints * azs * hours,
    'endpoint-AZ-hour',
    prices.vpc.interfaceEndpointHourlyPerAz,
  );
  add(
    'route53',
    'Route 53 queries',
    `${num(c.route53QueriesMillions)} million queries`,
    c.route53QueriesMillions,
    'million queries',
    prices.route53.queriesPerMillion,
  );
  add(
    'data-out',
    'Data transfer out to the internet',
    `${num(c.dataTransferOutGiB)} GiB`,
    c.dataTransferOutGiB,
    'GiB',
    prices.dataTransfer.outToInternetGiB,
  );
  add(
    's3',
    'S3 storage (dump, bundle, exports)',
    `${num(c.s3StorageGiB)} GiB × ${num(hours)} h / ${hpm} h`,
    (c.s3StorageGiB * hours) / hpm,
    'GiB-month',
    prices.s3.standardGiBMonth,
  );
  add(
    'secrets',
    'Secrets Manager secrets',
    `${c.secrets} secrets × ${num(hours)} h / ${hpm} h`,
    (c.secrets * hours) / hpm,
    'secret-month',
    prices.secretsManager.secretMonthly,
  );

  for (const l of c.lineItems)
    add(`item:${l.name}`, l.name, l.detail ?? 'cost.lineItems', l.quantity, l.unit, l.unitPrice);

  const totalCents = items.reduce((s, i) => s + Math.round(i.amount * 100), 0);
  return {
    currency: prices.currency,
    region: prices.region,
    pricesAsOf: prices.pricesAsOf,
    deploymentDays,
    items,
    total: totalCents / 100,
    warnings,
    sources: Object.entries(prices.sources).map(([rate, src]) => ({ rate, ...src })),
  };
}

export const money = (n: number) => n.toFixed(2).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** The quote as a table, like a printed estimate. */
export function formatQuote(q: Quote, title = 'rushhour cost estimate'): string {
  const rows = q.items.map((i) => [i.item, `${num(i.quantity)} ${i.unit}`, `${i.unitPrice}`, money(i.amount)]);
  const head = ['item', 'quantity', `unit price (${q.currency})`, `amount (${q.currency})`];
  const w = head.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k].length)));
  const line = (r: string[]) =>
    `${r[0].padEnd(w[0])}  ${r[1].padStart(w[1])}  ${r[2].padStart(w[2])}  ${r[3].padStart(w[3])}`;
  const rule = '-'.repeat(w.reduce((s, x) => s + x, 0) + 6);
  const out = [
    `${title}: ${q.deploymentDays} days, prices for ${q.region} as of ${q.pricesAsOf}`,
    ...q.warnings.map((m) => `warning: ${m}`),
    '',
    line(head),
    rule,
    ...q.items.flatMap((i, k) => [line(rows[k]), `    ${i.detail}`]),
    rule,
    line(['TOTAL', '', '', money(q.total)]),
    ...(q.sources?.length ? ['', 'rates from:', ...q.sources.map((s) => `  ${s.rate}: ${s.url} (${s.asOf})`)] : []),
  ];
  return out.join('\n');
}
