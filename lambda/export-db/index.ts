/**
 * Entry of the export function (environment: EXPORT_ENV in lib/contracts.ts). The logic is in
 * ./handler (plain functions), src/sql/export.ts and src/verify/remote.ts; this wrapper only binds the
 * settings from the environment, the AWS edge and the Lambda clock.
 */
import type { VerifyQueryEvent, VerifyQueryResponse } from '../../src/verify/remote';
import { exportEdge } from './aws';
import { ExportContext, ExportEvent, ExportResponse, exportSettingsFrom, handleExportFunction } from './handler';

export type { ExportEvent, ExportResponse };

export function handler(event?: ExportEvent, context?: ExportContext): Promise<ExportResponse>;
export function handler(event: VerifyQueryEvent, context?: ExportContext): Promise<VerifyQueryResponse>;
export async function handler(event: unknown = {}, context: ExportContext = {}): Promise<unknown> {
  const edge = exportEdge({ forcePathStyle: process.env.AWS_ENDPOINT_URL !== undefined });
  return handleExportFunction(event, exportSettingsFrom(process.env), edge, context);
}
