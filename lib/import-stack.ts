import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { importConnections, type RushhourConfig } from './config';
import { DumpImport } from './constructs/dump-import';
import type { DataStack } from './data-stack';

export interface ImportStackProps extends StackProps {
  readonly config: RushhourConfig;
  readonly data: DataStack;
}

/**
 * The dump import on its own, deployed after the data stack and before the web stack. An import that
 * fails (a bad statement, a dump too big for one deployment's hour) fails and rolls back only this
 * stack: the database, created and committed by the data stack's own deployment, is never rolled back
 * or left half-deleted, and the progress table inside it lets the next deploy resume. A failed first
 * Create leaves this stack in ROLLBACK_COMPLETE, which `cdk deploy` deletes and creates again.
 */
export class ImportStack extends Stack {
  readonly dumpImport: DumpImport;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: ImportStackProps,
  ) {
    super(scope, id, props);
    const { config, data } = props;
    this.dumpImport = new DumpImport(this, 'DumpImport', {
      vpc: data.network.vpc,
      subnets: data.network.isolatedSubnets,
      dumpPath: config.import.dumpPath,
      masterSecret: data.database.masterSecret,
      appSecret: data.database.appSecret,
      databaseName: config.database.databaseName,
      ssmPrefix: data.ssmPrefix,
      allowReimport: config.import.allowReimport,
      allowStatements: config.import.allowStatements,
      allowIncompleteDump: config.import.allowIncompleteDump,
      connections: importConnections(config),
      // The handler of a php site's shared sessions reads and writes this table; the app user cannot create it.
      sessionsTable: config.web.site?.runtime === 'php' && config.web.site.sessions === 'database',
    });
    // The rule lives here, next to its source: a rule in the data stack would make it depend on this stack.
    new ec2.CfnSecurityGroupIngress(this.dumpImport, 'DatabaseIngress', {
      groupId: data.database.securityGroup.securityGroupId,
      sourceSecurityGroupId: this.dumpImport.securityGroup.securityGroupId,
      ipProtocol: 'tcp',
      fromPort: 3306,
      toPort: 3306,
      description: 'dump import Lambda to MySQL',
    });
    // The rule must exist before the first slice connects; the database and the endpoints come with the data stack.
    this.dumpImport.resource.node.addDependency(this.dumpImport.node.findChild('DatabaseIngress'));
    this.addStackDependency(data, 'the import writes into the database the data stack creates');

    new CfnOutput(this, 'ImportedDumpAssetHash', {
      value: this.dumpImport.resource.getAttString('DumpAssetHash'),
      description: 'The dump the database holds (sha256)',
    });
    new CfnOutput(this, 'ImportedStatements', { value: this.dumpImport.resource.getAttString('Statements') });
    new CfnOutput(this, 'DatabaseEngineVersion', {
      value: this.dumpImport.resource.getAttString('ServerVersion'),
      description: 'MySQL version the database ran at the last import run (RDS picks and upgrades the minor)',
    });
  }

  /** The data stack's zones: no context lookup for a stack with a fixed account. */
  override get availabilityZones(): string[] {
    return this.props.data.availabilityZones;
  }
}
