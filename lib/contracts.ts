/**
 * The strings two components must agree on, each written once: the producer (CDK stack, Lambda, import)
 * and the consumer (app, CLI, rehearsal) both import them from here, so a rename cannot leave one side
 * behind. Plain constants and functions only: this module is loaded by the CDK app, the Lambda bundles,
 * the app bundle and the CLI alike. The stack names live beside it in ./stack-names.ts.
 */

/** The SSM path the import writes the DB config under and the app reads at boot: `/rushhour/<siteName>/db`. */
export function ssmPrefixFor(siteName: string): string {
  return `${SSM_ROOT}/${siteName}/db`;
}

/** The first segment of every rushhour SSM path. */
export const SSM_ROOT = '/rushhour';

/** Names of the SSM parameters under the prefix (written by the import custom resource, read by the app). */
export const SSM_KEYS = ['host', 'port', 'name', 'user', 'password-secret-arn'] as const;
export type SsmKey = (typeof SSM_KEYS)[number];

/** The full parameter name of one key under a prefix. */
export const ssmParameterName = (prefix: string, key: SsmKey) => `${prefix.replace(/\/+$/, '')}/${key}`;

/** Output names of the data stack (lib/data-stack.ts), read by sync-back and status. */
export const DATA_OUTPUTS = {
  exportFunctionName: 'ExportFunctionName',
  exportBucketName: 'ExportBucketName',
  ssmPrefix: 'SsmPrefix',
  databaseEndpoint: 'DatabaseEndpoint',
  masterSecretArn: 'MasterSecretArn',
} as const;

/** Output names of the web stack (lib/web-stack.ts), one per load balancer k (1-based), read by status. */
export const WEB_OUTPUTS = {
  siteUrl: 'SiteUrl',
  loadBalancerDnsName: (k: number) => `LoadBalancer${k}DnsName`,
  autoScalingGroupName: (k: number) => `AutoScalingGroup${k}Name`,
  dashboardUrl: 'DashboardUrl',
} as const;

/** The index k of an `AutoScalingGroup<k>Name` output key, or undefined for any other key. */
export function autoScalingGroupOutputIndex(outputKey: string): number | undefined {
  const m = /^AutoScalingGroup(\d+)Name$/.exec(outputKey);
  return m && WEB_OUTPUTS.autoScalingGroupName(Number(m[1])) === outputKey ? Number(m[1]) : undefined;
}

/** Optional environment of both Lambda functions: caps the milliseconds one invocation works (tests, rehearsal). */
export const TIME_BUDGET_ENV = 'RUSHHOUR_TIME_BUDGET_MS';
/** The import's wall-clock bound per deployment (onEvent sets the deadline from it), in milliseconds. */
export const IMPORT_DEADLINE_ENV = 'RUSHHOUR_IMPORT_DEADLINE_MS';

/** The environment of the export function (set by lib/constructs/export-function.ts, read by lambda/export-db). */
export const EXPORT_ENV = {
  bucket: 'EXPORT_BUCKET',
  masterSecretArn: 'MASTER_SECRET_ARN',
  databaseName: 'DATABASE_NAME',
  timeBudgetMs: TIME_BUDGET_ENV,
} as const;

/**
 * The export function's actions besides the export (an event without `action`): `verify-query` runs the
 * row-level proof's read-only operations on the cloud database (src/verify/remote.ts).
 */
export const EXPORT_ACTIONS = {
  verifyQuery: 'verify-query',
} as const;

/** The import's progress table in the target database; the export and the origin checksums leave it out. */
export const PROGRESS_TABLE = 'rushhour_import_progress';

/**
 * The parallel import's record of done units (data chunks, DDL statements, deferred indexes and foreign
 * keys) beside the progress table; OWN_TABLES matches it, so the export and the checksums leave it out.
 */
export const UNITS_TABLE = 'rushhour_import_units';

/**
 * The shared PHP sessions table (web.site php with sessions "database"): created by the import, used by
 * rushhour's session handler (src/site/php-files.ts). Bookkeeping like the progress table: OWN_TABLES
 * matches it, so the export, sync-back and the origin checksums leave it out.
 */
export const SESSIONS_TABLE = 'rushhour_sessions';

/**
 * Tables rushhour itself creates in a database (the progress table, the sessions table, and any `_rushhour_`
 * scratch table).
 */
export const OWN_TABLES = /^_?rushhour_/;
