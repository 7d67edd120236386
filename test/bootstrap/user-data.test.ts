import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { App, Aws, Stack, Token } from 'aws-cdk-lib';
import { bundleReferenceApp } from '../../app/bundle';
import {
  BOOT_HELPERS,
  extractUnitFile,
  parseUnitFile,
  renderUserData,
  UserDataOptions,
} from '../../src/bootstrap/user-data';
import { startMoto } from '../../src/local/moto';
import { sha256FileSync } from '../../src/util/sha256';
import { freePort, waitForPort } from '../../src/local/ports';
import { startSeededDb } from '../app/support';

const SHA = 'a'.repeat(64);
const base: UserDataOptions = {
  bundleS3Url: 's3://cdk-assets-bucket/3f1c0d.js',
  bundleSha256: SHA,
  kind: 'node-single-file',
  port: 8080,
  healthCheckPath: '/healthz',
  ssmPrefix: '/rushhour/mysite/db',
  region: 'eu-west-1',
};

describe('renderUserData', () => {
  test('installs Node 22, fetches the bundle, checks its sha256 and runs it under systemd as a non-root user', () => {
    const lines = renderUserData(base);
    const script = lines.join('\n');
    expect(lines[0]).toBe('set -euo pipefail');
    expect(script).toContain('retry dnf install -y nodejs22');
    expect(script).toContain(
      "retry aws s3 cp --only-show-errors --region eu-west-1 's3://cdk-assets-bucket/3f1c0d.js' /opt/rushhour/download",
    );
    expect(script).toContain(`echo "${SHA}  /opt/rushhour/download" | sha256sum --check --status`);
    expect(script).toContain('systemctl enable --now rushhour-web.service');
    // The sha check comes before the file is installed or started.
    expect(script.indexOf('sha256sum --check')).toBeLessThan(script.indexOf('/opt/rushhour/app.js'));
    const unit = extractUnitFile(lines);
    expect(unit).toMatch(/^User=rushhour$/m);
    expect(unit).toMatch(/^Restart=always$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    expect(unit).toMatch(/^TimeoutStopSec=30$/m);
    expect(unit).toMatch(/^ExecStart=\/opt\/rushhour\/node \/opt\/rushhour\/app.js$/m);
    expect(parseUnitFile(unit).env).toMatchObject({
      PORT: '8080',
      RUSHHOUR_SSM_PREFIX: '/rushhour/mysite/db',
      AWS_REGION: 'eu-west-1',
      HOST: '0.0.0.0',
    });
    expect(unit).not.toMatch(/CAP_NET_BIND_SERVICE/);
    expect(extractUnitFile(renderUserData({ ...base, port: 80 }))).toMatch(
      /^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m,
    );
    execFileSync('bash', ['-n'], { input: script });
  });

  test('holds no secret: only the SSM prefix and region reach the instance', () => {
    const script = renderUserData(base).join('\n');
    expect(script).not.toMatch(/password|DB_PASSWORD|DB_USER|SecretString|AKIA|aws_secret/i);
    expect(script).not.toMatch(/^Environment="DB_/m);
  });

  test('tarball: extracts and runs the start command, escaped for systemd and bash', () => {
    const lines = renderUserData({ ...base, kind: 'tarball', startCommand: 'node server.js --port "$PORT" 100%' });
    const script = lines.join('\n');
    expect(script).toContain('tar -xzf /opt/rushhour/download -C /opt/rushhour/site --no-same-owner');
    const unit = extractUnitFile(lines);
    expect(unit).toContain('ExecStart=/bin/bash -c "node server.js --port \\"$$PORT\\" 100%%"');
    expect(unit).toMatch(/^WorkingDirectory=\/opt\/rushhour\/site$/m);
    expect(unit).not.toContain('RUSHHOUR_WORKERS');
    expect(parseUnitFile(unit).execStart).toEqual(['/bin/bash', '-c', 'node server.js --port "$PORT" 100%']);
    execFileSync('bash', ['-n'], { input: script });
  });

  test('accepts deploy-time tokens (asset bucket, stack region) and CloudFormation resolves them into the script', () => {
    const stack = new Stack(new App(), 'S');
    const url = `s3://${Token.asString({ Ref: 'AssetBucket' })}/abc.js`;
    const lines = renderUserData({ ...base, bundleS3Url: url, region: Aws.REGION });
    const resolved = JSON.stringify(stack.resolve(lines.join('\n')));
    expect(resolved).toContain('{"Ref":"AssetBucket"}');
    expect(resolved).toContain('{"Ref":"AWS::Region"}');
  });

  test('bad options fail with a message naming what to change', () => {
    expect(() => renderUserData({ ...base, bundleSha256: 'abc' })).toThrow(/bundleSha256 must be 64 lowercase hex/);
    expect(() => renderUserData({ ...base, kind: 'tarball' })).toThrow(
      /startCommand is required when kind is 'tarball'/,
    );
    expect(() => renderUserData({ ...base, bundleS3Url: 'https://x/y' })).toThrow(
      /bundleS3Url must look like s3:\/\/bucket\/key/,
    );
    expect(() => renderUserData({ ...base, ssmPrefix: 'rushhour/x/' })).toThrow(/ssmPrefix/);
    expect(() => renderUserData({ ...base, port: 0 })).toThrow(/port must be an integer/);
    expect(() => renderUserData({ ...base, kind: 'tarball', startCommand: 'a\nb' })).toThrow(/single line/);
  });

  test('the download-and-verify lines abort loudly on a checksum mismatch and pass on a match', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-ud-'));
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    const payload = path.join(dir, 'payload.js');
    fs.writeFileSync(payload, 'console.log("hi")\n');
    // A stand-in for `aws s3 cp SRC DEST` that copies the local payload (no AWS here).
    fs.writeFileSync(path.join(bin, 'aws'), `#!/bin/bash\ncp ${payload} "\${@: -1}"\n`, { mode: 0o755 });
    const run = (sha: string) => {
      const lines = renderUserData({ ...base, bundleSha256: sha, installDir: path.join(dir, 'opt') });
      const from = lines.findIndex((l) => l.startsWith('retry aws s3 cp'));
      const to = lines.indexOf('fi', from);
      fs.mkdirSync(path.join(dir, 'opt'), { recursive: true });
      const snippet = ['set -euo pipefail', ...BOOT_HELPERS, ...lines.slice(from, to + 1), 'echo VERIFIED'].join('\n');
      try {
        return {
          code: 0,
          out: execFileSync('bash', ['-c', snippet], {
            env: { PATH: `${bin}:${process.env.PATH}` },
            encoding: 'utf8',
            stdio: 'pipe',
          }),
        };
      } catch (err) {
        const e = err as { status: number; stdout: string; stderr: string };
        return { code: e.status, out: e.stdout + e.stderr };
      }
    };
    const good = sha256FileSync(payload);
    expect(run(good)).toEqual({ code: 0, out: 'VERIFIED\n' });
    const bad = run('0'.repeat(64));
    expect(bad.code).toBe(1);
    expect(bad.out).toContain(`FATAL: checksum mismatch`);
    expect(bad.out).toContain(`got ${good}`);
    expect(bad.out).not.toContain('VERIFIED');
    expect(fs.existsSync(path.join(dir, 'opt', 'download'))).toBe(false);
  });
});

describe('the app started from the bundle exactly as the instance starts it', () => {
  test('ExecStart and Environment from the rendered unit, config from SSM + Secrets Manager (moto), real MariaDB', async () => {
    const { db, config } = await startSeededDb({ courses: 43, students: 50 });
    const moto = await startMoto('eu-west-1');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rushhour-instance-'));
    let child: ReturnType<typeof spawn> | undefined;
    try {
      // What the import custom resource writes: a JSON secret and plain String parameters.
      const secrets = new SecretsManagerClient(moto.clientConfig);
      const secret = await secrets.send(
        new CreateSecretCommand({
          Name: 'rushhour/mysite/app',
          SecretString: JSON.stringify({ username: config.user, password: config.password }),
        }),
      );
      const ssm = new SSMClient(moto.clientConfig);
      const prefix = '/rushhour/mysite/db';
      const params: Record<string, string> = {
        host: config.host,
        port: String(config.port),
        name: config.database,
        user: config.user,
        'password-secret-arn': secret.ARN!,
      };
      for (const [k, v] of Object.entries(params))
        await ssm.send(new PutParameterCommand({ Name: `${prefix}/${k}`, Value: v, Type: 'String' }));
      ssm.destroy();
      secrets.destroy();

      // The instance's files: the bundle and the node link, in a private install dir.
      bundleReferenceApp(path.join(dir, 'app.js'));
      fs.symlinkSync(process.execPath, path.join(dir, 'node'));
      const port = await freePort();
      const lines = renderUserData({
        ...base,
        port,
        ssmPrefix: prefix,
        installDir: dir,
        bundleSha256: sha256FileSync(path.join(dir, 'app.js')),
      });
      const unit = parseUnitFile(extractUnitFile(lines));
      expect(unit.execStart).toEqual([path.join(dir, 'node'), path.join(dir, 'app.js')]);
      const env: Record<string, string> = {
        ...unit.env,
        // Differences from the instance, all outside the unit: loopback only on this shared machine,
        // moto instead of AWS, and dummy credentials where the instance role would answer.
        HOST: '127.0.0.1',
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_ACCESS_KEY_ID: moto.clientConfig.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: moto.clientConfig.credentials.secretAccessKey,
      };
      expect(env.RUSHHOUR_WORKERS).toBe('auto');
      let output = '';
      child = spawn(unit.execStart[0], unit.execStart.slice(1), { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (d) => {
        output += d;
      });
      child.stderr!.on('data', (d) => {
        output += d;
      });
      const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
      await waitForPort(port, '127.0.0.1', 30000).catch((err) => {
        throw new Error(`${err.message}\n${output}`);
      });
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const courses = await (await fetch(`http://127.0.0.1:${port}/api/courses`)).json();
      expect(courses).toHaveLength(43);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      expect(output).toContain(`db 127.0.0.1:${config.port}/course_selection`);
      expect(output).not.toContain(config.password);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child?.kill('SIGKILL');
      await moto.stop();
      await db.stop();
    }
  });
});
