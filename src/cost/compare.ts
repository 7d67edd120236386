import * as fs from 'node:fs';
import { z } from 'zod';
import { money, Quote } from './quote';

/**
 * An earlier estimate or invoice as line items. `rushhour cost --json` output is one (its extra fields are
 * ignored), so last year's quote compares with this year's as is. Lines match by `key` when both sides have it,
 * else by name (case and spacing ignored).
 */
export const CompareLineSchema = z.strictObject({
  item: z
    .string()
    .trim()
    .min(1, 'must name the line (e.g. "Amazon RDS" or a quote line such as "Application Load Balancers")'),
  amount: z.number({ message: 'must be the line amount, a number (e.g. 12.34)' }).finite(),
  key: z.string().optional(),
  detail: z.string().optional(),
  quantity: z.number().optional(),
  unit: z.string().optional(),
  unitPrice: z.number().optional(),
});
export const CompareFileSchema = z.object({
  /** What the file is, e.g. "invoice 2025-02" or "study 2024". */
  title: z.string().optional(),
  currency: z.string().optional(),
  items: z.array(CompareLineSchema),
  /** When given, must equal the sum of the items to the cent. */
  total: z.number().optional(),
});
export type CompareFile = z.infer<typeof CompareFileSchema>;

/** A compare file that does not parse or validate; `issues` are `field: message` lines. */
export class CompareFileError extends Error {
  constructor(
    readonly file: string,
    readonly issues: string[],
  ) {
    super(`invalid compare file ${file}:\n${issues.map((i) => `  ${i}`).join('\n')}`);
    this.name = 'CompareFileError';
  }
}

const norm = (s: string) => s.trim().replace(/\s+/g, ' ').toLowerCase();
const cents = (n: number) => Math.round(Number((n * 100).toFixed(6)));
/** Cents to an amount; + 0 turns -0 (a line of 0.00 only in the earlier file) into 0. */
const toMoney = (c: number) => c / 100 + 0;

/** Validates a compare file's content: the field of every problem is named (items.3.amount: ...). */
export function parseCompareFile(raw: unknown, file = '(input)'): CompareFile {
  const input = Array.isArray(raw) ? { items: raw } : raw;
  const r = CompareFileSchema.safeParse(input);
  if (!r.success)
    throw new CompareFileError(
      file,
      r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  const issues: string[] = [];
  const seen = new Map<string, number>();
  r.data.items.forEach((l, i) => {
    const id = l.key !== undefined ? `key ${l.key}` : norm(l.item);
    const first = seen.get(id);
    if (first !== undefined)
      issues.push(
        `items.${i}.item: "${l.item}" matches the same line as items.${first} (names and keys must be unique)`,
      );
    else seen.set(id, i);
  });
  if (r.data.total !== undefined) {
    const sum = r.data.items.reduce((s, l) => s + cents(l.amount), 0);
    if (sum !== cents(r.data.total))
      issues.push(`total: ${r.data.total} is not the sum of the items (${(sum / 100).toFixed(2)})`);
  }
  if (issues.length) throw new CompareFileError(file, issues);
  return r.data;
}

export function loadCompareFile(file: string): CompareFile {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CompareFileError(file, [`(root): cannot read JSON: ${(err as Error).message}`]);
  }
  return parseCompareFile(raw, file);
}

export interface CompareRow {
  readonly item: string;
  readonly key?: string;
  /** The earlier file's amount; null when only this quote has the line. */
  readonly earlier: number | null;
  /** This quote's amount; null when only the earlier file has the line. */
  readonly quote: number | null;
  /** quote − earlier, a missing side counting 0. */
  readonly difference: number;
}

export interface Comparison {
  readonly title: string;
  readonly rows: CompareRow[];
  readonly earlierTotal: number;
  readonly quoteTotal: number;
  /** quoteTotal − earlierTotal: the sum of the rows' differences, to the cent. */
  readonly difference: number;
  readonly warnings: string[];
}

/**
 * This quote's lines beside the earlier file's, in the quote's order, then the earlier lines it has no match
 * for. Sums are taken in cents, so the differences add up to the total difference exactly.
 */
export function compareQuote(q: Quote, earlier: CompareFile, title = earlier.title ?? 'earlier'): Comparison {
  const used = new Set<number>();
  const byKey = new Map<string, number>();
  const byName = new Map<string, number>();
  earlier.items.forEach((l, i) => {
    if (l.key !== undefined) byKey.set(l.key, i);
    else byName.set(norm(l.item), i);
  });
  const rows: CompareRow[] = [];
  for (const line of q.items) {
    let i = byKey.get(line.key);
    if (i === undefined || used.has(i)) i = byName.get(norm(line.item));
    if (i !== undefined && used.has(i)) i = undefined;
    if (i !== undefined) used.add(i);
    const before = i === undefined ? null : earlier.items[i].amount;
    rows.push({
      item: line.item,
      key: line.key,
      earlier: before,
      quote: line.amount,
      difference: toMoney(cents(line.amount) - cents(before ?? 0)),
    });
  }
  earlier.items.forEach((l, i) => {
    if (!used.has(i))
      rows.push({ item: l.item, key: l.key, earlier: l.amount, quote: null, difference: toMoney(-cents(l.amount)) });
  });
  const earlierCents = earlier.items.reduce((s, l) => s + cents(l.amount), 0);
  const quoteCents = q.items.reduce((s, l) => s + cents(l.amount), 0);
  const warnings: string[] = [];
  if (earlier.currency && earlier.currency !== q.currency)
    warnings.push(`the compare file is in ${earlier.currency}, this quote in ${q.currency}: amounts are not converted`);
  return {
    title,
    rows,
    earlierTotal: earlierCents / 100,
    quoteTotal: quoteCents / 100,
    difference: toMoney(quoteCents - earlierCents),
    warnings,
  };
}

const signed = (n: number) => (n > 0 ? '+' : n < 0 ? '-' : ' ') + money(Math.abs(n));

/** Side by side: item, the earlier amount, this quote's, the difference; "-" where a side has no such line. */
export function formatComparison(c: Comparison, currency: string): string {
  const cell = (n: number | null) => (n === null ? '-' : money(n));
  const head = ['item', `${c.title} (${currency})`, `this quote (${currency})`, 'difference'];
  const rows = c.rows.map((r) => [r.item, cell(r.earlier), cell(r.quote), signed(r.difference)]);
  const total = ['TOTAL', money(c.earlierTotal), money(c.quoteTotal), signed(c.difference)];
  const w = head.map((h, k) => Math.max(h.length, total[k].length, ...rows.map((r) => r[k].length)));
  const line = (r: string[]) => [r[0].padEnd(w[0]), ...r.slice(1).map((x, k) => x.padStart(w[k + 1]))].join('  ');
  const rule = '-'.repeat(w.reduce((s, x) => s + x, 0) + 6);
  return [
    `compared with ${c.title}: ${c.rows.filter((r) => r.earlier !== null && r.quote !== null).length} lines matched, ${c.rows.filter((r) => r.earlier === null).length} only in this quote, ${c.rows.filter((r) => r.quote === null).length} only in ${c.title}`,
    ...c.warnings.map((m) => `warning: ${m}`),
    '',
    line(head),
    rule,
    ...rows.map(line),
    rule,
    line(total),
  ].join('\n');
}
