import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { singleLine, SiteSchema } from '../src/site/schema';
import { AllowedKindsSchema } from '../src/sql/vetting';
import { DEFAULT_LIMITS } from '../app/config';
import { CPU_CREDIT_MODES, isBurstable } from './burstable';
import { connectionBudget, instanceVcpus, MAX_CONNECTIONS_SHARE } from './capacity';

/**
 * The one configuration of a deployment, shared by the CDK app, the operator CLI and the rehearsal.
 * Every field has a default except the site name, the region and the dump; a wrong value fails with
 * the field's path, the value given and what is allowed.
 */

const pct = (what: string) =>
  z.number().min(1, `${what} must be between 1 and 99 (percent)`).max(99, `${what} must be between 1 and 99 (percent)`);
const isoDateTime = z.iso.datetime({
  offset: true,
  message: 'must be an ISO 8601 date-time with offset, e.g. 2027-02-01T07:00:00+08:00',
});
const dnsName = z
  .string()
  .regex(
    /^(?=.{1,253}\.?$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.?$/,
    'must be a lower-case DNS name like "example.edu" (letters, digits, hyphens, dots)',
  );

export const DnsSchema = z.strictObject({
  /** Route53 hosted zone id, referenced without a lookup. */
  hostedZoneId: z.string().regex(/^Z[A-Z0-9]{4,32}$/, 'must be a Route53 hosted zone id like "Z0123456789ABCDEFGHIJ"'),
  zoneName: dnsName,
  /** The record users visit, inside the zone, e.g. "select.example.edu". */
  recordName: dnsName,
});

export const PrewarmWindowSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be 1-64 letters, digits or hyphens'),
  start: isoDateTime,
  end: isoDateTime,
  /** Minimum instances per group during the window. */
  minCapacity: z.number().int().min(1, 'must be at least 1'),
});

/**
 * A number between `min` and `max` in `unit`, with one message for both ends. The cost inputs are bounded so
 * that a typo (1e308 days) is an error naming the field rather than a quote of Infinity; the bounds are far
 * above any real deployment and far below where a product of them overflows or loses cents.
 */
const bounded = (min: number, max: number, unit: string) =>
  z
    .number()
    .min(min, `must be between ${min} and ${max} ${unit}`)
    .max(max, `must be between ${min} and ${max} ${unit}`);
/** Ten years: longer than any rush, short enough that every product below stays exact to the cent. */
const MAX_DAYS = 3650;

/** What a phase is like, for its default average CPU (see src/cost/burst.ts: idle 5%, steady, peak). */
export const PHASE_KINDS = ['idle', 'steady', 'peak'] as const;

/**
 * One slice of the deployment's clock (`hoursPerDay` on `days` days): the phases of a week are disjoint slices,
 * e.g. "peak hours" 5 h and "rest of the day" 19 h on the same 3 days.
 */
export const CostPhaseSchema = z.strictObject({
  name: singleLine(100),
  /** Instances running in each group during this phase (on average); autoScaling.maxCapacity is at most 100. */
  instancesPerGroup: bounded(0, 100, 'instances per group'),
  hoursPerDay: bounded(0, 24, 'hours per day'),
  days: bounded(0, MAX_DAYS, 'days'),
  /**
   * Sets the default averageCpuPercent: idle 5, steady midway between the scale-in and scale-out CPU, peak the
   * scale-out CPU. @default 'steady'
   */
  kind: z.enum(PHASE_KINDS, { message: `must be one of ${PHASE_KINDS.join(', ')}` }).default('steady'),
  /**
   * Average CPU of the web instances in this phase, for burst credits above a T-class baseline.
   * @default from kind (src/cost/burst.ts)
   */
  averageCpuPercent: bounded(0, 100, 'percent').optional(),
  /** Hours per day the database runs in this phase (at most hoursPerDay). @default hoursPerDay (always on) */
  databaseHoursPerDay: bounded(0, 24, 'hours per day').optional(),
  /** Hours per day the load balancers run in this phase (at most hoursPerDay). @default hoursPerDay (always on) */
  loadBalancerHoursPerDay: bounded(0, 24, 'hours per day').optional(),
});

