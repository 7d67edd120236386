import type { RushhourConfig } from '../../lib/config';
import { connectionBudget, instanceVcpus, LCU_LEAD_MINUTES, MAX_CONNECTIONS_SHARE } from '../../lib/capacity';
import { DNS_SET_IDENTIFIER_PREFIX } from '../../lib/stack-names';
import { DEFAULT_LIMITS } from '../../app/config';

/**
 * Preflight: what the templates cannot check, asked of the account before the week. Each check is a pure
 * function of the config and facts the edge (./preflight-edge.ts, or a fake in tests) fetched; a fact the
 * edge could not get makes its check a warning that says why, never a silent pass.
 */

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface CheckResult {
  readonly id: string;
  readonly title: string;
  readonly status: CheckStatus;
  /** What was found, with numbers. */
  readonly detail: string;
  /** What to do when not a pass. */
  readonly fix?: string;
}

export interface RdsOrderableOption {
  readonly engineVersion: string;
  readonly multiAzCapable: boolean;
}

export interface CertificateFacts {
  /** ACM status, e.g. ISSUED, PENDING_VALIDATION, EXPIRED. */
  readonly status: string;
  /** The domain name and the subject alternative names. */
  readonly domainNames: readonly string[];
}

export interface DnsRecordFacts {
  readonly name: string;
  readonly type: string;
  readonly setIdentifier?: string;
}

/** The AWS reads preflight needs, behind one thin edge. Each may throw; the check then warns with the reason. */
export interface PreflightEdge {
  /** Service Quotas ec2 L-1216C47A: Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances, in vCPUs. */
  ec2StandardVcpuQuota(): Promise<number>;
  /** The availability zones of the region that offer this instance type. */
  instanceTypeZones(instanceType: string): Promise<string[]>;
  /** RDS orderable options for an engine and a class ("db.t4g.medium"). */
  rdsOrderable(engine: string, instanceClass: string): Promise<RdsOrderableOption[]>;
  /** ACM DescribeCertificate; undefined when it does not exist. */
  certificate(arn: string): Promise<CertificateFacts | undefined>;
  /** Route 53 GetHostedZone; undefined when it does not exist. */
  hostedZone(id: string): Promise<{ name: string } | undefined>;
  /** Route 53 record sets of exactly this name (any type). */
  records(zoneId: string, name: string): Promise<DnsRecordFacts[]>;
  /** The CDK bootstrap stack (CDKToolkit): status and the BootstrapVersion output; undefined when absent. */
  bootstrapStack(): Promise<{ status: string; version?: number } | undefined>;
}

/** The bootstrap version the synthesized templates assert (their CheckBootstrapVersion rule). */
export const REQUIRED_BOOTSTRAP_VERSION = 6;
const STANDARD_FAMILIES = /^[acdhimrtz]/;
const dot = (n: string) => n.replace(/\.$/, '').toLowerCase();

export function checkVcpuQuota(config: RushhourConfig, quota: number): CheckResult {
  const id = 'ec2-vcpu-quota';
  const title = 'EC2 On-Demand vCPU quota';
  const type = config.autoScaling.instanceType;
  const vcpus = instanceVcpus(type);
  const instances = config.loadBalancers.count * config.autoScaling.maxCapacity;
  if (vcpus === undefined)
    return {
      id,
      title,
      status: 'warn',
      detail: `vCPUs of ${type} unknown here; quota ${quota} vCPUs for ${instances} instances at full scale-out`,
      fix: `check that ${instances} × vCPUs of ${type} fits ${quota} (and other running instances)`,
    };
  if (!STANDARD_FAMILIES.test(type))
    return {
      id,
      title,
      status: 'warn',
      detail: `${type} is not counted against the Standard quota L-1216C47A`,
      fix: `check the On-Demand quota of the ${type.split('.')[0]} family in Service Quotas`,
    };
  const needed = instances * vcpus;
  const detail = `${instances} instances × ${vcpus} vCPUs (${type}) = ${needed} vCPUs at full scale-out; quota ${quota}`;
  const fix = `request "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances" (L-1216C47A) of at least ${needed + 4} vCPUs in Service Quotas, region ${config.region}: approval can take days, and a group that cannot launch fails quietly at peak`;
  if (needed > quota) return { id, title, status: 'fail', detail, fix };
  // Other instances of the account share the quota: a thin margin is worth a look.
  if (needed > quota * 0.8) return { id, title, status: 'warn', detail: `${detail} (over 80%)`, fix };
  return { id, title, status: 'pass', detail };
}

