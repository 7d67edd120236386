import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeOrderableDBInstanceOptionsCommand, RDSClient } from '@aws-sdk/client-rds';
import type { CertificateFacts, DnsRecordFacts, PreflightEdge, RdsOrderableOption } from './preflight';

/**
 * The thin AWS edge of preflight. RDS and CloudFormation use the SDK clients the project has; EC2, Service
 * Quotas, ACM and Route 53 are loaded when called, so the package.json line adding the client is the whole
 * change that turns their checks on; until then those checks warn with the package to add.
 */

/** The AWS SDK release the project's clients are on; an added client must match it. */
export const SDK_VERSION = '3.1169.0';

/** A client package the project does not have (yet). */
export class MissingClientError extends Error {
  readonly fix: string;
  constructor(readonly packageName: string) {
    super(`${packageName} is not installed`);
    this.name = 'MissingClientError';
    this.fix = `add "${packageName}": "${SDK_VERSION}" to package.json dependencies and run npm install`;
  }
}

interface SdkClient {
  send(command: unknown): Promise<Record<string, unknown>>;
}
type SdkModule = Record<string, new (input?: object) => SdkClient>;

/** Loads an SDK client package at run time; MissingClientError when it is not installed. */
export async function loadSdk(packageName: string): Promise<SdkModule> {
  try {
    return (await import(packageName)) as SdkModule;
  } catch (err) {
    // require() says MODULE_NOT_FOUND; the ESM loader (tsx, the CLI) says ERR_MODULE_NOT_FOUND.
    const code = (err as { code?: string }).code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') throw new MissingClientError(packageName);
    throw err;
  }
}

export interface PreflightEdgeConfig {
  readonly region: string;
  readonly endpoint?: string;
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
}

export function awsPreflightEdge(config: PreflightEdgeConfig): PreflightEdge {
  const rds = new RDSClient(config);
  const cfn = new CloudFormationClient(config);
  const call = async (pkg: string, client: string, command: string, input: object, clientConfig: object = config) => {
    const sdk = await loadSdk(pkg);
    return new sdk[client](clientConfig).send(new sdk[command](input));
  };
  const notFound = (err: unknown, ...names: string[]) => names.includes((err as Error).name);
  return {
    async ec2StandardVcpuQuota() {
      const res = await call('@aws-sdk/client-service-quotas', 'ServiceQuotasClient', 'GetServiceQuotaCommand', {
        ServiceCode: 'ec2',
        QuotaCode: 'L-1216C47A',
      });
      const value = (res.Quota as { Value?: number } | undefined)?.Value;
      if (value === undefined) throw new Error('Service Quotas returned no value for L-1216C47A');
      return value;
    },
    async instanceTypeZones(instanceType) {
      const res = await call('@aws-sdk/client-ec2', 'EC2Client', 'DescribeInstanceTypeOfferingsCommand', {
        LocationType: 'availability-zone',
        Filters: [{ Name: 'instance-type', Values: [instanceType] }],
      });
      return ((res.InstanceTypeOfferings ?? []) as { Location?: string }[]).map((o) => o.Location!).filter(Boolean);
    },
    async rdsOrderable(engine, instanceClass) {
      const out: RdsOrderableOption[] = [];
      let marker: string | undefined;
      do {
        const res = await rds.send(
          new DescribeOrderableDBInstanceOptionsCommand({
            Engine: engine,
            DBInstanceClass: instanceClass,
            Marker: marker,
          }),
        );
        for (const o of res.OrderableDBInstanceOptions ?? [])
          out.push({ engineVersion: o.EngineVersion ?? '', multiAzCapable: o.MultiAZCapable ?? false });
        marker = res.Marker;
      } while (marker);
      return out;
    },
    async certificate(arn): Promise<CertificateFacts | undefined> {
      try {
        const res = await call('@aws-sdk/client-acm', 'ACMClient', 'DescribeCertificateCommand', {
          CertificateArn: arn,
        });
        const c = res.Certificate as { Status?: string; DomainName?: string; SubjectAlternativeNames?: string[] };
        return {
          status: c.Status ?? 'UNKNOWN',
          domainNames: [...new Set([c.DomainName ?? '', ...(c.SubjectAlternativeNames ?? [])].filter(Boolean))],
        };
      } catch (err) {
        if (notFound(err, 'ResourceNotFoundException')) return undefined;
        throw err;
      }
    },
    async hostedZone(id) {
      try {
        const res = await call('@aws-sdk/client-route-53', 'Route53Client', 'GetHostedZoneCommand', { Id: id });
        return { name: (res.HostedZone as { Name: string }).Name };
      } catch (err) {
        if (notFound(err, 'NoSuchHostedZone')) return undefined;
        throw err;
      }
    },
    async records(zoneId, name): Promise<DnsRecordFacts[]> {
      const res = await call('@aws-sdk/client-route-53', 'Route53Client', 'ListResourceRecordSetsCommand', {
        HostedZoneId: zoneId,
        StartRecordName: name,
        MaxItems: 50,
      });
      return ((res.ResourceRecordSets ?? []) as { Name: string; Type: string; SetIdentifier?: string }[]).map((r) => ({
        name: r.Name,
        type: r.Type,
        setIdentifier: r.SetIdentifier,
      }));
    },
    async bootstrapStack() {
      try {
        const res = await cfn.send(new DescribeStacksCommand({ StackName: 'CDKToolkit' }));
        const stack = res.Stacks?.[0];
        if (!stack) return undefined;
        const v = stack.Outputs?.find((o) => o.OutputKey === 'BootstrapVersion')?.OutputValue;
        return { status: stack.StackStatus ?? 'UNKNOWN', version: v === undefined ? undefined : Number(v) };
      } catch (err) {
        if ((err as Error).name === 'ValidationError' && /does not exist/.test((err as Error).message))
          return undefined;
        throw err;
      }
    },
  };
}
