import * as path from 'node:path';
import { Command } from 'commander';
import type { CliEnv } from '../cli/env';
import { positiveNumber } from '../util/options';
import { formatReport, rehearsalFailures, rehearse, RehearsalOptions } from './runbook';

/** Short form for CI: bounded duration and rate, the same steps. */
const SHORT: Partial<RehearsalOptions> = {
  peak: 60,
  duration: '20s',
  students: 500,
  processesPerBalancer: 1,
  importSliceMs: 2000,
};

export function register(program: Command, env: CliEnv): void {
  program
    .command('rehearse')
    .description(
      'Play the whole week locally on real parts: origin over SSH, import, app behind 3 HAProxy balancers, k6 rush, sync-back, report',
    )
    .option(
      '--config <file>',
      'deployment config (site, database, balancers, cost inputs)',
      'examples/rushhour.config.json',
    )
    .option('--out <dir>', 'where the report, chart and pulled files go', 'rehearsal-out')
    .option('--short', 'the bounded form CI runs (20 s rush at 60 req/s, one process per balancer)')
    .option(
      '--peak <n>',
      'peak arrival rate of the rush, requests per second',
      positiveNumber('--peak', { integer: true }),
    )
    .option('--duration <d>', 'duration of the rush, e.g. 90s or 5m')
    .option('--processes <n>', 'app processes per balancer', positiveNumber('--processes', { integer: true }))
    .option('--students <n>', 'students seeded at the origin', positiveNumber('--students', { integer: true }))
    .action(
      async (o: {
        config: string;
        out: string;
        short?: boolean;
        peak?: number;
        duration?: string;
        processes?: number;
        students?: number;
      }) => {
        const abort = new AbortController();
        const onSignal = () => {
          console.error('\ninterrupted: stopping the rush and tearing everything down...');
          abort.abort();
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        const base = o.short ? SHORT : {};
        const report = await rehearse({
          ...base,
          configFile: path.resolve(o.config),
          outDir: path.resolve(o.out),
          signal: abort.signal,
          path: env.PATH,
          ...(o.peak !== undefined && { peak: o.peak }),
          ...(o.duration !== undefined && { duration: o.duration }),
          ...(o.processes !== undefined && { processesPerBalancer: o.processes }),
          ...(o.students !== undefined && { students: o.students }),
        });
        process.stdout.write('\n' + formatReport(report));
        if (rehearsalFailures(report).length) process.exitCode = 1;
      },
    );
}