export function checkInstanceTypeZones(config: RushhourConfig, zones: string[], offered: string[]): CheckResult {
  const id = 'ec2-instance-type';
  const title = `EC2 ${config.autoScaling.instanceType} in the zones`;
  const missing = zones.filter((z) => !offered.includes(z));
  if (missing.length)
    return {
      id,
      title,
      status: 'fail',
      detail: `not offered in ${missing.join(', ')} (offered in ${offered.join(', ') || 'none'})`,
      fix: 'choose network.availabilityZones where it is offered, or another autoScaling.instanceType',
    };
  return { id, title, status: 'pass', detail: `offered in ${zones.join(', ')}` };
}

export function checkRdsOffer(config: RushhourConfig, options: RdsOrderableOption[]): CheckResult[] {
  const d = config.database;
  const cls = `db.${d.instanceClass}`;
  const classCheck: CheckResult = options.length
    ? d.multiAz && !options.some((o) => o.multiAzCapable)
      ? {
          id: 'rds-class',
          title: `RDS ${cls}`,
          status: 'fail',
          detail: `${cls} is offered for MySQL here but not Multi-AZ`,
          fix: 'choose another database.instanceClass or set database.multiAz to false',
        }
      : {
          id: 'rds-class',
          title: `RDS ${cls}`,
          status: 'pass',
          detail: `${cls} is offered for MySQL in ${config.region}`,
        }
    : {
        id: 'rds-class',
        title: `RDS ${cls}`,
        status: 'fail',
        detail: `${cls} is not offered for MySQL in ${config.region}`,
        fix: 'choose a database.instanceClass the region offers (aws rds describe-orderable-db-instance-options --engine mysql)',
      };
  const versions = [...new Set(options.map((o) => o.engineVersion))].sort(compareVersions);
  const pinned = /^\d+\.\d+\.\d+/.test(d.engineVersion);
  const matching = pinned
    ? versions.filter((v) => v === d.engineVersion)
    : versions.filter((v) => v.startsWith(`${d.engineVersion}.`));
  const engineCheck: CheckResult = matching.length
    ? {
        id: 'rds-engine',
        title: `RDS MySQL ${d.engineVersion}`,
        status: 'pass',
        detail: pinned
          ? `${d.engineVersion} is offered with ${cls}`
          : `offered with ${cls}: ${matching.join(', ')} (RDS creates the default minor)`,
      }
    : {
        id: 'rds-engine',
        title: `RDS MySQL ${d.engineVersion}`,
        status: 'fail',
        detail: `not offered with ${cls} in ${config.region}${versions.length ? ` (offered: ${versions.slice(-6).join(', ')})` : ''}`,
        fix: pinned
          ? `RDS retired or never offered ${d.engineVersion}: set database.engineVersion to "${d.engineVersion.split('.').slice(0, 2).join('.')}" (RDS picks the current minor)`
          : 'choose a database.instanceClass that offers this major version',
      };
  return [classCheck, engineCheck];
}

/** Whether a certificate name (possibly "*.example.edu") covers a host name. */
export function certificateCovers(certName: string, host: string): boolean {
  const c = dot(certName);
  const h = dot(host);
  if (c === h) return true;
  // A wildcard covers exactly one label.
  return c.startsWith('*.') && h.endsWith(c.slice(1)) && !h.slice(0, -c.length + 1).includes('.');
}

export function checkCertificate(config: RushhourConfig, cert: CertificateFacts | undefined): CheckResult {
  const id = 'acm-certificate';
  const title = 'ACM certificate';
  const arn = config.certificateArn!;
  if (!cert)
    return {
      id,
      title,
      status: 'fail',
      detail: `${arn} does not exist (or is in another account)`,
      fix: `request or import a certificate in ACM in ${config.region} and set certificateArn`,
    };
  const problems: string[] = [];
  if (cert.status !== 'ISSUED') problems.push(`status ${cert.status}, not ISSUED`);
  const region = arn.split(':')[3];
  if (region !== config.region) problems.push(`in ${region}, not ${config.region}`);
  if (config.dns && !cert.domainNames.some((n) => certificateCovers(n, config.dns!.recordName)))
    problems.push(`does not cover ${dot(config.dns.recordName)} (names: ${cert.domainNames.join(', ')})`);
  if (problems.length)
    return {
      id,
      title,
      status: 'fail',
      detail: problems.join('; '),
      fix: 'finish DNS validation in ACM, or request a certificate in the region for the record name',
    };
  return {
    id,
    title,
    status: 'pass',
    detail: `ISSUED, ${config.region}, covers ${config.dns ? dot(config.dns.recordName) : 'the names'}`,
  };
}

