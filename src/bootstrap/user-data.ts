import { Token } from 'aws-cdk-lib';

/**
 * Instance bootstrap for the web tier: the bash lines that go into `ec2.UserData.addCommands(...)`.
 *
 * The user data holds no secret. It installs Node 22, fetches the site bundle from S3 (both with
 * retries and backoff), checks its
 * sha256 against the value computed at synth time (and stops loudly on a mismatch), and runs the
 * site under systemd as a dedicated non-root user. The app reads its database settings from SSM and
 * its password from Secrets Manager at runtime, with the instance role.
 */

export interface UserDataOptions {
  /** Where the bundle lives: `s3://bucket/key` (the CDK asset's `s3ObjectUrl`). */
  readonly bundleS3Url: string;
  /** Hex sha256 of the bundle file, computed at synth time; the instance refuses any other file. */
  readonly bundleSha256: string;
  /**
   * `node-single-file`: one esbuild output file, run with `node <file>`.
   * `tarball`: a `.tar.gz` of the user's site, extracted and started with `startCommand`.
   */
  readonly kind: 'node-single-file' | 'tarball';
  /**
   * Command line that starts the site from the extracted tarball (run by bash in that directory). Required for
   * `tarball`.
   */
  readonly startCommand?: string;
  /** TCP port the site listens on (passed as `PORT`). */
  readonly port: number;
  /** Path the load balancer checks, e.g. `/healthz`; user data waits for it once after start (informational). */
  readonly healthCheckPath: string;
  /** SSM prefix with the database settings, passed as `RUSHHOUR_SSM_PREFIX`, e.g. `/rushhour/mysite/db`. */
  readonly ssmPrefix: string;
  /** AWS region for the SDK and the `aws s3 cp`. */
  readonly region: string;
  /**
   * Directory for the bundle and the node link. Only tests change it.
   * @default '/opt/rushhour'
   */
  readonly installDir?: string;
  /**
   * Seconds systemd waits after SIGTERM for in-flight requests to drain before SIGKILL.
   * Keep it below the target group's deregistration delay plus the lifecycle hook timeout.
   * @default 30
   */
  readonly stopTimeoutSeconds?: number;
}

/**
 * Bash helpers the user data defines first. `retry CMD...` runs a command up to 6 times, waiting 2, 4, 8,
 * 16, 32 s between attempts (about a minute in all): one repository or S3 hiccup must not fail the boot,
 * or the group replaces the instance, in a loop, at peak. `boot_step NAME` logs each step with the
 * seconds since boot started; `boot_step done` logs the total.
 */
export const BOOT_HELPERS: readonly string[] = [
  'BOOT_T0=$SECONDS',
  'boot_step() { echo "rushhour: step [$1] at +$((SECONDS - BOOT_T0))s"; }',
  'retry() { local n=1 delay=2; until "$@"; do if [ "$n" -ge 6 ]; then echo "rushhour: FATAL: $1 failed $n times" >&2; return 1; fi; echo "rushhour: $1 failed (attempt $n of 6), retrying in ${delay}s" >&2; sleep "$delay"; n=$((n + 1)); delay=$((delay * 2)); done; }',
];

/** Name of the systemd unit the user data writes. */
export const SERVICE_NAME = 'rushhour-web';
/** The dedicated system user the site runs as. */
export const SERVICE_USER = 'rushhour';

/**
 * Renders the user data as bash lines for Amazon Linux 2023 (`ec2.UserData.forLinux()` adds the shebang).
 * Throws with a message naming the option to fix when an option is malformed.
 */
