/**
 * Entry of the import custom resource for the CDK `custom_resources.Provider` framework:
 * `onEvent` validates and sets the wall-clock deadline (on Delete it removes the SSM parameters),
 * `isComplete` imports the dump in time-boxed slices and, at the end, creates the app user and
 * writes the SSM parameters. The logic is in ./handler (plain
 * functions) and src/sql; these wrappers only bind the AWS edge and the Lambda clock.
 */
import { awsEdge } from './aws';
import {
  checkComplete,
  handleEvent,
  IsCompleteResponse,
  OnEventResponse,
  ProviderEvent,
  timeBudgetMs,
} from './handler';

interface LambdaContext {
  getRemainingTimeInMillis?: () => number;
}

export async function onEvent(event: ProviderEvent): Promise<OnEventResponse> {
  // The edge only for Delete (it removes the SSM parameters); Create and Update make no AWS call here.
  return handleEvent(event, { edge: event.RequestType === 'Delete' ? awsEdge() : undefined });
}

export async function isComplete(event: ProviderEvent, context?: LambdaContext): Promise<IsCompleteResponse> {
  return checkComplete(event, { edge: awsEdge(), timeBudgetMs: timeBudgetMs(context?.getRemainingTimeInMillis?.()) });
}