export function checkHostedZone(
  config: RushhourConfig,
  zone: { name: string } | undefined,
  records: DnsRecordFacts[],
): CheckResult[] {
  const dns = config.dns!;
  const zoneCheck: CheckResult = !zone
    ? {
        id: 'route53-zone',
        title: 'Route 53 hosted zone',
        status: 'fail',
        detail: `${dns.hostedZoneId} does not exist in this account`,
        fix: 'set dns.hostedZoneId to the zone that serves dns.zoneName (aws route53 list-hosted-zones-by-name)',
      }
    : dot(zone.name) !== dot(dns.zoneName)
      ? {
          id: 'route53-zone',
          title: 'Route 53 hosted zone',
          status: 'fail',
          detail: `${dns.hostedZoneId} is ${dot(zone.name)}, not ${dot(dns.zoneName)}`,
          fix: 'set dns.hostedZoneId and dns.zoneName to the same zone',
        }
      : {
          id: 'route53-zone',
          title: 'Route 53 hosted zone',
          status: 'pass',
          detail: `${dns.hostedZoneId} is ${dot(zone.name)}`,
        };
  const ours = (r: DnsRecordFacts) =>
    r.type === 'A' && r.setIdentifier !== undefined && r.setIdentifier.startsWith(DNS_SET_IDENTIFIER_PREFIX);
  const foreign = records.filter((r) => dot(r.name) === dot(dns.recordName) && !ours(r));
  const recordCheck: CheckResult = foreign.length
    ? {
        id: 'route53-record',
        title: `record ${dot(dns.recordName)}`,
        status: 'fail',
        detail: `exists already: ${foreign.map((r) => `${r.type}${r.setIdentifier ? ` (${r.setIdentifier})` : ' (simple)'}`).join(', ')}`,
        fix: 'CloudFormation cannot create the weighted records next to it: delete or rename it (lower its TTL days before), or choose another dns.recordName',
      }
    : {
        id: 'route53-record',
        title: `record ${dot(dns.recordName)}`,
        status: 'pass',
        detail: records.length ? 'only the weighted records of this deployment' : 'free',
      };
  return [zoneCheck, recordCheck];
}

export function checkBootstrap(stack: { status: string; version?: number } | undefined): CheckResult {
  const id = 'cdk-bootstrap';
  const title = 'CDK bootstrap stack (CDKToolkit)';
  const fix = 'run "npx cdk bootstrap aws://ACCOUNT/REGION" with the operator\'s credentials';
  if (!stack) return { id, title, status: 'fail', detail: 'not found in this region', fix };
  if (!/_COMPLETE$/.test(stack.status) || /ROLLBACK|DELETE/.test(stack.status))
    return { id, title, status: 'fail', detail: `status ${stack.status}`, fix };
  if (stack.version === undefined || stack.version < REQUIRED_BOOTSTRAP_VERSION)
    return {
      id,
      title,
      status: 'fail',
      detail: `version ${stack.version ?? 'unknown'}, the templates require ${REQUIRED_BOOTSTRAP_VERSION} or later`,
      fix,
    };
  return { id, title, status: 'pass', detail: `${stack.status}, version ${stack.version}` };
}

export function checkConnectionBudget(config: RushhourConfig): CheckResult {
  const id = 'connection-budget';
  const title = 'DB connection budget';
  const vcpus = instanceVcpus(config.autoScaling.instanceType);
  const per =
    config.web.dbConnectionsPerInstance ?? (vcpus !== undefined ? vcpus * DEFAULT_LIMITS.dbPoolSize : undefined);
  if (per === undefined)
    return {
      id,
      title,
      status: 'warn',
      detail: `connections per ${config.autoScaling.instanceType} instance unknown`,
      fix: 'set web.dbConnectionsPerInstance (workers × pool size of the site)',
    };
  const b = connectionBudget({
    groups: config.loadBalancers.count,
    maxCapacity: config.autoScaling.maxCapacity,
    connectionsPerInstance: per,
    dbInstanceClass: config.database.instanceClass,
  });
  const detail = `${b.maxInstances} instances × ${per} + reserve = ${b.needed}; db.${config.database.instanceClass} max_connections about ${b.maxConnections ?? 'unknown'}`;
  if (b.fits === undefined)
    return { id, title, status: 'warn', detail, fix: 'look up max_connections of the class (parameter group default)' };
  if (!b.fits)
    return {
      id,
      title,
      status: 'fail',
      detail,
      fix: 'a larger database.instanceClass or fewer instances (synth refuses this config too)',
    };
  if (b.needed > b.maxConnections! * MAX_CONNECTIONS_SHARE * 0.9)
    return { id, title, status: 'warn', detail: `${detail} (close to the limit)`, fix: 'consider the next class up' };
  return { id, title, status: 'pass', detail };
}

