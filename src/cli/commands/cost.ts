import { Command } from 'commander';
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
    .option('--json', 'print the line items and total as JSON')
    .action((opts) => {
      const q = costQuote(opts);
      console.log(opts.json ? JSON.stringify(q, null, 2) : formatQuote(q));
    });
}