export function renderUserData(options: UserDataOptions): string[] {
  validate(options);
  const dir = options.installDir ?? '/opt/rushhour';
  const stopTimeout = options.stopTimeoutSeconds ?? 30;
  const download = `${dir}/download`;
  const lines: string[] = [
    'set -euo pipefail',
    `exec > >(tee -a /var/log/${SERVICE_NAME}-bootstrap.log) 2>&1`,
    `echo "rushhour: bootstrap starting at $(date -u +%FT%TZ)"`,
    ...BOOT_HELPERS,
    // Node 22 from the distribution (AL2023's namespaced nodejs22; binary node-22). AL2023 locks its
    // repositories to the AMI's release, so the package set is the AMI's, not whatever is newest today.
    'boot_step "install Node 22"',
    'retry dnf install -y nodejs22',
    'NODE_BIN="$(command -v node-22 || true)"',
    'if [ -z "$NODE_BIN" ]; then echo "rushhour: FATAL: nodejs22 installed no node-22 binary" >&2; exit 1; fi',
    `id -u ${SERVICE_USER} >/dev/null 2>&1 || useradd --system --no-create-home --home-dir ${dir} --shell /sbin/nologin ${SERVICE_USER}`,
    // Code is owned by root and only readable by the service user, so a compromised app cannot rewrite itself.
    `install -d -o root -g root -m 0755 ${dir}`,
    `ln -sfn "$NODE_BIN" ${dir}/node`,
    'boot_step "download the bundle"',
    `retry aws s3 cp --only-show-errors --region ${options.region} ${shellQuote(options.bundleS3Url)} ${download}`,
    `if ! echo "${options.bundleSha256}  ${download}" | sha256sum --check --status; then`,
    `  echo "rushhour: FATAL: checksum mismatch for ${options.bundleS3Url}: expected ${options.bundleSha256}, got $(sha256sum ${download} | cut -d' ' -f1)" >&2`,
    `  rm -f ${download}`,
    '  exit 1',
    'fi',
  ];
  let execStart: string;
  let workDir: string;
  if (options.kind === 'node-single-file') {
    lines.push(`install -o root -g root -m 0644 ${download} ${dir}/app.js`, `rm -f ${download}`);
    execStart = `${dir}/node ${dir}/app.js`;
    workDir = dir;
  } else {
    workDir = `${dir}/site`;
    lines.push(
      `rm -rf ${workDir} && install -d -o root -g root -m 0755 ${workDir}`,
      `tar -xzf ${download} -C ${workDir} --no-same-owner`,
      `rm -f ${download}`,
      `chmod -R a+rX ${workDir}`,
    );
    // PATH gets the node link so a start command like `node server.js` or `npm start` finds Node 22.
    execStart = `/bin/bash -c "${systemdEscape(options.startCommand!)}"`;
  }
  const unit = [
    '[Unit]',
    `Description=rushhour web site (${options.kind})`,
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `User=${SERVICE_USER}`,
    `Group=${SERVICE_USER}`,
    `WorkingDirectory=${workDir}`,
    'Environment="NODE_ENV=production"',
    `Environment="PORT=${options.port}"`,
    // The load balancer reaches the instance on its VPC address, so listen on all interfaces.
    'Environment="HOST=0.0.0.0"',
    `Environment="RUSHHOUR_SSM_PREFIX=${options.ssmPrefix}"`,
    `Environment="AWS_REGION=${options.region}"`,
    `Environment="PATH=${dir}:/usr/local/bin:/usr/bin:/bin"`,
    // The reference app runs one worker per core (node cluster); a user's start command decides for itself.
    ...(options.kind === 'node-single-file' ? ['Environment="RUSHHOUR_WORKERS=auto"'] : []),
    `ExecStart=${execStart}`,
    'Restart=always',
    'RestartSec=2',
    // SIGTERM makes the app stop accepting, drain in-flight requests and close its DB pool.
    'KillSignal=SIGTERM',
    'KillMode=mixed',
    `TimeoutStopSec=${stopTimeout}`,
    'LimitNOFILE=65536',
    ...(options.port < 1024 ? ['AmbientCapabilities=CAP_NET_BIND_SERVICE'] : []),
    'NoNewPrivileges=true',
    'ProtectSystem=strict',
    'ProtectHome=true',
    'PrivateTmp=true',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ];
  lines.push(
    // Quoted delimiter: bash expands nothing inside the unit text.
    `cat > /etc/systemd/system/${SERVICE_NAME}.service <<'RUSHHOUR_UNIT'`,
    ...unit,
    'RUSHHOUR_UNIT',
    'systemctl daemon-reload',
    'boot_step "start the site"',
    `systemctl enable --now ${SERVICE_NAME}.service`,
    // Informational: the ALB health check decides; this only puts the first result in the bootstrap log.
    `for i in $(seq 1 60); do if curl -fsS -o /dev/null http://127.0.0.1:${options.port}${options.healthCheckPath}; then echo "rushhour: healthy after $i tries"; break; fi; sleep 2; done`,
    'boot_step done',
  );
  return lines;
}

