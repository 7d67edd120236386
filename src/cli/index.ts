import { Command } from 'commander';

/** Each command lives in its own module under ./commands and adds itself to the program. */
const COMMANDS: Array<() => { register(program: Command): void }> = [
  // one line per command module, e.g. () => require('./commands/import-dump'),
  () => require('./commands/app'),
  () => require('./commands/seed'),
  () => require('./commands/import-dump'),
  () => require('./commands/pull-db'),
  () => require('./commands/pull-web'),
  () => require('./commands/sync-back'),
  () => require('./commands/status'),
  () => require('./commands/cost'),
  () => require('./commands/preflight'),
  () => require('../rehearsal/cli'),
];

export function buildProgram(): Command {
  const program = new Command('rushhour')
    .description('Carry a predictable traffic rush on AWS and hand the site back afterwards with no registration lost.')
    .showHelpAfterError();
  for (const load of COMMANDS) load().register(program);
  return program;
}

if (require.main === module || process.argv[1]?.endsWith('rushhour.js') || process.argv[1]?.endsWith('rushhour')) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: Error) => {
      console.error(`rushhour: ${err.message}`);
      process.exit(1);
    });
}
