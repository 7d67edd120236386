import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { WireDbEdge } from './wire-db';

/** The thin AWS edge of the boot step: SSM GetParameters and Secrets Manager GetSecretValue, nothing else. */
export function awsWireDbEdge(config: { region?: string; endpoint?: string } = {}): WireDbEdge & { close(): void } {
  const ssm = new SSMClient({ ...config, maxAttempts: 6 });
  const secrets = new SecretsManagerClient({ ...config, maxAttempts: 6 });
  return {
    async getParameters(names) {
      const out: Record<string, string> = {};
      for (let i = 0; i < names.length; i += 10) {
        const res = await ssm.send(new GetParametersCommand({ Names: names.slice(i, i + 10) }));
        for (const p of res.Parameters ?? []) if (p.Name && p.Value !== undefined) out[p.Name] = p.Value;
      }
      return out;
    },
    async getSecretString(secretId) {
      const res = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
      if (res.SecretString === undefined) throw new Error(`secret ${secretId} has no SecretString`);
      return res.SecretString;
    },
    close() {
      ssm.destroy();
      secrets.destroy();
    },
  };
}