/** The unit file text from rendered user data (what lands in /etc/systemd/system). */
export function extractUnitFile(lines: readonly string[]): string {
  const start = lines.findIndex((l) =>
    l.startsWith(`cat > /etc/systemd/system/${SERVICE_NAME}.service <<'RUSHHOUR_UNIT'`),
  );
  const end = lines.indexOf('RUSHHOUR_UNIT', start + 1);
  if (start < 0 || end < 0) throw new Error('no systemd unit found in the user data');
  return lines.slice(start + 1, end).join('\n') + '\n';
}

/**
 * What systemd would run: the `Environment=` pairs and the `ExecStart=` words of a unit file from `extractUnitFile`.
 */
export function parseUnitFile(unit: string): { env: Record<string, string>; execStart: string[] } {
  const env: Record<string, string> = {};
  for (const m of unit.matchAll(/^Environment="([^=]+)=(.*)"$/gm)) env[m[1]] = m[2];
  const exec = /^ExecStart=(.*)$/m.exec(unit);
  if (!exec) throw new Error('the unit file has no ExecStart line');
  // The node-single-file unit is plain words; a tarball's `/bin/bash -c "..."` keeps its quoted command as one word.
  const words = exec[1].match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
  const execStart = words.map((w) =>
    w.startsWith('"') ? w.slice(1, -1).replace(/\\(.)/g, '$1').replace(/\$\$/g, '$').replace(/%%/g, '%') : w,
  );
  return { env, execStart };
}

function validate(o: UserDataOptions): void {
  const problems: string[] = [];
  // Deploy-time values (the asset bucket in `s3ObjectUrl`, `Stack.region`) are tokens here; CloudFormation fills them
  // in.
  const known = (v: string) => !Token.isUnresolved(v);
  if (
    known(o.bundleS3Url) &&
    !/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/[A-Za-z0-9!_.*'()/=+-]+$/.test(o.bundleS3Url)
  ) {
    problems.push(`bundleS3Url must look like s3://bucket/key with a plain key, got ${JSON.stringify(o.bundleS3Url)}`);
  }
  if (!/^[0-9a-f]{64}$/.test(o.bundleSha256))
    problems.push('bundleSha256 must be 64 lowercase hex characters (sha256 of the bundle file)');
  if (o.kind !== 'node-single-file' && o.kind !== 'tarball')
    problems.push(`kind must be 'node-single-file' or 'tarball', got ${JSON.stringify(o.kind)}`);
  if (o.kind === 'tarball') {
    if (!o.startCommand || !o.startCommand.trim())
      problems.push("startCommand is required when kind is 'tarball' (e.g. 'node server.js')");
    else if (/[\r\n\0]/.test(o.startCommand)) problems.push('startCommand must be a single line');
  }
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535)
    problems.push(`port must be an integer 1-65535, got ${o.port}`);
  if (!/^\/[A-Za-z0-9_.~/?=&-]*$/.test(o.healthCheckPath))
    problems.push(
      `healthCheckPath must start with / and hold only URL-safe characters, got ${JSON.stringify(o.healthCheckPath)}`,
    );
  if (known(o.ssmPrefix) && (!/^\/[A-Za-z0-9_./-]+$/.test(o.ssmPrefix) || o.ssmPrefix.endsWith('/')))
    problems.push(
      `ssmPrefix must look like /rushhour/<site>/db (no trailing slash), got ${JSON.stringify(o.ssmPrefix)}`,
    );
  if (known(o.region) && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(o.region))
    problems.push(`region must be an AWS region name like eu-west-1, got ${JSON.stringify(o.region)}`);
  if (o.installDir !== undefined && !/^\/[A-Za-z0-9_./-]+$/.test(o.installDir))
    problems.push('installDir must be an absolute path of plain characters');
  if (o.stopTimeoutSeconds !== undefined && (!Number.isInteger(o.stopTimeoutSeconds) || o.stopTimeoutSeconds < 1))
    problems.push('stopTimeoutSeconds must be a positive integer');
  if (problems.length) throw new Error(`renderUserData: ${problems.join('; ')}`);
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Escapes text for a double-quoted systemd ExecStart argument (systemd expands `$` and `%` itself). */
function systemdEscape(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\$/g, '$$$$');
}
