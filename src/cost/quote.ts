import type { RushhourConfig } from '../../lib/config';
import { LCU_LEAD_MINUTES } from '../../lib/capacity';
import type { PriceTable } from './prices';

/** One line of a quote: quantity × unit price, rounded to the cent. */
export interface LineItem {
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
  const add = (item: string, detail: string, quantity: number, unit: string, unitPrice: number) => {
    if (quantity > 0)
      items.push({ item, detail, quantity, unit, unitPrice, amount: toCents(quantity, unitPrice) / 100 });
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
  let instanceHours = 0;
  for (const p of c.phases) {
    const q = groups * p.instancesPerGroup * p.hoursPerDay * p.days;
    instanceHours += q;
    add(
      `EC2 ${type}, phase ${p.name}`,
      `${groups} groups × ${num(p.instancesPerGroup)} instances × ${num(p.hoursPerDay)} h/day × ${num(p.days)} days`,
      q,
      'instance-hour',
      ec2Price,
    );
  }
  add(
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
  const factor = config.database.multiAz ? prices.rds.multiAzFactor : 1;
  const az = config.database.multiAz ? 'Multi-AZ' : 'single-AZ';
  add(`RDS MySQL db.${cls} (${az})`, `${num(deploymentDays)} days × 24 h`, hours, 'instance-hour', rdsPrice * factor);
  add(
    `RDS storage gp2 (${az})`,
    `${config.database.allocatedStorageGiB} GiB × ${num(hours)} h / ${hpm} h`,
    (config.database.allocatedStorageGiB * hours) / hpm,
    'GiB-month',
    prices.rds.storageGp2GiBMonth * factor,
  );

  add(
    'Application Load Balancers',
    `${groups} balancers × ${num(hours)} h`,
    groups * hours,
    'ALB-hour',
    prices.alb.hourly,
  );
  add(
    'Load balancer capacity units',
    `${groups} balancers × ${num(c.lcuHoursPerBalancer)} LCU-hours`,
    groups * c.lcuHoursPerBalancer,
    'LCU-hour',
    prices.alb.lcuHourly,
  );
  // The reservation is held from LCU_LEAD_MINUTES before each window to its end (lib/constructs/web-tier.ts),
  // billed per reserved LCU-hour at the LCU rate.
  const lcu = config.loadBalancers.capacityReservationLcu;
  if (lcu !== undefined) {
    const windows = config.schedule ?? [];
    const reservedHours = windows.reduce(
      (h, w) => h + (Date.parse(w.end) - Date.parse(w.start) + LCU_LEAD_MINUTES * 60_000) / 3600_000,
      0,
    );
    if (windows.length === 0)
      warnings.push('loadBalancers.capacityReservationLcu is set but the schedule has no window: nothing is reserved');
    add(
      'Load balancer capacity reservation',
      `${groups} balancers × ${lcu} LCU × ${num(reservedHours)} h (${windows.length} windows + ${LCU_LEAD_MINUTES} min lead each)`,
      groups * lcu * reservedHours,
      'reserved LCU-hour',
      prices.alb.lcuHourly,
    );
  }
  add(
    'Public IPv4 addresses (load balancers)',
    `${groups} balancers × ${azs} AZs × ${num(hours)} h`,
    groups * azs * hours,
    'address-hour',
    prices.publicIpv4Hourly,
  );
  // Without NAT the web instances sit in public subnets, each with a public IPv4 address (see docs/cdk.md).
  if (config.network.natGateways === 0) {
    add(
      'Public IPv4 addresses (web instances)',
      `${num(instanceHours)} instance-hours`,
      instanceHours,
      'address-hour',
      prices.publicIpv4Hourly,
    );
  }
  add(
    'NAT gateways',
    `${config.network.natGateways} × ${num(hours)} h`,
    config.network.natGateways * hours,
    'gateway-hour',
    prices.vpc.natGatewayHourly,
  );
  add(
    'VPC interface endpoints',
    `${c.interfaceEndpoints} endpoints × ${azs} AZs × ${num(hours)} h`,
    c.interfaceEndpoints * azs * hours,
    'endpoint-AZ-hour',
    prices.vpc.interfaceEndpointHourlyPerAz,
  );
  add(
    'Route 53 queries',
    `${num(c.route53QueriesMillions)} million queries`,
    c.route53QueriesMillions,
    'million queries',
    prices.route53.queriesPerMillion,
  );
  add(
    'Data transfer out to the internet',
    `${num(c.dataTransferOutGiB)} GiB`,
    c.dataTransferOutGiB,
    'GiB',
    prices.dataTransfer.outToInternetGiB,
  );
  add(
    'S3 storage (dump, bundle, exports)',
    `${num(c.s3StorageGiB)} GiB × ${num(hours)} h / ${hpm} h`,
    (c.s3StorageGiB * hours) / hpm,
    'GiB-month',
    prices.s3.standardGiBMonth,
  );
  add(
    'Secrets Manager secrets',
    `${c.secrets} secrets × ${num(hours)} h / ${hpm} h`,
    (c.secrets * hours) / hpm,
    'secret-month',
    prices.secretsManager.secretMonthly,
  );

  const totalCents = items.reduce((s, i) => s + Math.round(i.amount * 100), 0);
  return {
    currency: prices.currency,
    region: prices.region,
    pricesAsOf: prices.pricesAsOf,
    deploymentDays,
    items,
    total: totalCents / 100,
    warnings,
  };
}

const money = (n: number) => n.toFixed(2).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

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
  ];
  return out.join('\n');
}