/** A line the model does not compute (another service, a support plan, a lump sum): quantity × unit price. */
export const CostLineItemSchema = z.strictObject({
  name: singleLine(100),
  quantity: bounded(0, 1_000_000_000, 'units'),
  unit: singleLine(40),
  unitPrice: bounded(0, 10_000_000, 'per unit'),
  /** How the quantity was obtained, printed under the line. */
  detail: singleLine(200).optional(),
});

export const RushhourConfigSchema = z
  .strictObject({
    /** AWS account id; omit for an environment-agnostic synth. */
    account: z
      .string()
      .regex(/^\d{12}$/, 'must be a 12-digit AWS account id')
      .optional(),
    region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'must be an AWS region like "ap-east-1"'),
    /** Names the deployment: stack names, SSM path /rushhour/<siteName>/, tags. */
    siteName: z
      .string()
      .regex(
        /^[a-z][a-z0-9-]{1,30}[a-z0-9]$/,
        'must be 3-32 lower-case letters, digits or hyphens, starting with a letter',
      ),
    /** Optional: without it the site is reached through the load balancers' own DNS names. */
    dns: DnsSchema.optional(),
    /** ACM certificate for HTTPS listeners; HTTP only when absent. */
    certificateArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/, 'must be an ACM certificate ARN')
      .optional(),
    network: z
      .strictObject({
        maxAzs: z
          .number()
          .int()
          .min(2, 'must be 2 or 3 (RDS and ALBs need two AZs)')
          .max(3, 'must be 2 or 3')
          .default(2),
        /** NAT gateways cost about 33 USD/month each plus data; 0 uses VPC endpoints only. */
        natGateways: z.number().int().min(0).max(3, 'must be between 0 and 3').default(0),
        /**
         * AZ names, so synth needs no lookup; the region's first `maxAzs` ("<region>a", "<region>b", ...)
         * when absent.
         */
        availabilityZones: z
          .array(
            z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$/, 'must be an availability zone name like "ap-east-1a"'),
          )
          .min(2, 'must name at least 2 availability zones')
          .max(3, 'must name at most 3 availability zones')
          .optional(),
      })
      .prefault({}),
    loadBalancers: z
      .strictObject({
        count: z
          .number()
          .int()
          .min(1, 'must be between 1 and 10 load balancers')
          .max(10, 'must be between 1 and 10 load balancers')
          .default(3),
        /** Reserved LCUs per ALB for the known rush (ALB capacity reservation); none when absent. */
        capacityReservationLcu: z
          .number()
          .int()
          .min(100, 'must be at least 100 LCU (the smallest reservation)')
          .max(1500)
          .optional(),
        /** Route53 weight per load balancer; equal when absent. */
        weights: z.array(z.number().int().min(0).max(255)).optional(),
      })
      .prefault({}),
    autoScaling: z
      .strictObject({
        minCapacity: z.number().int().min(1, 'must be between 1 and 100').max(100).default(1),
        maxCapacity: z.number().int().min(1, 'must be between 1 and 100').max(100).default(6),
        instanceType: z
          .string()
          .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'must be an EC2 instance type like "t3.small"')
          .default('t3.small'),
        /**
         * CPU credits of burstable (T-class) instances: `unlimited` bursts at peak and bills the surplus (priced by
         * `rushhour cost`), `standard` throttles to the baseline once earned credits are spent (a synth warning).
         * Only for T-class types. @default 'unlimited' for T-class types
         */
        cpuCredits: z.enum(CPU_CREDIT_MODES, { message: 'must be "unlimited" or "standard"' }).optional(),
        scaleOutCpuPercent: pct('scaleOutCpuPercent').default(50),
        scaleOutFastCpuPercent: pct('scaleOutFastCpuPercent').default(70),
        scaleInCpuPercent: pct('scaleInCpuPercent').default(20),
        scaleInEvaluationMinutes: z.number().int().min(1).max(60, 'must be between 1 and 60 minutes').default(10),
        unhealthyHostThreshold: z.number().int().min(1).max(100).default(2),
        healthCheckGraceSeconds: z.number().int().min(0).max(3600).default(300),
        instanceWarmupSeconds: z.number().int().min(0).max(3600).default(120),
      })
      .prefault({}),
    database: z
      .strictObject({
        /**
         * RDS MySQL 8.4: "8.4" lets RDS create the instance at the current minor (a pinned minor that RDS
         * retired makes creation fail); "8.4.x" pins one (then autoMinorVersionUpgrade must be false).
         */
        engineVersion: z
          .string()
          .regex(
            /^8\.4(\.\d+)?$/,
            'must be MySQL 8.4: "8.4" (RDS picks the current minor) or a full "8.4.x" (8.0 is out of RDS standard support)',
          )
          .default('8.4'),
        /** RDS applies new minors in the maintenance window (security fixes; minutes of downtime without Multi-AZ). */
        autoMinorVersionUpgrade: z.boolean().default(true),
        /**
         * Weekly RDS maintenance window, UTC, "ddd:hh:mm-ddd:hh:mm"; it must not overlap a schedule window
         * (a minor upgrade restarts the database).
         */
        preferredMaintenanceWindow: z
          .string()
          .regex(
            /^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d-(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d$/,
            'must be a weekly UTC window like "sat:18:00-sat:18:30"',
          )
          .default('sat:18:00-sat:18:30'),
        instanceClass: z
          .string()
          .regex(
            /^[a-z][a-z0-9-]*\.[a-z0-9]+$/,
            'must be an instance class without the "db." prefix, like "t4g.medium"',
          )
          .default('t4g.medium'),
        allocatedStorageGiB: z.number().int().min(20, 'must be between 20 and 65536 GiB').max(65536).default(20),
        maxAllocatedStorageGiB: z.number().int().min(20).max(65536).default(100),
        multiAz: z.boolean().default(false),
        deletionProtection: z.boolean().default(true),
        backupRetentionDays: z.number().int().min(1, 'must be between 1 and 35 days').max(35).default(7),
        databaseName: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be a MySQL identifier (letters, digits, underscore)')
          .default('courses'),
      })
      .prefault({}),
    import: z.strictObject({
      /** The mysqldump to import, `.sql` or `.sql.gz`, relative to the config file. */
      dumpPath: z.string().regex(/\.sql(\.gz)?$/, 'must name a .sql or .sql.gz file'),
      /** A different dump than the one imported would overwrite registrations: refused unless this is true. */
      allowReimport: z.boolean().default(false),
      /** Statement kinds the dump may contain anyway (accounts, privileges, ...): see docs/import.md. */
      allowStatements: AllowedKindsSchema.default([]),
      /** Import a dump without mysqldump's `-- Dump completed` trailer. */
      allowIncompleteDump: z.boolean().default(false),
      /**
       * Connections the import loads on in parallel (tables and chunks concurrently, secondary indexes after
       * the data: docs/import.md); 1 is the sequential import.
       * @default 2 × the vCPUs of database.instanceClass, at most 8 (4 for an unknown class): see importConnections
       */
      connections: z
        .number({ error: 'must be a number of connections between 1 and 16' })
        .int('must be a whole number of connections between 1 and 16')
        .min(1, 'must be between 1 and 16 connections')
        .max(16, 'must be between 1 and 16 connections (more only add lock contention on the server)')
        .optional(),
    }),
    web: z
      .strictObject({
        /** The site as a .tar.gz (relative to the config file); the reference app when absent. */
        bundlePath: z
          .string()
          .regex(
            /\.(tar\.gz|tgz)$/,
            'must name a .tar.gz of the site (pack a directory with "tar -czf site.tar.gz -C DIR .")',
          )
          .optional(),
        /**
         * Command that starts the site on the instance, run from the bundle's directory by bash from a systemd
         * unit: one line (a newline would end the ExecStart directive).
         */
        startCommand: singleLine(1000).optional(),
        /**
         * Database connections one instance opens at most, for the connection budget. The reference app:
         * one worker per vCPU, each with a pool of its default size.
         * @default vCPUs of autoScaling.instanceType × the reference app's pool size
         */
        dbConnectionsPerInstance: z.number().int().min(1).max(10000).optional(),
        // Below 1024 only with web.site: the front door's nginx master binds it as root (src/site/nginx.ts).
        port: z.number().int().min(1, 'must be between 1 and 65535').max(65535).default(8080),
        // Rendered into the user data's bash (curl), nginx's `location =` and the target groups: URL-safe
        // characters only, the set renderUserData accepts, so no value that passes here fails synth later.
        healthCheckPath: z
          .string()
          .max(1024, 'must be at most 1024 characters (the target group limit)')
          .regex(
            /^\/[A-Za-z0-9_.~/?=&-]*$/,
            'must be a path starting with "/" of URL-safe characters (letters, digits, _ . ~ / ? = & -)',
          )
          .default('/healthz'),
        /** The site's runtime behind the front door (docs/site.md); the reference app when absent. */
        site: SiteSchema.optional(),
      })
      .prefault({}),
    /** Pre-warm windows: scheduled minimum capacity before a known rush. */
    schedule: z.array(PrewarmWindowSchema).default([]),
    /**
     * Fail synth on what is otherwise a warning (schedule windows already over); also the CDK context
     * `rushhour:strict` (`cdk synth -c rushhour:strict=true`).
     */
    strict: z.boolean().default(false),
    /** Inputs of `rushhour cost`. */
    cost: z
      .strictObject({
        /** Price table (JSON, see pricing/us-east-1.json); relative to the config file, else to the project. */
        priceTable: z.string().default('pricing/us-east-1.json'),
        /** The web tier's schedule: instances per group, hours per day, days. */
        phases: z.array(CostPhaseSchema).default([]),
        /**
         * Days the stacks exist (RDS, load balancers, endpoints run all the time); the sum of the phases'
         * days when absent.
         */
        deploymentDays: bounded(0, MAX_DAYS, 'days').optional(),
        dataTransferOutGiB: bounded(0, 1_000_000, 'GiB').default(0),
        /** LCU-hours each load balancer uses over the deployment (on top of its hourly charge). */
        lcuHoursPerBalancer: bounded(0, 10_000_000, 'LCU-hours').default(0),
        /** DNS queries to the weighted records, in millions. */
        route53QueriesMillions: bounded(0, 1_000_000, 'million queries').default(0),
        /** Root volume (gp3) of each instance; gp3 volumes are at most 16 TiB. */
        instanceVolumeGiB: bounded(0, 16384, 'GiB').default(8),
        /** VPC interface endpoints the stack creates (Secrets Manager, SSM), each in every AZ. */
        interfaceEndpoints: bounded(0, 50, 'endpoints').int().default(2),
        /** Secrets Manager secrets (the RDS master secret and the app's). */
        secrets: bounded(0, 1000, 'secrets').int().default(2),
        /** S3 storage for the dump, the bundle and exports, GiB held over the deployment. */
        s3StorageGiB: bounded(0, 1_000_000, 'GiB').default(0),
        /**
         * GB the load balancers process over the deployment, all balancers together, priced as LCU-hours at the
         * price table's alb.processedGBPerLcuHour (1 GB per LCU-hour for instance targets): the processed-bytes
         * dimension of the LCU. Adds to lcuHoursPerBalancer.
         */
        loadBalancerProcessedGB: bounded(0, 100_000_000, 'GB').default(0),
        /** Free-form lines: other services, lump sums, anything an earlier estimate had. */
        lineItems: z.array(CostLineItemSchema).default([]),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    const a = c.autoScaling;
    if (a.minCapacity > a.maxCapacity) {
      ctx.addIssue({
        code: 'custom',
        path: ['autoScaling', 'minCapacity'],
        message: `minCapacity (${a.minCapacity}) must not exceed maxCapacity (${a.maxCapacity})`,
      });
    }
    if (a.scaleOutCpuPercent <= a.scaleInCpuPercent) {
      ctx.addIssue({
        code: 'custom',
        path: ['autoScaling', 'scaleOutCpuPercent'],
        message: `scaleOutCpuPercent (${a.scaleOutCpuPercent}) must be above scaleInCpuPercent (${a.scaleInCpuPercent})`,
      });
    }
    if (a.scaleOutFastCpuPercent <= a.scaleOutCpuPercent) {
      ctx.addIssue({
        code: 'custom',
        path: ['autoScaling', 'scaleOutFastCpuPercent'],
        message: `scaleOutFastCpuPercent (${a.scaleOutFastCpuPercent}) must be above scaleOutCpuPercent (${a.scaleOutCpuPercent})`,
      });
    }
    if (c.database.maxAllocatedStorageGiB < c.database.allocatedStorageGiB) {
      ctx.addIssue({
        code: 'custom',
        path: ['database', 'maxAllocatedStorageGiB'],
        message: `maxAllocatedStorageGiB (${c.database.maxAllocatedStorageGiB}) must be at least allocatedStorageGiB (${c.database.allocatedStorageGiB})`,
      });
    }
    if (c.loadBalancers.weights && c.loadBalancers.weights.length !== c.loadBalancers.count) {
      ctx.addIssue({
        code: 'custom',
        path: ['loadBalancers', 'weights'],
        message: `needs one weight per load balancer (${c.loadBalancers.count}), got ${c.loadBalancers.weights.length}`,
      });
    }
    if (
      c.dns &&
      !(c.dns.recordName.replace(/\.$/, '') + '.').endsWith('.' + c.dns.zoneName.replace(/\.$/, '') + '.') &&
      c.dns.recordName.replace(/\.$/, '') !== c.dns.zoneName.replace(/\.$/, '')
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['dns', 'recordName'],
        message: `recordName "${c.dns.recordName}" must be inside zone "${c.dns.zoneName}"`,
      });
    }
    if (c.certificateArn) {
      const certRegion = c.certificateArn.split(':')[3];
      if (certRegion !== c.region)
        ctx.addIssue({
          code: 'custom',
          path: ['certificateArn'],
          message: `the certificate is in region "${certRegion}", but a load balancer needs one in its own region "${c.region}" (request or import it there in ACM)`,
        });
    }
    const pinned = /^8\.4\.\d+$/.test(c.database.engineVersion);
    if (pinned && c.database.autoMinorVersionUpgrade) {
      ctx.addIssue({
        code: 'custom',
        path: ['database', 'autoMinorVersionUpgrade'],
        message: `must be false with a pinned minor (database.engineVersion "${c.database.engineVersion}"): after RDS upgrades the minor, the next deploy would ask for a downgrade; use "8.4" to let RDS choose`,
      });
    }
    for (const w of c.schedule) {
      if (maintenanceOverlaps(c.database.preferredMaintenanceWindow, Date.parse(w.start), Date.parse(w.end))) {
        ctx.addIssue({
          code: 'custom',
          path: ['database', 'preferredMaintenanceWindow'],
          message: `"${c.database.preferredMaintenanceWindow}" (UTC) overlaps schedule window "${w.name}" (${w.start} to ${w.end}): a minor upgrade would restart the database during the rush`,
        });
      }
    }
    if (a.cpuCredits !== undefined && !isBurstable(a.instanceType)) {
      ctx.addIssue({
        code: 'custom',
        path: ['autoScaling', 'cpuCredits'],
        message: `is only for burstable (T-class) instance types; ${a.instanceType} has no CPU credits (remove it)`,
      });
    }
    c.cost.phases.forEach((p, i) => {
      for (const field of ['databaseHoursPerDay', 'loadBalancerHoursPerDay'] as const) {
        const h = p[field];
        if (h !== undefined && h > p.hoursPerDay)
          ctx.addIssue({
            code: 'custom',
            path: ['cost', 'phases', i, field],
            message: `must be at most the phase's hoursPerDay (${p.hoursPerDay}): a phase is a slice of ${p.hoursPerDay} h a day`,
          });
      }
    });
    // Quote lines are matched by name in `cost --compare`: two lines of one name would be ambiguous.
    for (const [list, what] of [
      [c.cost.phases.map((p) => p.name), 'phases'],
      [c.cost.lineItems.map((l) => l.name), 'lineItems'],
    ] as const) {
      list.forEach((n, i) => {
        const first = list.indexOf(n);
        if (first !== i)
          ctx.addIssue({
            code: 'custom',
            path: ['cost', what, i, 'name'],
            message: `"${n}" is already the name of cost.${what}[${first}]: names must be unique`,
          });
      });
    }
    const vcpus = instanceVcpus(a.instanceType);
    const perInstance =
      c.web.dbConnectionsPerInstance ?? (vcpus !== undefined ? vcpus * DEFAULT_LIMITS.dbPoolSize : undefined);
    if (perInstance !== undefined) {
      const budget = connectionBudget({
        groups: c.loadBalancers.count,
        maxCapacity: a.maxCapacity,
        connectionsPerInstance: perInstance,
        dbInstanceClass: c.database.instanceClass,
      });
      if (budget.fits === false) {
        ctx.addIssue({
          code: 'custom',
          path: ['database', 'instanceClass'],
          message: `db.${c.database.instanceClass} allows about ${budget.maxConnections} connections, but ${budget.maxInstances} instances at full scale-out × ${perInstance} connections each + reserve need ${budget.needed} (more than ${Math.round(MAX_CONNECTIONS_SHARE * 100)}%): choose a larger class, fewer instances (autoScaling.maxCapacity, loadBalancers.count) or set web.dbConnectionsPerInstance to what the site really opens`,
        });
      }
    }
    if (c.network.availabilityZones) {
      c.network.availabilityZones.forEach((az, i) => {
        if (!az.startsWith(c.region))
          ctx.addIssue({
            code: 'custom',
            path: ['network', 'availabilityZones', i],
            message: `availability zone "${az}" is not in region "${c.region}"`,
          });
      });
    }
    if (c.web.port < 1024 && !c.web.site) {
      ctx.addIssue({
        code: 'custom',
        path: ['web', 'port'],
        message: 'must be between 1024 and 65535 unless web.site is set (the front door binds privileged ports)',
      });
    }
    const runtime = c.web.site && c.web.site.runtime !== 'reference' ? c.web.site.runtime : undefined;
    if (runtime && !c.web.bundlePath) {
      ctx.addIssue({
        code: 'custom',
        path: ['web', 'bundlePath'],
        message: `is required with web.site.runtime "${runtime}" (the site as a .tar.gz: npx rushhour pull-web)`,
      });
    }
    if (runtime && c.web.startCommand) {
      ctx.addIssue({
        code: 'custom',
        path: ['web', 'startCommand'],
        message: `is not used with web.site.runtime "${runtime}"${runtime === 'php' ? '' : ' (set web.site.startCommand)'}`,
      });
    }
    if (c.web.bundlePath && !c.web.startCommand && !runtime) {
      ctx.addIssue({
        code: 'custom',
        path: ['web', 'startCommand'],
        message: 'is required with web.bundlePath (the command that starts the site, e.g. "node server.js")',
      });
    }
    const windows = c.schedule.map((w, i) => ({ ...w, i, s: Date.parse(w.start), e: Date.parse(w.end) }));
    for (const w of windows) {
      if (w.e <= w.s)
        ctx.addIssue({
          code: 'custom',
          path: ['schedule', w.i, 'end'],
          message: `window "${w.name}" ends (${w.end}) before it starts (${w.start})`,
        });
      if (w.minCapacity > a.maxCapacity) {
        ctx.addIssue({
          code: 'custom',
          path: ['schedule', w.i, 'minCapacity'],
          message: `window "${w.name}" minCapacity (${w.minCapacity}) must be between 1 and autoScaling.maxCapacity (${a.maxCapacity})`,
        });
      }
    }
    const sorted = [...windows].sort((x, y) => x.s - y.s);
    for (let k = 1; k < sorted.length; k++) {
      if (sorted[k].s < sorted[k - 1].e) {
        ctx.addIssue({
          code: 'custom',
          path: ['schedule', sorted[k].i, 'start'],
          message: `window "${sorted[k].name}" overlaps window "${sorted[k - 1].name}"`,
        });
      }
    }
  });

