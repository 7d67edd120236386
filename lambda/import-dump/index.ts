/**
 * Entry of the import custom resource for the CDK `custom_resources.Provider` framework:
 * `onEvent` validates and sets the wall-clock deadline (on Delete it removes the SSM parameters),
 * `isComplete` imports the dump in time-boxed slices and, at the end, creates the app user and
 * writes the SSM parameters. The logic is in ./handler (plain
 * functions) and src/sql; these wrappers only bind the AWS edge and the Lambda clock.
 */
import { IMPORT_DEADLINE_ENV, TIME_BUDGET_ENV } from '../../lib/contracts';
import { awsEdge } from './aws';
import {
  checkComplete,
  deadlineFromEnv,
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
  return handleEvent(event, {
    edge: event.RequestType === 'Delete' ? awsEdge() : undefined,
    deadlineMs: deadlineFromEnv(process.env[IMPORT_DEADLINE_ENV]),
  });
}

export async function isComplete(event: ProviderEvent, context?: LambdaContext): Promise<IsCompleteResponse> {
  // The entry reads the environment (here and in onEvent): region and credentials stay with the SDK's default chain.
  const edge = awsEdge({ forcePathStyle: process.env.AWS_ENDPOINT_URL !== undefined });
  const budget = timeBudgetMs(context?.getRemainingTimeInMillis?.(), process.env[TIME_BUDGET_ENV]);
  return checkComplete(event, { edge, timeBudgetMs: budget });
}
