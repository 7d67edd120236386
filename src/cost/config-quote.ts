import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../../lib/config';
import { loadPriceTable } from './prices';
import { quote, Quote } from './quote';

/** The project root, where the committed price tables live (pricing/). */
const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

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

/** The quote for a config file's week: its schedule and cost inputs, priced by its (or the given) price table. */
export function costQuote(options: { config: string; prices?: string }): Quote {
  const config = loadConfig(options.config, { checkFiles: false });
  const pricesFile = options.prices
    ? path.resolve(options.prices)
    : resolvePriceTable(path.resolve(options.config), config.cost.priceTable);
  return quote(config, loadPriceTable(pricesFile));
}