export type RushhourConfig = z.infer<typeof RushhourConfigSchema>;

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const WEEK_MS = 7 * 24 * 3600_000;

/** Whether a weekly "ddd:hh:mm-ddd:hh:mm" (UTC) window overlaps the interval [startMs, endMs). */
export function maintenanceOverlaps(window: string, startMs: number, endMs: number): boolean {
  const m = /^(\w{3}):(\d\d):(\d\d)-(\w{3}):(\d\d):(\d\d)$/.exec(window);
  if (!m || !Number.isFinite(startMs) || !Number.isFinite(endMs)) return false;
  const offset = (d: string, h: string, min: string) =>
    ((DAYS.indexOf(d) * 24 + Number(h)) * 60 + Number(min)) * 60_000;
  const from = offset(m[1], m[2], m[3]);
  let to = offset(m[4], m[5], m[6]);
  if (to <= from) to += WEEK_MS; // wraps past Saturday midnight
  // 1970-01-04 was a Sunday: weeks counted from there start at Sunday 00:00 UTC.
  const sunday = Date.UTC(1970, 0, 4);
  const firstWeek = Math.floor((startMs - sunday) / WEEK_MS) - 1;
  for (let k = firstWeek; sunday + k * WEEK_MS < endMs; k++) {
    const s = sunday + k * WEEK_MS + from;
    const e = sunday + k * WEEK_MS + to;
    if (s < endMs && e > startMs) return true;
  }
  return false;
}
export type RushhourConfigInput = z.input<typeof RushhourConfigSchema>;

