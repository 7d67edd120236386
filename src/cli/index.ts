import { Command } from 'commander';
import * as rehearse from '../rehearsal/cli';
import * as app from './commands/app';
import * as cost from './commands/cost';
import * as importDump from './commands/import-dump';
import * as pullDb from './commands/pull-db';
import * as preflight from './commands/preflight';
import * as pullWeb from './commands/pull-web';
import * as seed from './commands/seed';
import * as status from './commands/status';
import * as syncBack from './commands/sync-back';
import * as verifyData from './commands/verify-data';
import type { CliEnv } from './env';

/**
 * Each command lives in its own module under ./commands and adds itself to the program. Static imports:
 * bin/rushhour.js runs the sources through tsx's require hook, which does not cover a dynamic import() of
 * a .ts file. The AWS SDK clients a command needs only sometimes are loaded on use inside src/aws/.
 */
const COMMANDS: ReadonlyArray<{ register(program: Command, env: CliEnv): void }> = [
  app,
  seed,
  importDump,
  pullDb,
  pullWeb,
  syncBack,
  status,
  verifyData,
  preflight,
  cost,
  rehearse,
];

/** The program; `env` is the only environment the commands see (this entry reads process.env, nothing else does). */
export function buildProgram(env: CliEnv = process.env): Command {
  const program = new Command('rushhour')
    .description('Carry a predictable traffic rush on AWS and hand the site back afterwards with no registration lost.')
    .showHelpAfterError();
  for (const command of COMMANDS) command.register(program, env);
  return program;
}

if (require.main === module || process.argv[1]?.endsWith('rushhour.js') || process.argv[1]?.endsWith('rushhour')) {
  buildProgram(process.env)
    .parseAsync(process.argv)
    .catch((err: Error) => {
      console.error(`rushhour: ${err.message}`);
      process.exit(1);
    });
}
