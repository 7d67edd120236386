import { CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * Acknowledges one cdk-nag (3.x) finding on one CloudFormation resource, with the reason written down.
 * Given an L2 construct, the acknowledgement goes on its own resource (`node.defaultChild`), never on
 * the subtree. The id is the full finding id, e.g. "AwsSolutions-IAM5[Resource::<FnArn>:*]".
 */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope.node.defaultChild ?? scope).acknowledge({ id, reason });
}

/** The `<LogicalId.Arn>` form cdk-nag uses for a resource's Arn attribute in finding ids. */
export function arnRef(resource: IConstruct): string {
  const cfn = (resource.node.defaultChild ?? resource) as CfnElement;
  return `<${Stack.of(cfn).getLogicalId(cfn)}.Arn>`;
}
