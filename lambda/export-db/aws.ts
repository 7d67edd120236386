import { S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createConnection } from 'mysql2/promise';
import { s3Store } from '../../src/aws/export-store';
import { secretJson } from '../../src/aws/secrets';
import type { AwsEdgeConfig } from '../import-dump/aws';
import { ExportEdge } from './handler';

export type { AwsEdgeConfig };

/** The thin edge of the export function: Secrets Manager get, S3 put/get, the MySQL connection. */
export function exportEdge(config: AwsEdgeConfig = {}): ExportEdge {
  // A custom endpoint (moto in the rehearsal) serves buckets by path, not by DNS name.
  const s3 = new S3Client({ ...config, forcePathStyle: config.forcePathStyle ?? config.endpoint !== undefined });
  const secrets = new SecretsManagerClient({ ...config });
  return {
    async getSecretJson(secretArn) {
      const res = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
      return secretJson(secretArn, res.SecretString);
    },
    store: (bucket) => s3Store(s3, bucket),
    connect: (master) =>
      createConnection({
        host: master.host,
        port: master.port,
        user: master.username,
        password: master.password,
        charset: 'utf8mb4',
        connectTimeout: 60000,
        supportBigNumbers: true,
        bigNumberStrings: true,
        dateStrings: true,
      }),
  };
}
