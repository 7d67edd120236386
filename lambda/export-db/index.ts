/**
 * Entry of the export function (environment: EXPORT_ENV in lib/contracts.ts). The logic is in
 * ./handler (a plain function) and src/sql/export.ts; this wrapper only binds the settings from the
 * environment, the AWS edge and the Lambda clock.
 */
import { exportEdge } from './aws';
import { ExportContext, ExportEvent, ExportResponse, exportSettingsFrom, handleExport } from './handler';

export type { ExportEvent, ExportResponse };

export async function handler(event: ExportEvent = {}, context: ExportContext = {}): Promise<ExportResponse> {
  const edge = exportEdge({ forcePathStyle: process.env.AWS_ENDPOINT_URL !== undefined });
  return handleExport(event, exportSettingsFrom(process.env), edge, context);
}