export function checkLcuReservation(config: RushhourConfig): CheckResult {
  const id = 'lcu-reservation';
  const title = 'ALB capacity reservation';
  const lcu = config.loadBalancers.capacityReservationLcu;
  if (lcu === undefined) return { id, title, status: 'pass', detail: 'none configured' };
  if (config.schedule.length === 0)
    return {
      id,
      title,
      status: 'warn',
      detail: `${lcu} LCU configured but no schedule window: nothing is ever reserved`,
      fix: 'add schedule windows, or remove loadBalancers.capacityReservationLcu',
    };
  const now = Date.now();
  const late = config.schedule.filter(
    (w) => Date.parse(w.start) - LCU_LEAD_MINUTES * 60_000 < now && Date.parse(w.end) > now,
  );
  const detail = `${lcu} LCU per balancer × ${config.loadBalancers.count}, from ${LCU_LEAD_MINUTES} min before each of ${config.schedule.length} windows to its end (100 to 1500 LCU per balancer)`;
  if (late.length)
    return {
      id,
      title,
      status: 'warn',
      detail: `${detail}; window ${late[0].name} is under way: the reservation is set by the deploy itself`,
      fix: 'deploy now: a deploy inside a window keeps its reservation and minimum',
    };
  return { id, title, status: 'pass', detail };
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => Number(x) || 0);
  const pb = b.split(/[.-]/).map((x) => Number(x) || 0);
  for (let k = 0; k < Math.max(pa.length, pb.length); k++)
    if ((pa[k] ?? 0) !== (pb[k] ?? 0)) return (pa[k] ?? 0) - (pb[k] ?? 0);
  return 0;
}

/** Runs every check; a fact the edge could not get turns its check into a warning naming the reason. */
export async function runPreflight(
  config: RushhourConfig,
  edge: PreflightEdge,
  zones: string[],
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const guarded = async (id: string, title: string, run: () => Promise<CheckResult | CheckResult[]>) => {
    try {
      const r = await run();
      results.push(...(Array.isArray(r) ? r : [r]));
    } catch (err) {
      const e = err as Error & { fix?: string };
      results.push({
        id,
        title,
        status: 'warn',
        detail: `could not check: ${e.name}: ${e.message}`,
        fix: e.fix ?? 'run with credentials that may read this (see docs/cdk.md, preflight)',
      });
    }
  };
  await guarded('ec2-vcpu-quota', 'EC2 On-Demand vCPU quota', async () =>
    checkVcpuQuota(config, await edge.ec2StandardVcpuQuota()),
  );
  await guarded('ec2-instance-type', `EC2 ${config.autoScaling.instanceType} in the zones`, async () =>
    checkInstanceTypeZones(config, zones, await edge.instanceTypeZones(config.autoScaling.instanceType)),
  );
  await guarded(
    'rds-class',
    `RDS db.${config.database.instanceClass} and MySQL ${config.database.engineVersion}`,
    async () => checkRdsOffer(config, await edge.rdsOrderable('mysql', `db.${config.database.instanceClass}`)),
  );
  if (config.certificateArn)
    await guarded('acm-certificate', 'ACM certificate', async () =>
      checkCertificate(config, await edge.certificate(config.certificateArn!)),
    );
  else
    results.push({
      id: 'acm-certificate',
      title: 'ACM certificate',
      status: 'warn',
      detail: 'no certificateArn: the site is served over HTTP only',
      fix: 'request a certificate in ACM for the record name and set certificateArn',
    });
  if (config.dns) {
    const dns = config.dns;
    await guarded('route53-zone', 'Route 53 hosted zone and record', async () =>
      checkHostedZone(
        config,
        await edge.hostedZone(dns.hostedZoneId),
        await edge.records(dns.hostedZoneId, dns.recordName),
      ),
    );
  }
  await guarded('cdk-bootstrap', 'CDK bootstrap stack (CDKToolkit)', async () =>
    checkBootstrap(await edge.bootstrapStack()),
  );
  results.push(checkConnectionBudget(config));
  results.push(checkLcuReservation(config));
  return results;
}

/** The table the CLI prints: one line per check, what to do under each one that is not a pass. */
export function formatPreflight(results: readonly CheckResult[]): string {
  const w = Math.max(...results.map((r) => r.title.length));
  const lines = results.flatMap((r) => [
    `${r.status.toUpperCase().padEnd(4)}  ${r.title.padEnd(w)}  ${r.detail}`,
    ...(r.status !== 'pass' && r.fix ? [`${' '.repeat(6 + w)}  -> ${r.fix}`] : []),
  ]);
  const count = (s: CheckStatus) => results.filter((r) => r.status === s).length;
  lines.push('', `${count('pass')} pass, ${count('warn')} warn, ${count('fail')} fail`);
  return lines.join('\n');
}

/** Exit code: 1 if any check failed. Warnings are the operator's to read, not a refusal. */
export function preflightExitCode(results: readonly CheckResult[]): number {
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}
