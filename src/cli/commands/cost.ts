import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { loadConfig } from '../../../lib/config';
import { loadPriceTable } from '../../cost/prices';
import { formatQuote, quote, Quote } from '../../cost/quote';

/** The project root, where the committed price tables live (pricing/). */
const PROJECT_ROOT = path.resolve(__dirname, '..', '..', '..');

/** A price table path from the config: relative to the config file, else the working directory, else the project. */
export function resolvePriceTable(configFile: string, priceTable: string): string {
  if (path.isAbsolute(priceTable)) return priceTable;
  const candidates = [
    path.resolve(path.dirname(configFile), priceTable),
    path.resolve(priceTable),
    path.resolve(PROJECT_ROOT, priceTable),
  ];
  const found = candidates.find((f) => fs.existsSync(f));
  if (!found)
    throw new Error(
      `price table ${priceTable} not found (looked in ${candidates.join(', ')}): set cost.priceTable or pass --prices`,
    );
  return found;
}

export function costQuote(options: { config: string; prices?: string }): Quote {
  const config = loadConfig(options.config, { checkFiles: false });
  const pricesFile = options.prices
    ? path.resolve(options.prices)
    : resolvePriceTable(path.resolve(options.config), config.cost.priceTable);
  return quote(config, loadPriceTable(pricesFile));
}

export function register(program: Command): void {
  program
    .command('cost')
    .description(
      "Estimate what the rush costs from the config's schedule (cost.phases etc.) and a price table: line items and a total",
    )
    .option('--config <file>', 'rushhour config', 'rushhour.config.json')
    .option('--prices <file>', "price table JSON (default: the config's cost.priceTable, pricing/us-east-1.json)")
    .option('--json', 'print the line items and total as JSON')
    .action((opts) => {
      const q = costQuote(opts);
      console.log(opts.json ? JSON.stringify(q, null, 2) : formatQuote(q));
    });
}
