import * as path from 'node:path';
import { Command } from 'commander';
import type { CliEnv } from '../cli/env';
import { loadConfig } from '../../lib/config';
import { positiveNumber } from '../util/options';
import { formatReport, rehearsalFailures, rehearse, RehearsalOptions } from './runbook';
import { rehearseSite, SiteRehearsalOptions } from './site';
import { siteRehearsalInputs } from './site-args';
import { formatSiteReport } from './site-report';

/** Short form for CI: bounded duration and rate, the same steps. */
const SHORT: Partial<RehearsalOptions> = {
  peak: 60,
  duration: '20s',
  students: 500,
  processesPerBalancer: 1,
  importSliceMs: 2000,
};

/**
 * Short form of a site rehearsal: the plan's rush shape squeezed into 20 s at a peak of 40 arrivals/s, one instance
 * per balancer. Each arrival is one page or write (a VU logs in once), a PHP page costs more than the reference
 * app's JSON, and in CI every instance's nginx and php-fpm share the machine's cores with k6.
 */
const SITE_SHORT: Partial<SiteRehearsalOptions> = {
  peak: 40,
  duration: '20s',
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
    .option('--origin-site <dir>', "your site's web directory, as on the origin (pull-web pulls it); with web.site")
    .option('--origin-dump <file>', "a mysqldump of your site's database (.sql or .sql.gz) that the origin holds")
    .option('--plan <file>', 'the load plan of your site (docs/loadtest.md)')
    .action(
      async (o: {
        config: string;
        out: string;
        short?: boolean;
        peak?: number;
        duration?: string;
        processes?: number;
        students?: number;
        originSite?: string;
        originDump?: string;
        plan?: string;
      }) => {
        const configFile = path.resolve(o.config);
        // Which rehearsal, decided before anything starts: a wrong combination fails here, naming the flag.
        const site = siteRehearsalInputs(o, loadConfig(configFile, { checkFiles: false }));
        const abort = new AbortController();
        const onSignal = () => {
          console.error('\ninterrupted: stopping the rush and tearing everything down...');
          abort.abort();
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        if (site) {
          const report = await rehearseSite({
            ...(o.short ? SITE_SHORT : {}),
            ...site,
            configFile,
            outDir: path.resolve(o.out),
            signal: abort.signal,
            ...(o.peak !== undefined && { peak: o.peak }),
            ...(o.duration !== undefined && { duration: o.duration }),
            ...(o.processes !== undefined && { processesPerBalancer: o.processes }),
          });
          process.stdout.write('\n' + formatSiteReport(report));
          if (!report.verdict.passed) process.exitCode = 1;
          return;
        }
        const base = o.short ? SHORT : {};
        const report = await rehearse({
          ...base,
          configFile,
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