/** The most connections the default rule gives an import (more add contention, not speed, on one instance). */
export const MAX_DEFAULT_IMPORT_CONNECTIONS = 8;

/**
 * The import's connections: import.connections, else 2 per vCPU of the database class (one loads while
 * the other's statement is on the wire or waiting for its commit), at most MAX_DEFAULT_IMPORT_CONNECTIONS;
 * 4 when the class's vCPUs are unknown. db.t4g.medium (2 vCPUs): 4.
 */
export function importConnections(config: Pick<RushhourConfig, 'import' | 'database'>): number {
  if (config.import.connections !== undefined) return config.import.connections;
  const vcpus = instanceVcpus(config.database.instanceClass.replace(/^db\./, ''));
  return vcpus === undefined ? 4 : Math.min(MAX_DEFAULT_IMPORT_CONNECTIONS, 2 * vcpus);
}

/** Thrown for an invalid config; the message lists every problem as `field: message (got value)`. */
export class ConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

function valueAt(input: unknown, p: PropertyKey[]): unknown {
  return p.reduce<unknown>(
    (v, k) => (v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined),
    input,
  );
}

/** Validates a config object. `baseDir` resolves relative paths and checks that the dump exists. */
export function parseConfig(
  input: unknown,
  options: { baseDir?: string; source?: string; checkFiles?: boolean } = {},
): RushhourConfig {
  const result = RushhourConfigSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const field = i.path.length ? i.path.join('.') : '(root)';
      const got = valueAt(input, i.path);
      return `  ${field}: ${i.message}${got !== undefined && typeof got !== 'object' ? ` (got ${JSON.stringify(got)})` : ''}`;
    });
    throw new ConfigError(
      `invalid rushhour config${options.source ? ` in ${options.source}` : ''}:\n${lines.join('\n')}`,
    );
  }
  const config = result.data;
  const baseDir = options.baseDir ?? process.cwd();
  config.import.dumpPath = path.resolve(baseDir, config.import.dumpPath);
  if (config.web.bundlePath) config.web.bundlePath = path.resolve(baseDir, config.web.bundlePath);
  if (options.checkFiles !== false) {
    if (!fs.existsSync(config.import.dumpPath)) {
      throw new ConfigError(
        `invalid rushhour config${options.source ? ` in ${options.source}` : ''}:\n  import.dumpPath: file not found: ${config.import.dumpPath} (pull it with "npx rushhour pull-db" or point to an existing .sql/.sql.gz)`,
      );
    }
    if (config.web.bundlePath && !fs.existsSync(config.web.bundlePath)) {
      throw new ConfigError(`invalid rushhour config:\n  web.bundlePath: not found: ${config.web.bundlePath}`);
    }
  }
  return config;
}

