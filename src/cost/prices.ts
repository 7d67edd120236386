import * as fs from 'node:fs';
import { z } from 'zod';

const price = z.number().min(0, 'must be a price >= 0');
const byType = z.record(z.string(), price);

/** A price table file: on-demand prices of one region, editable by the operator (see pricing/us-east-1.json). */
export const PriceTableSchema = z.object({
  region: z.string(),
  currency: z.string().default('USD'),
  /** When the prices were taken from the provider's pages, ISO date. */
  pricesAsOf: z.string().regex(/^\d{4}-\d{2}(-\d{2})?$/, 'must be a date like 2025-01-15'),
  source: z.string().optional(),
  notes: z.array(z.string()).optional(),
  /** Hours in a billing month for per-month prices. @default 730 */
  hoursPerMonth: z.number().positive().default(730),
  /**
   * Where each rate (a key like "ec2.cpuCreditVcpuHourly", or a section like "rds") was read, and when: printed
   * with the quote so a reader can check it.
   */
  sources: z
    .record(z.string(), z.strictObject({ url: z.string(), asOf: z.string(), note: z.string().optional() }))
    .default({}),
  ec2: z.object({
    onDemandHourly: byType,
    ebsGp3GiBMonth: price,
    /** Unlimited mode surplus credits, USD per vCPU-hour, by burstable family (t2, t3, t3a, t4g). */
    cpuCreditVcpuHourly: byType.default({}),
  }),
  rds: z.object({
    mysqlSingleAzHourly: byType,
    multiAzFactor: z.number().min(1).default(2),
    storageGp2GiBMonth: price,
  }),
  alb: z.object({
    hourly: price,
    lcuHourly: price,
    /** A reserved LCU per hour (LCU reservation); the LCU rate when absent. */
    reservedLcuHourly: price.optional(),
    /** GB processed that make one LCU-hour (the processed-bytes dimension: 1 GB for instance targets). */
    processedGBPerLcuHour: z.number().positive().default(1),
  }),
  publicIpv4Hourly: price,
  vpc: z.object({ natGatewayHourly: price, interfaceEndpointHourlyPerAz: price }),
  route53: z.object({ queriesPerMillion: price }),
  dataTransfer: z.object({ outToInternetGiB: price }),
  s3: z.object({ standardGiBMonth: price }),
  secretsManager: z.object({ secretMonthly: price }),
});

export type PriceTable = z.infer<typeof PriceTableSchema>;

export function loadPriceTable(file: string): PriceTable {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read price table ${file}: ${(err as Error).message}`, { cause: err });
  }
  const r = PriceTableSchema.safeParse(raw);
  if (!r.success) {
    throw new Error(
      `invalid price table ${file}:\n${r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')}`,
    );
  }
  return r.data;
}
