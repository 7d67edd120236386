import { exportEdge } from '../../lambda/export-db/aws';
import {
  ExportEvent,
  ExportResponse,
  ExportSettings,
  handleExport,
  handleVerifyQuery,
} from '../../lambda/export-db/handler';
import type { AwsEdgeConfig } from '../../lambda/import-dump/aws';
import type { VerifyQueryEvent, VerifyQueryResponse } from '../verify/remote';

/** Runs the export function: the deployed Lambda, or the same handler in-process (rehearsal, tests). */
export interface ExportInvoker {
  /** One slice of the export. */
  invoke(event: ExportEvent): Promise<ExportResponse>;
  /** One verify-query (the row-level proof's cloud side, src/verify/remote.ts). */
  verify(event: VerifyQueryEvent): Promise<VerifyQueryResponse>;
}

/** Raised when the deployed export function reports an error (FunctionError). */
export class ExportFunctionError extends Error {
  override readonly name = 'ExportFunctionError';
  constructor(
    readonly functionName: string,
    /** The function's error payload as it answered it. */
    readonly payload: string,
  ) {
    super(`the export function ${functionName} failed: ${payload}`);
  }
}

/** The deployed export function, invoked synchronously (each slice fits its 15-minute timeout). */
export function lambdaInvoker(functionName: string): ExportInvoker {
  const call = async (event: unknown): Promise<unknown> => {
    // Loaded on use: the CLI starts without the SDK clients it does not need.
    const { LambdaClient, InvokeCommand } = await import('@aws-sdk/client-lambda');
    const out = await new LambdaClient({}).send(
      new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(event)) }),
    );
    const body = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '{}';
    if (out.FunctionError) throw new ExportFunctionError(functionName, body);
    return JSON.parse(body);
  };
  return {
    invoke: async (event) => (await call(event)) as ExportResponse,
    verify: async (event) => (await call(event)) as VerifyQueryResponse,
  };
}

/**
 * The export function's handler called in this process, with its settings and AWS endpoint given
 * explicitly (moto in the rehearsal) instead of through the environment.
 */
export function localInvoker(
  settings: ExportSettings,
  aws: AwsEdgeConfig = {},
  log: (m: string) => void = console.log,
): ExportInvoker {
  const edge = exportEdge(aws);
  return {
    invoke: (event) => handleExport(event, settings, edge, {}, log),
    // Through JSON, as the deployed function's event and answer travel.
    verify: async (event) =>
      JSON.parse(
        JSON.stringify(await handleVerifyQuery(JSON.parse(JSON.stringify(event)), settings, edge)),
      ) as VerifyQueryResponse,
  };
}
