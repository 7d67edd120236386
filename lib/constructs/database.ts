import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge } from '../nag/acknowledge';

export interface DatabaseProps {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  /** RDS MySQL version: a major ("8.4", RDS picks the current minor) or a full one ("8.4.7"). */
  readonly engineVersion: string;
  /** Let RDS apply new minors in the maintenance window. @default true */
  readonly autoMinorVersionUpgrade?: boolean;
  /** Weekly maintenance window, UTC ("sat:18:00-sat:18:30"). @default - RDS picks one in the region's block */
  readonly preferredMaintenanceWindow?: string;
  /** Instance class without the "db." prefix, e.g. "t4g.medium". */
  readonly instanceClass: string;
  readonly allocatedStorageGiB: number;
  readonly maxAllocatedStorageGiB: number;
  readonly multiAz: boolean;
  readonly deletionProtection: boolean;
  readonly backupRetentionDays: number;
  readonly databaseName: string;
}

/**
 * RDS MySQL, private and encrypted, with a generated master secret and the application's own secret.
 * Reachable only from the peers that `allowFrom` names (the import and export Lambdas) and from the
 * web tier, whose rules live in the web stack so that destroying it leaves nothing behind here.
 */
export class Database extends Construct {
  readonly instance: rds.DatabaseInstance;
  /** The RDS-generated master secret: JSON with host, port, username, password, dbname. */
  readonly masterSecret: secretsmanager.ISecret;
  /** The application's secret: JSON {"username": "rushhour_app", "password": ...}; the import creates that user. */
  readonly appSecret: secretsmanager.Secret;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'RDS MySQL: only the web tier and the import/export Lambdas',
      allowAllOutbound: false,
    });

    const major = props.engineVersion.split('.').slice(0, 2).join('.');
    const engine = rds.DatabaseInstanceEngine.mysql({ version: rds.MysqlEngineVersion.of(props.engineVersion, major) });
    const parameterGroup = new rds.ParameterGroup(this, 'Parameters', {
      engine,
      description: "rushhour: lets the import create the dump's triggers and routines without SUPER",
      parameters: {
        // With backups on, binary logging is on, and RDS's master user (no SUPER) may not create triggers,
        // functions or procedures from a dump unless this is set (MySQL error 1419).
        log_bin_trust_function_creators: '1',
        // The slowquery log export below ships an empty log unless the server writes one; 1 s is slow for
        // a page of the rush (the default 10 s catches nothing worth knowing).
        slow_query_log: '1',
        long_query_time: '1',
      },
    });
    this.instance = new rds.DatabaseInstance(this, 'Instance', {
      engine,
      parameterGroup,
      instanceType: new ec2.InstanceType(props.instanceClass),
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [this.securityGroup],
      credentials: rds.Credentials.fromGeneratedSecret('rushhour_admin'),
      databaseName: props.databaseName,
      allocatedStorage: props.allocatedStorageGiB,
      maxAllocatedStorage: props.maxAllocatedStorageGiB,
      storageType: rds.StorageType.GP3,
      storageEncrypted: true,
      multiAz: props.multiAz,
      deletionProtection: props.deletionProtection,
      backupRetention: Duration.days(props.backupRetentionDays),
      // A destroy always leaves a final snapshot: the week's registrations survive any mistake.
      removalPolicy: RemovalPolicy.SNAPSHOT,
      publiclyAccessible: false,
      autoMinorVersionUpgrade: props.autoMinorVersionUpgrade ?? true,
      preferredMaintenanceWindow: props.preferredMaintenanceWindow,
      cloudwatchLogsExports: ['error', 'slowquery'],
      enablePerformanceInsights: false,
      monitoringInterval: Duration.seconds(60),
    });
    this.masterSecret = this.instance.secret!;
    // Kept with the final snapshot: a snapshot restored after a destroy has this secret's master password.
    (this.instance.node.findChild('Secret') as secretsmanager.Secret).applyRemovalPolicy(RemovalPolicy.RETAIN);

    this.appSecret = new secretsmanager.Secret(this, 'AppSecret', {
      description: 'MySQL user of the rushhour app (created by the import custom resource)',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: 'rushhour_app' }),
        generateStringKey: 'password',
        excludePunctuation: true,
      },
    });

    acknowledge(
      this.instance.node.findChild('Secret'),
      'AwsSolutions-SMG4',
      'The deployment lives for one rush week; rotating the master password mid-week would need a rotation Lambda with DB access and risks the import and export runs. The secret is retained with the final snapshot.',
    );
    acknowledge(
      this.appSecret,
      'AwsSolutions-SMG4',
      'Running app instances cache this password; rotating it during the one-week rush would cut live connections. The stack lives one week.',
    );
    if (!props.multiAz) {
      acknowledge(
        this.instance,
        'AwsSolutions-RDS3',
        "Multi-AZ is off in this deployment's config (database.multiAz) to halve the DB cost for a one-week site; backups and the final snapshot protect the data. Set it to true for a standby.",
      );
    }
    acknowledge(
      this.instance.node.findChild('MonitoringRole'),
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]',
      'The AWS managed policy RDS enhanced monitoring requires; it only publishes OS metrics to CloudWatch Logs.',
    );
    if (!/^\d+\.\d+\.\d+/.test(props.engineVersion)) {
      // A major version alone is what RDS documents for "the current default minor"; the schema's enum
      // lists only full minors (the ones alive when it was generated, which is the problem with pinning).
      const reason =
        'EngineVersion is a major version ("8.4") on purpose: RDS creates the instance at the current default minor, so creation cannot fail on a minor RDS has retired since.';
      acknowledge(this.instance, 'CloudFormation-Validate::E9006', reason);
      (this.instance.node.defaultChild as rds.CfnDBInstance).addMetadata('cfn-lint', {
        config: { ignore_checks: ['E3691'] },
      });
    }
    acknowledge(
      this.instance,
      'AwsSolutions-RDS11',
      'The default MySQL port is kept: the database is in isolated subnets and its security group admits only the web tier and the import/export Lambdas.',
    );
  }

  /** Lets a Lambda or other peer connect to the database. */
  allowFrom(peer: ec2.IConnectable, description: string): void {
    this.instance.connections.allowDefaultPortFrom(peer, description);
  }
}
