import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DeleteParametersCommand, GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { Readable } from 'node:stream';
import { isGzipMagic } from '../../src/sql/dump-source';
import { secretJson } from '../../src/aws/secrets';
import { AwsEdge } from './handler';

/** Client settings; empty in Lambda (region, credentials and AWS_ENDPOINT_URL come from the environment). */
export interface AwsEdgeConfig {
  readonly region?: string;
  readonly endpoint?: string;
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
  readonly forcePathStyle?: boolean;
}

/** The thin AWS edge: S3 get, Secrets Manager get, SSM put/get/delete. Nothing else talks to AWS. */
export function awsEdge(config: AwsEdgeConfig = {}): AwsEdge {
  // A custom endpoint (moto in the rehearsal) rarely serves virtual-hosted buckets; the entry passes
  // forcePathStyle when the endpoint comes from AWS_ENDPOINT_URL instead.
  const forcePathStyle = config.forcePathStyle ?? config.endpoint !== undefined;
  const s3 = new S3Client({ ...config, forcePathStyle });
  const secrets = new SecretsManagerClient({ ...config });
  const ssm = new SSMClient({ ...config });
  return {
    async getSecretJson(secretArn) {
      const res = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
      return secretJson(secretArn, res.SecretString) as Record<string, unknown>; // never echoes the value
    },
    async openDump(bucket, key) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      const size = head.ContentLength ?? 0;
      let gzip = false;
      if (size >= 2) {
        const first = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=0-1' }));
        gzip = isGzipMagic(Buffer.from(await first.Body!.transformToByteArray()));
      }
      return {
        description: `s3://${bucket}/${key}`,
        gzip,
        size,
        open: async () => {
          const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
          return res.Body as Readable;
        },
      };
    },
    async putParameters(parameters) {
      for (const [Name, Value] of Object.entries(parameters)) {
        await ssm.send(new PutParameterCommand({ Name, Value, Type: 'String', Overwrite: true }));
      }
    },
    async getParameter(name) {
      try {
        return (await ssm.send(new GetParameterCommand({ Name: name }))).Parameter?.Value;
      } catch (err) {
        if ((err as Error).name === 'ParameterNotFound') return undefined;
        throw err;
      }
    },
    async deleteParameters(names) {
      // Names that do not exist come back in InvalidParameters, not as an error: a repeated Delete is a no-op.
      for (let k = 0; k < names.length; k += 10) {
        await ssm.send(new DeleteParametersCommand({ Names: names.slice(k, k + 10) }));
      }
    },
  };
}