/**
 * The schedule windows already over at `now` (their end has passed): web-stack leaves their actions out, so
 * they pre-warm nothing. A config whose every window is over synthesizes a deployment with no pre-warm at all,
 * usually a wrong year; the check needs a clock, so it runs at synth (addRushhourStacks), not in the schema.
 * Returns the message, or undefined when no window is over.
 */
export function pastScheduleProblem(config: RushhourConfig, now: Date): string | undefined {
  const over = config.schedule.filter((w) => Date.parse(w.end) <= now.getTime());
  if (over.length === 0) return undefined;
  const names = over.map((w) => `"${w.name}" (ended ${w.end})`).join(', ');
  const all = over.length === config.schedule.length;
  return (
    `${all ? 'the schedule is entirely in the past' : `${over.length} of ${config.schedule.length} windows are in the past`} ` +
    `at ${now.toISOString()}: ${names} ${over.length === 1 ? 'pre-warms' : 'pre-warm'} nothing; check the dates (strict: true, ` +
    'cdk synth --strict or -c rushhour:strict=true make this an error)'
  );
}

/** Reads and validates a JSON config file. */
export function loadConfig(file: string, options: { checkFiles?: boolean } = {}): RushhourConfig {
  const abs = path.resolve(file);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(abs, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read rushhour config ${abs}: ${(err as Error).message}`);
  }
  return parseConfig(raw, { baseDir: path.dirname(abs), source: abs, checkFiles: options.checkFiles });
}
