import { EXPORT_ENV } from '../../lib/contracts';
import { ExportSettingsError, exportSettingsFrom } from '../../lambda/export-db/handler';
import { parseAppSecret, parseMasterSecret, SecretFormatError, secretJson } from '../../src/aws/secrets';
import { autoScalingGroupNames } from '../../src/aws/deployment';

test('the export settings come from the given environment; a missing one is a typed error naming it', () => {
  const env = {
    [EXPORT_ENV.bucket]: 'b',
    [EXPORT_ENV.masterSecretArn]: 'arn:secret',
    [EXPORT_ENV.databaseName]: 'courses',
  };
  expect(exportSettingsFrom(env)).toEqual({ bucket: 'b', masterSecretArn: 'arn:secret', database: 'courses' });
  expect(exportSettingsFrom({ ...env, [EXPORT_ENV.timeBudgetMs]: '1500' }).timeBudgetMs).toBe(1500);
  let err: unknown;
  try {
    exportSettingsFrom({ ...env, [EXPORT_ENV.bucket]: '' });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ExportSettingsError);
  expect(err).toMatchObject({ name: 'ExportSettingsError', variable: 'EXPORT_BUCKET' });
});

test('secret payloads are parsed: the wrong fields are named, their values never appear', () => {
  expect(parseMasterSecret({ host: 'db', port: '3307', username: 'admin', password: 'pw' })).toEqual({
    host: 'db',
    port: 3307,
    username: 'admin',
    password: 'pw',
  });
  expect(parseMasterSecret({ host: 'db', username: 'admin', password: 'pw' }).port).toBe(3306);
  let err: unknown;
  try {
    parseMasterSecret({ host: 'db', port: 'x-secret-port', username: '', password: 'hunter2-secret' });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SecretFormatError);
  expect(err).toMatchObject({ name: 'SecretFormatError', secret: 'master', fields: ['port', 'username'] });
  expect((err as Error).message).not.toMatch(/hunter2|x-secret-port/);
  expect(() => parseAppSecret({ username: 'app' })).toThrow(/app secret lacks or has an invalid password/);
  expect(() => secretJson('arn:s', 'not json {password: hunter2}')).toThrow(
    /^secret arn:s does not hold a JSON SecretString$/,
  );
});

test('the Auto Scaling group outputs of the web stack are found by the contract, in balancer order', () => {
  expect(
    autoScalingGroupNames({
      AutoScalingGroup2Name: 'g2',
      SiteUrl: 'https://x/',
      AutoScalingGroup1Name: 'g1',
      AutoScalingGroupName: 'not-one',
      LoadBalancer1DnsName: 'lb1',
    }),
  ).toEqual(['g1', 'g2']);
});
