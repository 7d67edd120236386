import * as path from 'node:path';
import { Command } from 'commander';
import { compareQuote, formatComparison, loadCompareFile } from '../../cost/compare';
import { costQuote } from '../../cost/config-quote';
import { formatQuote } from '../../cost/quote';

export function register(program: Command): void {
  program
    .command('cost')
    .description(
      "Estimate what the rush costs from the config's schedule (cost.phases etc.) and a price table: line items and a total",
    )
    .option('--config <file>', 'rushhour config', 'rushhour.config.json')
    .option('--prices <file>', "price table JSON (default: the config's cost.priceTable, pricing/us-east-1.json)")
    .option(
      '--compare <file>',
      'an earlier estimate or invoice as JSON line items ({"items": [{"item", "amount"}]}, or earlier --json output): side by side with the difference per line and in total',
    )
    .option('--json', 'print the line items and total (and the comparison) as JSON')
    .action((opts) => {
      const q = costQuote(opts);
      let comparison;
      if (opts.compare) {
        const earlier = loadCompareFile(opts.compare);
        comparison = compareQuote(q, earlier, earlier.title ?? path.basename(opts.compare));
      }
      const c = comparison && { ...comparison, file: path.resolve(opts.compare) };
      if (opts.json) console.log(JSON.stringify(c ? { ...q, compare: c } : q, null, 2));
      else console.log(c ? `${formatQuote(q)}\n\n${formatComparison(c, q.currency)}` : formatQuote(q));
    });
}
